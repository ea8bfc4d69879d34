"""Pieces shared by the REST routers: the JSON response, the auth dependency, app state access."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from starlette.responses import Response

from app.calls.registry import CallService
from app.config import Settings
from app.engine.compiled import CompiledScript
from app.errors import Unauthorized
from app.ops.metrics import Metrics
from app.scripts.loader import Library


class JSON(Response):
    """A JSON response encoded with orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def tenant_of(request: Request) -> str | None:
    """The tenant of the request's API key; None when auth is open. Raises Unauthorized."""
    settings: Settings = request.app.state.settings
    keys = settings.tenants_by_key
    if not keys:
        return None
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or key not in keys:
        raise Unauthorized("an API key is needed: Authorization: Bearer <key>", code="unauthorized")
    return keys[key]


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
Calls = Annotated[CallService, Depends(_calls)]
LibraryDep = Annotated[Library, Depends(_library)]
Scripts = Annotated[dict[str, CompiledScript], Depends(_scripts)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]
