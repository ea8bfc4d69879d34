"""The resources the lifespan builds once, and the typed dependencies that hand them out.

``app.main``'s lifespan builds a :class:`State` and yields it as the lifespan state
(``{"huashu": state}``): Starlette hands it to every request as ``request.state.huashu`` and to
the call stream as ``scope["state"]["huashu"]``. Routes take what they need through the
``Annotated`` aliases below, never from a global.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request

from app.auth import Identity, Principal, bearer
from app.bus import Bus
from app.calls.repository import CallRecord, CallRepository
from app.calls.schemas import Limits
from app.calls.service import CallService
from app.config import Settings
from app.errors import NotFound
from app.ops.metrics import Metrics
from app.ops.quotas import Quotas
from app.scripts.loader import Library
from app.scripts.service import ScriptLibrary

if TYPE_CHECKING:
    from app.calls.connection import Connection

#: The key of the lifespan state that holds the :class:`State`.
STATE_KEY = "huashu"


@dataclass(slots=True, eq=False)
class State:
    settings: Settings
    #: The library as read from ``HUASHU_SCRIPTS_DIR`` (seeds the shared library).
    files: Library
    #: The script library: shared and tenants' own scripts and lexicons, every version.
    library: ScriptLibrary
    metrics: Metrics
    repository: CallRepository
    bus: Bus
    identity: Identity
    calls: CallService
    #: The ranges of times and offsets inputs must keep to.
    limits: Limits
    #: The per-tenant bounds: connections, live calls, messages a second.
    quotas: Quotas
    #: The open call stream connections (closed with 1012 when the instance goes away).
    connections: set[Connection] = field(default_factory=set)
    #: False until start-up is done and again while shutting down (``/readyz``).
    ready: bool = False


def state_of(scope_state: dict[str, Any]) -> State:
    state: State = scope_state[STATE_KEY]
    return state


def _state(request: Request) -> State:
    state: State = getattr(request.state, STATE_KEY)
    return state


AppState = Annotated[State, Depends(_state)]


async def _key_principal(request: Request, state: AppState) -> Principal:
    """A tenant's API key (not a call token): the script library, listing and creating calls,
    ops endpoints."""
    credential = bearer(request.headers.get("authorization", ""))
    return await state.identity.authenticate(credential, call_tokens=False)


async def _call_of(call_id: str, request: Request, state: AppState) -> CallRecord:
    """The call of a ``/v1/calls/{call_id}/…`` request, for a tenant API key or that call's own
    token (PROTOCOL: everything but /healthz needs a key or a call token)."""
    credential = bearer(request.headers.get("authorization", ""))
    principal = await state.identity.authenticate(credential, call_tokens=True)
    record = await state.calls.find(state.identity.call_key(principal, call_id))
    if record is None:
        raise NotFound(f"no call {call_id!r}", code="unknown_call")
    return record


def _settings(state: AppState) -> Settings:
    return state.settings


def _calls(state: AppState) -> CallService:
    return state.calls


def _library(state: AppState) -> ScriptLibrary:
    return state.library


def _metrics(state: AppState) -> Metrics:
    return state.metrics


def _limits(state: AppState) -> Limits:
    return state.limits


def _quotas(state: AppState) -> Quotas:
    return state.quotas


#: Who asks, by API key: ``tenant`` None when the service is open.
KeyPrincipal = Annotated[Principal, Depends(_key_principal)]
Call = Annotated[CallRecord, Depends(_call_of)]
SettingsDep = Annotated[Settings, Depends(_settings)]
Calls = Annotated[CallService, Depends(_calls)]
LibraryDep = Annotated[ScriptLibrary, Depends(_library)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]
LimitsDep = Annotated[Limits, Depends(_limits)]
QuotasDep = Annotated[Quotas, Depends(_quotas)]
