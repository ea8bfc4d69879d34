"""Pieces shared by the REST routers: the JSON response, the auth dependency, app state access."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from starlette.responses import JSONResponse

from app.calls.registry import CallRecord, CallService
from app.config import Settings
from app.engine.compiled import CompiledScript
from app.errors import Forbidden, Unauthorized
from app.ops.metrics import Metrics
from app.scripts.loader import Library


class JSON(JSONResponse):
    """A JSON response encoded with orjson. A JSONResponse, so the OpenAPI document takes each
    route's ``responses`` model as its schema rather than a bare string."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _bearer(request: Request) -> str | None:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return key.strip() or None


def tenant_of(request: Request) -> str | None:
    """The tenant of the request's API key; None when auth is open. Raises Unauthorized."""
    settings: Settings = request.app.state.settings
    keys = settings.tenants_by_key
    if not keys:
        return None
    key = _bearer(request)
    if key is None or key not in keys:
        raise Unauthorized("an API key is needed: Authorization: Bearer <key>", code="unauthorized")
    return keys[key]


async def call_of(call_id: str, request: Request) -> CallRecord:
    """The call of a ``/v1/calls/{call_id}/…`` request, for a tenant API key or that call's own
    token (PROTOCOL: everything but /healthz needs a key or a call token). Raises Unauthorized,
    Forbidden (a token of another call) or NotFound (also for another tenant's call)."""
    settings: Settings = request.app.state.settings
    calls: CallService = request.app.state.calls
    keys = settings.tenants_by_key
    if not keys:
        return await calls.get(call_id, None)
    key = _bearer(request)
    if key is not None and key in keys:
        return await calls.get(call_id, keys[key])
    owner = await calls.store.by_token(key) if key is not None else None
    if owner is None:
        raise Unauthorized(
            "an API key or the call's token is needed: Authorization: Bearer <key>",
            code="unauthorized",
        )
    if owner.call_id != call_id:
        raise Forbidden("this token is for another call", code="forbidden")
    return owner


def _calls(request: Request) -> CallService:
    service: CallService = request.app.state.calls
    return service


def _library(request: Request) -> Library:
    library: Library = request.app.state.library
    return library


def _scripts(request: Request) -> dict[str, CompiledScript]:
    scripts: dict[str, CompiledScript] = request.app.state.scripts
    return scripts


def _metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


Tenant = Annotated[str | None, Depends(tenant_of)]
Call = Annotated[CallRecord, Depends(call_of)]
Calls = Annotated[CallService, Depends(_calls)]
LibraryDep = Annotated[Library, Depends(_library)]
Scripts = Annotated[dict[str, CompiledScript], Depends(_scripts)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]
