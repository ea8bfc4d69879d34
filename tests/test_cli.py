"""``huashu``'s arguments: refused with their name and exit status 2 before anything runs (the
commands themselves run in ``tests/e2e/test_server.py``, ``test_workers.py``, ``check/``)."""

from __future__ import annotations

import pytest

from app.cli import MAX_WORKERS, main


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("0", f"must be from 1 to {MAX_WORKERS}, not 0"),
        ("-1", f"must be from 1 to {MAX_WORKERS}, not -1"),
        (str(MAX_WORKERS + 1), f"must be from 1 to {MAX_WORKERS}, not {MAX_WORKERS + 1}"),
        ("9" * 30, f"must be from 1 to {MAX_WORKERS}, not {'9' * 30}"),
        ("two", "not a whole number: 'two'"),
        ("1.5", "not a whole number: '1.5'"),
        ("", "not a whole number: ''"),
    ],
)
def test_a_bad_worker_count_is_refused_naming_it(
    value: str, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--workers", value])
    assert exited.value.code == 2
    assert f"argument --workers: {why}" in capsys.readouterr().err
