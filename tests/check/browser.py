"""The HTML report in a real browser: Debian's Chromium driven by Playwright (Playwright's own
browser download is not used). ``python -m tests.check.browser`` remakes docs/report.png from
the bundled sample calls and the real SereTOD calls (``make report-png``)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Visit:
    """What the browser saw of a page: console messages and page errors, the requests it made,
    and the size of each chart."""

    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    charts: list[tuple[float, float]] = field(default_factory=list)
    title: str = ""


def visit(page_path: Path, screenshot: Path | None = None, *, full_page: bool = False) -> Visit:
    """Open ``page_path`` in headless Chromium; take a screenshot if asked."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise FileNotFoundError(
            f"{CHROMIUM}: Debian's chromium is needed (apt-get install chromium; .ci/run does)"
        )
    seen = Visit()
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox will not start.
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: seen.console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: seen.console.append(f"pageerror: {e}"))
            page.on("request", lambda r: seen.requests.append(r.url))
            page.goto(page_path.resolve().as_uri(), wait_until="load")
            seen.title = page.title()
            for chart in page.locator(".chart svg").all():
                box = chart.bounding_box()
                seen.charts.append((box["width"], box["height"]) if box else (0.0, 0.0))
            if screenshot is not None:
                page.screenshot(path=str(screenshot), full_page=full_page)
        finally:
            browser.close()
    return seen


def main() -> int:
    """Remake docs/report.png."""
    from app.check.output import write_html
    from app.check.readers import Options, discover
    from app.check.runner import check_all, load_scripts

    load_scripts(ROOT / "scripts_data")
    real = ROOT.parent / "shared" / "data" / "real" / "SereTOD2022"
    paths = [ROOT / "tests" / "data" / "calls", real]
    results = [r for _, part in check_all(discover(paths), Options(), 1) for r in part]
    out = ROOT / "build" / "report"
    out.mkdir(parents=True, exist_ok=True)
    generated = time.strftime("%Y-%m-%d %H:%M %z")
    write_html(results, out / "report.html", "Sample calls and SereTOD 10086 calls", generated)
    seen = visit(out / "report.html", ROOT / "docs" / "report.png")
    print(f"docs/report.png from {out / 'report.html'}; console: {seen.console or 'clean'}")
    return 1 if seen.console else 0


if __name__ == "__main__":
    sys.exit(main())
