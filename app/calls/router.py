"""REST endpoints of calls: create, live state, events, fragments, report, list."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from app.calls.schemas import CreateCall, EventBody, FragmentBody
from app.errors import CallStateError
from app.http import JSON, Calls, MetricsDep, Tenant

router = APIRouter(prefix="/v1/calls", tags=["calls"])


@router.post("", status_code=201)
async def create_call(
    body: CreateCall, tenant: Tenant, calls: Calls, metrics: MetricsDep, request: Request
) -> JSON:
    record = await calls.create(body, body.call_id, tenant)
    metrics.calls_started.inc()
    metrics.calls_active.inc()
    base = str(request.base_url).replace("http", "ws", 1).rstrip("/")
    return JSON(
        {
            "call_id": record.call_id,
            "token": record.token,
            "stream_url": f"{base}/v1/calls/{record.call_id}/stream?token={record.token}",
        },
        status_code=201,
    )


@router.get("/{call_id}")
async def get_call(call_id: str, tenant: Tenant, calls: Calls) -> JSON:
    record = await calls.get(call_id, tenant)
    return JSON(record.runner.session.snapshot())


async def _submit(record: Any, item: Any, metrics: Any) -> JSON:
    was_ended = record.runner.ended
    events = await record.runner.submit(item)
    if record.runner.ended and not was_ended:
        metrics.calls_active.dec()
    return JSON({"events": [e.to_wire() for e in events]})


@router.post("/{call_id}/events")
async def post_event(
    call_id: str, body: EventBody, tenant: Tenant, calls: Calls, metrics: MetricsDep
) -> JSON:
    record = await calls.get(call_id, tenant)
    metrics.messages.labels("event").inc()
    return await _submit(record, body.to_input(), metrics)


@router.post("/{call_id}/fragments")
async def post_fragment(
    call_id: str, body: FragmentBody, tenant: Tenant, calls: Calls, metrics: MetricsDep
) -> JSON:
    record = await calls.get(call_id, tenant)
    metrics.messages.labels("fragment").inc()
    return await _submit(record, body.to_input(), metrics)


@router.get("/{call_id}/report")
async def get_report(call_id: str, tenant: Tenant, calls: Calls) -> JSON:
    record = await calls.get(call_id, tenant)
    if not record.runner.ended:
        raise CallStateError(
            f"call {call_id!r} has not ended; its live state is GET /v1/calls/{call_id}",
            code="call_in_progress",
        )
    return JSON(record.runner.session.report())


@router.get("")
async def list_calls(
    tenant: Tenant,
    calls: Calls,
    agent: str | None = None,
    script: str | None = None,
    has_alerts: bool | None = None,
    since: Annotated[
        datetime | None, Query(description="ISO-8601, calls created at or after")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="ISO-8601, calls created at or before")
    ] = None,
) -> JSON:
    records = await calls.store.list(
        tenant,
        agent=agent,
        script=script,
        has_alerts=has_alerts,
        since_ms=None if since is None else int(since.timestamp() * 1000),
        until_ms=None if until is None else int(until.timestamp() * 1000),
    )
    return JSON({"items": [r.summary() for r in records]})
