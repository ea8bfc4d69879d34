"""REST endpoints of calls: create, live state, events, fragments, report, list."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BeforeValidator

from app.calls.repository import CallQuery, Position
from app.calls.runner import wall_ms
from app.calls.schemas import CreateCall, EventBody, FragmentBody, epoch_ms, limit_text
from app.deps import Call, Calls, KeyPrincipal, LimitsDep, MetricsDep, SettingsDep
from app.engine.messages import Input
from app.engine.phases import CallType
from app.errors import InvalidMessage, StoreBehind
from app.http import JSON
from app.ops.quotas import RATE_LIMITED, TooMany
from app.responses import CallCreated, CallList, CallState, Events, Report, errors

router = APIRouter(prefix="/v1/calls", tags=["calls"], responses=errors(400, 401, 422))
#: The errors of a route under /v1/calls/{call_id}: a token of another call, no such call.
CALL_ERRORS = errors(403, 404)


@router.post(
    "", status_code=201, responses={201: {"model": CallCreated}, **errors(404, 409, 429, 503)}
)
async def create_call(
    body: CreateCall, principal: KeyPrincipal, calls: Calls, limits: LimitsDep, request: Request
) -> JSON:
    limits.instant("ring_at", body.ring_at, wall_ms())
    if calls.repository.behind:
        raise StoreBehind()
    record = await calls.create(body, body.call_id, principal.tenant)
    await calls.repository.durable()  # a 201 acknowledges the call: its row is committed
    base = str(request.base_url).replace("http", "ws", 1).rstrip("/")
    return JSON(
        {
            "call_id": record.call_id,
            "token": record.token,
            "stream_url": f"{base}/v1/calls/{record.call_id}/stream?token={record.token}",
        },
        status_code=201,
    )


@router.get("/{call_id}", responses={200: {"model": CallState}, **CALL_ERRORS})
async def get_call(call: Call, calls: Calls) -> JSON:
    return JSON(await calls.snapshot(call))


async def _submit(calls: Calls, call: Call, item: Input) -> JSON:
    # The same bucket as the stream's messages: a client cannot go round it over REST.
    if calls.quotas is not None and not calls.quotas.message(call.tenant):
        raise TooMany(RATE_LIMITED, code="rate_limited")
    if calls.repository.behind:
        raise StoreBehind()
    events = await calls.submit(call, item)
    return JSON({"events": [e.to_wire() for e in events]})


@router.post(
    "/{call_id}/events",
    responses={200: {"model": Events}, **CALL_ERRORS, **errors(409, 429, 503)},
)
async def post_event(
    call: Call, body: EventBody, calls: Calls, metrics: MetricsDep, limits: LimitsDep
) -> JSON:
    limits.instant("at", body.at, wall_ms())
    metrics.message("event")
    return await _submit(calls, call, body.to_input())


@router.post(
    "/{call_id}/fragments",
    responses={200: {"model": Events}, **CALL_ERRORS, **errors(409, 413, 429, 503)},
)
async def post_fragment(
    call: Call,
    body: FragmentBody,
    calls: Calls,
    metrics: MetricsDep,
    settings: SettingsDep,
    limits: LimitsDep,
) -> JSON:
    limit_text(body, settings.max_text_chars)
    limits.fragment("", body.start_ms, body.end_ms)
    metrics.message("fragment")
    response = await _submit(calls, call, body.to_input())
    metrics.fragment_counter(call.script_id, "rest").inc()
    return response


@router.get("/{call_id}/report", responses={200: {"model": Report}, **CALL_ERRORS, **errors(409)})
async def get_report(call: Call, calls: Calls) -> JSON:
    return JSON(calls.report(call))


_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)\s*")


def _not_a_number(value: Any) -> Any:
    """pydantic reads a number as seconds (or ms) since the epoch: ``until=0.5`` would be a
    time in 1970. A query time is ISO-8601 only (PROTOCOL)."""
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        raise ValueError("an ISO-8601 time is expected (2026-11-22T10:03:00+08:00), not a number")
    return value


#: A query time: ISO-8601, with or without an offset (``_epoch_ms``).
IsoTime = Annotated[datetime, BeforeValidator(_not_a_number)]


def _epoch_ms(when: datetime | None, zone: ZoneInfo) -> int | None:
    """A query time in epoch ms; one written without an offset is in the service's time zone."""
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    return epoch_ms(when)


#: How many calls a page lists when the request does not say, and at most.
PAGE_DEFAULT = 100
PAGE_MAX = 1000


def encode_cursor(position: Position) -> str:
    """Where the next page begins, as an opaque token (URL-safe)."""
    return base64.urlsafe_b64encode(orjson.dumps(list(position))).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    """A token from :func:`encode_cursor`; raises InvalidMessage (422) for anything else."""
    refused = InvalidMessage("cursor: not a cursor from this service: pass next_cursor as given")
    try:
        position = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, binascii.Error):
        raise refused from None
    if (
        not isinstance(position, list)
        or len(position) != 2
        or type(position[0]) is not int
        or type(position[1]) is not str
    ):
        raise refused
    return position[0], position[1]


@router.get("", responses={200: {"model": CallList}})
async def list_calls(
    principal: KeyPrincipal,
    calls: Calls,
    agent: str | None = None,
    script: str | None = None,
    call_type: CallType | None = None,
    rule: Annotated[
        str | None, Query(max_length=64, description="calls with a standing alert of this rule")
    ] = None,
    has_alerts: bool | None = None,
    since: Annotated[
        IsoTime | None,
        Query(description="ISO-8601: calls that began (rang, or were created) at or after"),
    ] = None,
    until: Annotated[
        IsoTime | None, Query(description="ISO-8601: calls that began at or before")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = PAGE_DEFAULT,
    cursor: Annotated[
        str | None, Query(max_length=512, description="next_cursor of the previous page")
    ] = None,
) -> JSON:
    zone = ZoneInfo(calls.default_timezone)
    query = CallQuery(
        tenant=principal.tenant,
        agent=agent,
        script=script,
        call_type=None if call_type is None else str(call_type),
        rule=rule,
        has_alerts=has_alerts,
        since_ms=_epoch_ms(since, zone),
        until_ms=_epoch_ms(until, zone),
        limit=limit,
        after=None if cursor is None else decode_cursor(cursor),
    )
    items, after = await calls.summaries(query)
    next_cursor = None if after is None else encode_cursor(after)
    return JSON({"items": items, "next_cursor": next_cursor})
