"""``huashu check PATH... [--format F] [--out DIR]``: check recorded calls, print a summary,
write ``calls.csv`` and ``report.html``.

Exit status: 0 when every call was checked, 1 when some could not be (each says why in the
outputs), 2 when nothing could be (no such path, a bad library, a bad option).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.asr import DECODERS, DEFAULT_FORMAT
from app.check.calls import CallResult
from app.check.output import print_summary, write_csv, write_html
from app.check.readers import Options, Unreadable, discover
from app.check.runner import check_all, load_scripts
from app.config import Settings
from app.scripts.loader import ScriptLoadError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="calls to check")
    parser.add_argument(
        "--format",
        default=DEFAULT_FORMAT,
        choices=sorted(DECODERS),
        help="huashu: PROTOCOL's JSON Lines and SereTOD/MobileCS *.json (the default); "
        "an ASR engine: directories of agent.jsonl and customer.jsonl in its messages",
    )
    parser.add_argument("--out", type=Path, help="write calls.csv and report.html here")
    parser.add_argument("--script", default="cmcc-10086", help="for calls that name none")
    parser.add_argument("--scripts-dir", type=Path, help="the script library (HUASHU_SCRIPTS_DIR)")
    parser.add_argument("--workers", type=int, help="processes (default: one per core)")
    parser.add_argument("--title", default="Call check", help="the report's title")


def run(args: argparse.Namespace) -> int:
    console = Console()
    errors = Console(stderr=True)
    settings = Settings()
    options = Options(
        format=args.format,
        script=args.script,
        timezone=settings.timezone,
        max_text_chars=settings.max_text_chars,
    )
    if args.workers is not None and args.workers < 1:
        errors.print("huashu check: --workers must be 1 or more")
        return 2
    try:
        sources = discover(args.paths, args.format)
        scripts = load_scripts(args.scripts_dir or settings.scripts_dir)
    except (Unreadable, ScriptLoadError) as exc:
        errors.print(f"huashu check: {exc}", markup=False, highlight=False)
        return 2
    if args.script not in scripts:
        errors.print(f"huashu check: unknown script {args.script!r}; known: {', '.join(scripts)}")
        return 2
    results: list[CallResult] = []
    started = time.perf_counter()
    with Progress(
        TextColumn("checking"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
    ) as progress:
        task = progress.add_task("calls", total=len(sources))
        for done, part in check_all(sources, options, args.workers):
            results.extend(part)
            progress.advance(task, done)
    took = time.perf_counter() - started
    results.sort(key=lambda r: (r.source, r.name))
    print_summary(results, console, args.out)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        write_csv(results, args.out / "calls.csv")
        generated = time.strftime("%Y-%m-%d %H:%M %z")
        write_html(results, args.out / "report.html", args.title, generated)
    errors.print(f"{len(results)} calls in {took:.2f} s", highlight=False)
    if not any(r.error is None for r in results):
        return 2
    return 1 if any(r.error is not None for r in results) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="huashu check")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
