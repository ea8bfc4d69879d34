"""The ``huashu`` command: ``serve``, ``check-scripts``, ``lexicon check``."""

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
    from app.main import create_app

    # The app is built from these settings: the ones checked here are the ones it uses.
    uvicorn.run(
        create_app(settings),
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


def lexicon_check(args: argparse.Namespace) -> int:
    from app.config import Settings
    from app.lexicon_check import MAX_RATE, run

    return run(
        Path(args.file),
        args.script,
        Path(args.scripts) if args.scripts else Settings().scripts_dir,
        [Path(p) for p in args.compliant],
        Path(args.real) if args.real else None,
        MAX_RATE if args.max_rate is None else args.max_rate,
        args.show,
        sys.stdout,
        sys.stderr,
    )


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
    p = sub.add_parser("lexicon", help="tools for lexicon authors")
    lexicon = p.add_subparsers(dest="lexicon_command", required=True)
    p = lexicon.add_parser(
        "check",
        help="what each entry fires on in compliant text, and its recall on generated forms",
        description="Exit status 1 when an entry fires on compliant speech above --max-rate.",
    )
    p.add_argument("file", help="the lexicon's YAML file")
    p.add_argument("--script", default="cmcc-10086", help="the library script to compile with")
    p.add_argument("--scripts", help="the script library (default: HUASHU_SCRIPTS_DIR's)")
    p.add_argument(
        "--compliant",
        action="append",
        default=[],
        help="compliant agent utterances, one a line (repeat for several; default: the "
        "project's corpus beside the repository)",
    )
    p.add_argument("--real", help="real call-centre text (default: ../shared/data/real)")
    p.add_argument("--max-rate", type=float, help="share of a source's utterances (0.002)")
    p.add_argument("--show", type=int, default=10, help="sentences to list per entry and source")
    p.set_defaults(run=lexicon_check)
    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
