"""The ``huashu`` command: ``serve``, ``check``, ``check-scripts``, ``lexicon check``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def _ws_impl() -> Any:
    """uvicorn's sansio WebSocket protocol with the handshake fix (``app.ops.websocket``), or
    its older one where that is missing."""
    try:
        from app.ops.websocket import HuashuWebSocketProtocol
    except ImportError:
        return "websockets"
    return HuashuWebSocketProtocol


#: ``--workers`` beyond this is refused: more processes than a machine has cores only add memory
#: (each holds the library and its phrase indexes) and context switches.
MAX_WORKERS = 64


def serve(args: argparse.Namespace) -> int:
    import uvicorn
    from pydantic import ValidationError

    from app.config import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"huashu serve: bad setting (HUASHU_*): {exc}", file=sys.stderr)
        return 2
    from app.ops.guard import is_loopback
    from app.ops.http import protocol_with_header_timeout
    from app.ops.logs import log_config

    host = args.host or settings.host
    if not settings.api_keys and not settings.insecure and not is_loopback(host):
        print(
            f"huashu serve: refusing to serve {host} with no API keys: anyone who can reach it "
            "could read customers' calls. Set HUASHU_API_KEYS (tenant:key,...), or serve "
            "127.0.0.1, or set HUASHU_INSECURE=1 to serve it open anyway.",
            file=sys.stderr,
        )
        return 2
    if args.workers > 1 and (settings.redis_url is None or settings.store != "database"):
        print(
            f"huashu serve: --workers {args.workers} needs HUASHU_REDIS_URL and "
            "HUASHU_STORE=database: the in-process bus and memory store cannot be shared "
            "between worker processes.",
            file=sys.stderr,
        )
        return 2
    if not settings.api_keys:
        print(
            "huashu serve: WARNING: no API keys (HUASHU_API_KEYS): the service is open to this "
            "machine's users and answers loopback clients only.",
            file=sys.stderr,
        )
    # One process: the app is built from these settings, so the ones checked here are the ones
    # it uses. Several: each worker is a process of its own that imports ``app.main:app``, built
    # from the same environment (checked here first).
    app: Any = "app.main:app"
    if args.workers == 1:
        from app.main import create_app

        app = create_app(settings)
    uvicorn.run(
        app,
        host=host,
        port=args.port or settings.port,
        workers=args.workers,
        loop="uvloop",
        http=protocol_with_header_timeout(settings.header_timeout_s),
        timeout_keep_alive=settings.keep_alive_timeout_s,
        ws=_ws_impl(),
        ws_max_size=max(settings.max_frame_bytes, settings.max_message_bytes),
        ws_per_message_deflate=False,
        log_level=settings.log_level,
        log_config=log_config(settings.log_level),
        access_log=settings.access_log,
        timeout_graceful_shutdown=settings.shutdown_timeout_s,
    )
    return 0


def _workers(value: str) -> int:
    """``--workers``: a whole number from 1 to :data:`MAX_WORKERS`."""
    try:
        workers = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if not 1 <= workers <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_WORKERS}, not {workers}")
    return workers


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


def check(args: argparse.Namespace) -> int:
    from app.check.command import run

    return run(args)


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
    p.add_argument(
        "--workers",
        type=_workers,
        default=1,
        help="worker processes (default 1; more need HUASHU_REDIS_URL and a database store)",
    )
    p.set_defaults(run=serve)
    p = sub.add_parser(
        "check",
        help="check recorded calls offline: summary, calls.csv and report.html",
        description="Run recorded calls through the engine without a server.",
    )
    from app.check.command import add_arguments

    add_arguments(p)
    p.set_defaults(run=check)
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
