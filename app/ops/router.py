"""/healthz (the process answers), /readyz (scripts loaded, store reachable), /metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.http import JSON, Tenant

router = APIRouter(tags=["ops"])


@router.get("/healthz")
async def healthz() -> JSON:
    return JSON({"status": "ok"})


@router.get("/readyz")
async def readyz(request: Request, tenant: Tenant) -> JSON:
    state = request.app.state
    ready = getattr(state, "ready", False)
    body = {
        "status": "ready" if ready else "starting",
        "scripts": sorted(state.scripts) if ready else [],
        "store": "memory",
        "bus": "memory",
    }
    return JSON(body, status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics(request: Request, tenant: Tenant) -> Response:
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
