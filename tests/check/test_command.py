"""``huashu check`` end to end (app/check/command.py, app/cli.py): the bundled sample calls, an
engine's recorded output and the real SereTOD calls — the table, the CSV, the page — and the
exit status for what cannot be checked."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from app.cli import main
from tests.check.conftest import CALLS, ENGINE_CALLS


def rows(out: Path) -> list[dict[str, str]]:
    return list(csv.DictReader((out / "calls.csv").read_text(encoding="utf-8").splitlines()))


def test_the_sample_calls(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(CALLS), "--out", str(tmp_path), "--workers", "2"]) == 0
    printed = capsys.readouterr().out
    assert "huashu check" in printed and "findings by rule" in printed
    assert "forbidden.shirk" in printed and "a1001-consult-shirk" in printed
    assert "not judged" in printed  # the untimed call
    calls = {r["call"] for r in rows(tmp_path)}
    assert calls == {p.stem for p in CALLS.glob("*.jsonl")}
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "a1001-consult-good" in page and "<svg" in page


def test_an_engines_recorded_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "--format", "vosk", str(ENGINE_CALLS / "vosk"), "--out", str(tmp_path)])
    assert code == 0
    shirk = [r for r in rows(tmp_path) if r["rule"] == "forbidden.shirk"]
    assert [(r["call"], r["speaker"], r["text"]) for r in shirk] == [
        ("vosk-call-1", "agent", "这个真不关我的事")  # the words the alert was raised on
    ]


def test_the_real_seretod_calls(
    tmp_path: Path, seretod: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(seretod), "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "not judged greeting.wrong_time: 20 calls" in " ".join(printed.split())
    found = rows(tmp_path)
    assert len({r["call"] for r in found}) == 22
    judged = [r for r in found if r["score"]]
    assert judged and all("greeting.late" in r["not_judged"] for r in judged)
    assert all(r["rule"] not in ("greeting.late", "behaviour.slow_answer") for r in found)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "nothing to judge" in page and "made up at 5 characters a second" in page


@pytest.mark.parametrize(
    ("argv", "code", "says"),
    [
        (["check", "/nonexistent"], 2, "no such file"),
        (["check", str(CALLS), "--script", "nope"], 2, "unknown script"),
        (["check", str(CALLS), "--workers", "0"], 2, "--workers"),
        (["check", str(CALLS), "--scripts-dir", "/nonexistent"], 2, ""),
    ],
)
def test_nothing_checked_is_status_2(
    argv: list[str], code: int, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == code
    assert says in capsys.readouterr().err


def test_an_unknown_format_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["check", "--format", "whisper", str(CALLS)])
    assert exit_.value.code == 2 and "whisper" in capsys.readouterr().err


def test_an_input_that_cannot_be_read_is_status_1_and_the_rest_is_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "broken.json").write_text("{")
    good = CALLS / "a1001-consult-good.jsonl"
    (tmp_path / "in" / good.name).write_text(good.read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["check", str(tmp_path / "in"), "--out", str(tmp_path / "out")]) == 1
    found = rows(tmp_path / "out")
    errors = {r["call"]: r["error"] for r in found}
    assert "not JSON" in errors["broken"] and errors["a1001-consult-good"] == ""
