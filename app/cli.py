"""The ``huashu`` command: ``serve``, ``check-scripts``, ``evaluate``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _ws_impl() -> str:
    try:
        import uvicorn.protocols.websockets.websockets_sansio_impl  # noqa: F401
    except ImportError:
        return "websockets"
    return "websockets-sansio"


def serve(args: argparse.Namespace) -> int:
    import uvicorn
    from pydantic import ValidationError

    from app.config import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"huashu serve: bad setting (HUASHU_*): {exc}", file=sys.stderr)
        return 2
    uvicorn.run(
        "app.main:app",
        host=args.host or settings.host,
        port=args.port or settings.port,
        loop="uvloop",
        http="httptools",
        ws=_ws_impl(),
        ws_max_size=settings.max_message_bytes * 4,
        ws_per_message_deflate=False,
        log_level=settings.log_level,
        access_log=settings.access_log,
    )
    return 0


def check_scripts(args: argparse.Namespace) -> int:
    from app.config import Settings
    from app.scripts.loader import ScriptLoadError, load_library

    root = Path(args.dir) if args.dir else Settings().scripts_dir
    try:
        library = load_library(root)
    except ScriptLoadError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"ok: {len(library.scripts)} scripts, {len(library.lexicons)} lexicons in {root}")
    return 0


def evaluate(args: argparse.Namespace) -> int:
    from app.config import Settings
    from app.engine.compiled import CompiledScript
    from app.evaluation import REAL, evaluate_corpus, evaluate_real, report
    from app.scripts.loader import load_library

    library = load_library(Settings().scripts_dir)
    script = library.scripts[args.script]
    compiled = CompiledScript(script, library.lexicon_for(script))
    figures = evaluate_corpus(compiled)
    real = Path(args.real) if args.real else REAL
    if real.is_dir():
        evaluate_real(compiled, real, figures)
    else:
        print(f"(no real data at {real}: real-text figures left out)", file=sys.stderr)
    print(report(figures, show=args.show))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="huashu", description="Huashu call-script assistant")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="run the service (uvicorn, uvloop, httptools)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(run=serve)
    p = sub.add_parser("check-scripts", help="validate a script directory")
    p.add_argument("dir", nargs="?")
    p.set_defaults(run=check_scripts)
    p = sub.add_parser("evaluate", help="recall and false alarms on the corpus and real text")
    p.add_argument("--script", default="cmcc-10086")
    p.add_argument("--real", help="folder of real text (default ../shared/data/real)")
    p.add_argument("--show", type=int, default=40, help="utterances to list per section")
    p.set_defaults(run=evaluate)
    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
