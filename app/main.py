"""The app factory, and ``app`` for ``uvicorn app.main:app`` (built from the environment).

The lifespan owns the resources — the script library (loaded, validated and compiled once), the
call repository, the bus, identity, the metrics — and hands them to requests as a typed
:class:`app.deps.State`. A bad script file stops start-up with ``file: field: reason``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from app import __version__
from app.auth import Identity
from app.bus import make_bus
from app.bus.memory import MemoryBus
from app.calls import router as calls_router
from app.calls import stream
from app.calls.ownership import make_ownership
from app.calls.repository import make_repository
from app.calls.retention import keep_purging
from app.calls.schemas import Limits, describe
from app.calls.service import CallService
from app.calls.socket import CLOSE_RESTART
from app.config import Settings
from app.deps import STATE_KEY, State, state_of
from app.engine import normalize, phonetic, prompts
from app.engine import tables as table_cache
from app.engine.outbox import FragmentBounds, Windows
from app.errors import HuashuError
from app.http import JSON
from app.ops import router as ops_router
from app.ops.guard import Guard
from app.ops.metrics import Metrics
from app.ops.quotas import Quotas
from app.scripts import router as scripts_router
from app.scripts.loader import ScriptLoadError, load_library
from app.scripts.repository import DocumentRepository, MemoryDocumentRepository
from app.scripts.service import ScriptLibrary
from app.store.documents import SqlDocumentRepository
from app.store.repository import SqlCallRepository
from app.store.startup import startup_lock

log = logging.getLogger(__name__)

#: Error codes for the refusals Starlette makes before a route runs.
HTTP_ERROR_CODES = {
    400: "invalid_message",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}

#: The collector's middle and old thresholds while serving (CPython's: 10, 10; the young one is
#: ``Settings.gc_young_threshold``). A full collection walks every live call's objects; asking
#: for ten times as many middle collections before one makes those pauses ten times rarer.
GC_OLDER_THRESHOLDS = (10, 100)


class Huashu(FastAPI):
    """FastAPI, with the call stream WebSocket served straight from the ASGI entry: a stream
    connection lives for the whole call and carries every fragment, and FastAPI's middleware
    and routing add only coroutines, wrappers and memory to it (see ``app.calls.stream``)."""

    #: Set by :func:`create_app` (``app.ops.guard``).
    guard: Guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        admitted = await self.guard.admit(scope, receive, send)
        if admitted is None:
            return
        receive = admitted
        if scope["type"] == "websocket":
            path = scope["path"]
            root = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :]
            match = stream.STREAM_PATH.fullmatch(path)
            if match is not None:
                scope["app"] = self
                await stream.serve(state_of(scope["state"]), scope, receive, send, match[1])
                return
        await super().__call__(scope, receive, send)


async def keep_sweeping(calls: CallService, settings: Settings) -> None:
    """Cut off idle calls (``CallService.sweep``), checking a few times per timeout."""
    limits = [s for s in (settings.idle_call_timeout_s, settings.reconnect_timeout_s) if s]
    if not limits:
        return
    every = min(max(min(limits) / 4, 0.5), 60.0)
    while True:
        await asyncio.sleep(every)
        try:
            calls.sweep(
                int(time.time() * 1000),
                settings.idle_call_timeout_s,
                settings.reconnect_timeout_s,
            )
        except Exception:  # noqa: BLE001 - the next round tries again
            log.exception("cutting off idle calls failed")


async def keep_adopting(calls: CallService, settings: Settings) -> None:
    """With several instances: take over the calls in progress that no instance holds (their
    instance died and no client came back to another), so that they are cut off in time, not
    left in the store for ever."""
    every = max(settings.lease_ttl_s * 2, 5.0)
    while True:
        await asyncio.sleep(every)
        try:
            adopted = await calls.recover()
        except Exception:  # noqa: BLE001 - the next round tries again
            log.exception("taking over orphaned calls failed")
            continue
        if adopted:
            log.info("%d calls whose instance is gone taken over", adopted)


def build_state(settings: Settings) -> State:
    """Every resource the service needs, built once. Raises :class:`ScriptLoadError` for a bad
    script library and ValueError for settings that ask for a backend that does not exist."""
    files = load_library(settings.scripts_dir)
    metrics = Metrics()
    bus = make_bus(settings)
    repository = make_repository(settings, bus if isinstance(bus, MemoryBus) else None)
    documents: DocumentRepository = (
        SqlDocumentRepository(repository.engine)
        if isinstance(repository, SqlCallRepository)
        else MemoryDocumentRepository()
    )
    library = ScriptLibrary(documents)
    ownership = make_ownership(settings)
    quotas = Quotas(
        settings.max_connections_per_tenant,
        settings.max_live_calls_per_tenant,
        settings.max_messages_per_s_per_tenant,
        settings.max_library_writes_per_min_per_tenant,
    )
    return State(
        settings=settings,
        files=files,
        library=library,
        metrics=metrics,
        repository=repository,
        bus=bus,
        identity=Identity(settings.tenants_by_key, repository),
        calls=CallService(
            library,
            repository,
            bus,
            metrics,
            settings.timezone,
            bounds=FragmentBounds(
                settings.alert_context_chars,
                settings.max_alerts_per_fragment,
                settings.intent_max_chars,
            ),
            windows=Windows(settings.transcript_window, settings.alert_window),
            quotas=quotas,
            ownership=ownership,
            claim_wait_s=settings.lease_ttl_s * 2,
        ),
        limits=Limits(settings.max_call_hours, settings.time_window_days),
        quotas=quotas,
    )


def _methods_on(app: FastAPI, path: str) -> list[str]:
    """Every method the app's routes serve on ``path``."""
    methods: set[str] = set()
    for route in app.routes:
        if isinstance(route, APIRoute) and route.path_regex.fullmatch(path):
            methods |= route.methods or set()
    return sorted(methods)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        # Before anything normalizes a text (loading the library does): the tables it builds
        # come from the cache after the first start.
        table_cache.use_directory(settings.cache_dir)
        try:
            state = build_state(settings)
        except (ScriptLoadError, ValueError) as exc:
            print(f"huashu: cannot start:\n{exc}", file=sys.stderr, flush=True)
            raise
        store = state.repository
        try:
            # Several processes may start at once on one database: they migrate and seed in turn.
            async with startup_lock(store.engine if isinstance(store, SqlCallRepository) else None):
                await store.start()
                seeded = await state.library.seed(state.files)
        except Exception as exc:
            print(f"huashu: cannot open the store: {exc}", file=sys.stderr, flush=True)
            raise
        if seeded:
            log.info("%d scripts and lexicons from %s stored", seeded, settings.scripts_dir)
        calls = state.calls
        calls.ownership.start(calls.hand_off, calls.lost)
        recovered = await calls.recover()
        if recovered:
            log.info("%d calls in progress rebuilt from the store", recovered)
        # Dictionaries and tables load now (from the table cache after the first start), not
        # on the first call's first fragment; the compilations below need them too.
        normalize.warm_up()
        phonetic.warm_up()
        prompts.warm_up()
        # The shared scripts compile now (a third of a second each, in a worker thread), not
        # at the first call on each after a start; their automata are then frozen below with
        # the rest of what lives as long as the process.
        started = time.perf_counter()
        warmed = await state.library.warm()
        log.info("%d scripts compiled in %.1f s", warmed, time.perf_counter() - started)
        # The library, dictionaries and tables live as long as the process: out of the
        # collector's way, so that a full collection walks only what calls made.
        gc.collect()
        gc.freeze()
        gc.set_threshold(settings.gc_young_threshold, *GC_OLDER_THRESHOLDS)
        gc.callbacks.append(state.metrics.gc_phase)
        purging = (
            asyncio.get_running_loop().create_task(
                keep_purging(state.repository, settings.retention_days), name="huashu-retention"
            )
            if settings.retention_days
            else None
        )
        sweeping = asyncio.get_running_loop().create_task(
            keep_sweeping(state.calls, settings), name="huashu-idle-calls"
        )
        adopting = (
            asyncio.get_running_loop().create_task(
                keep_adopting(state.calls, settings), name="huashu-orphans"
            )
            if calls.ownership.shared
            else None
        )
        state.ready = True
        try:
            yield {STATE_KEY: state}
        finally:
            state.ready = False
            sweeping.cancel()
            if adopting is not None:
                adopting.cancel()
            if purging is not None:
                purging.cancel()
            gc.callbacks.remove(state.metrics.gc_phase)
            for connection in list(state.connections):
                await connection.close()
                try:
                    await connection.websocket.close(CLOSE_RESTART, "server going away")
                except Exception:  # noqa: BLE001 - the peer may be gone already
                    pass
            # With several instances each call is handed off (inputs durable, events on the
            # bus, lease released): the clients just closed with 1012 resume elsewhere.
            handed = await calls.hand_off_all()
            if handed:
                log.info("%d calls handed off", handed)
            await calls.close()
            await state.bus.close()
            await calls.ownership.close()
            await state.repository.close()

    app = Huashu(
        title="Huashu", version=__version__, lifespan=lifespan, default_response_class=JSON
    )
    app.guard = Guard(settings)
    app.include_router(ops_router.router)
    app.include_router(calls_router.router)
    app.include_router(scripts_router.router)
    app.include_router(scripts_router.lexicons)

    @app.exception_handler(HuashuError)
    async def domain_error(request: Request, exc: HuashuError) -> JSON:
        return JSON({"error": exc.code, "detail": exc.detail}, status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSON:
        # Starlette's own refusals (no such route, wrong method, a body that is not UTF-8) in
        # the same shape as every other error.
        code = HTTP_ERROR_CODES.get(exc.status_code, "bad_request")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names the methods of the first route on the path only; a path that
            # several routes serve (GET and POST /v1/calls) allows all of theirs.
            headers["Allow"] = ", ".join(_methods_on(app, request.url.path))
        return JSON(
            {"error": code, "detail": str(exc.detail)},
            status_code=exc.status_code,
            headers=headers or None,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSON:
        errors: list[Any] = list(exc.errors())
        return JSON({"error": "invalid_message", "detail": describe(errors)}, status_code=422)

    return app


app = create_app()
