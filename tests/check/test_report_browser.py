"""The HTML report opens in headless Chromium with no console error and fetches nothing
(Debian's chromium through Playwright; this fails, not skips, without it: .ci/run installs it)."""

from __future__ import annotations

from pathlib import Path

from app.check.output import write_html
from app.check.readers import Options, discover
from app.check.runner import check_all
from app.engine.compiled import CompiledScript
from tests.check.browser import visit
from tests.check.conftest import CALLS


def test_the_report_opens_with_no_console_error_and_fetches_nothing(
    tmp_path: Path, scripts: dict[str, CompiledScript], seretod: Path
) -> None:
    results = [r for _, part in check_all(discover([CALLS, seretod]), Options(), 1) for r in part]
    page = tmp_path / "report.html"
    write_html(results, page, "Browser check <b>title</b>", "now")
    seen = visit(page, tmp_path / "report.png")
    assert seen.console == []
    assert seen.requests == [page.resolve().as_uri()]
    assert seen.title == "Browser check <b>title</b>"  # text, as written: escaped in the page
    assert len(seen.charts) == 2 and all(w > 100 and h > 30 for w, h in seen.charts)
    assert (tmp_path / "report.png").stat().st_size > 10_000
