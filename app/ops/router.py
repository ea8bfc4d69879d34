"""/healthz (the process answers), /readyz (scripts loaded and compiled, store reachable),
/metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.deps import AppState, KeyPrincipal
from app.http import JSON
from app.responses import Health, Readiness, errors

router = APIRouter(tags=["ops"])


@router.get("/healthz", responses={200: {"model": Health}})
async def healthz() -> JSON:
    return JSON({"status": "ok"})


@router.get(
    "/readyz", responses={200: {"model": Readiness}, 503: {"model": Readiness}, **errors(401)}
)
async def readyz(state: AppState, principal: KeyPrincipal) -> JSON:
    ready = state.ready
    body = {
        "status": "ready" if ready else "starting",
        "scripts": [d.id for d in await state.library.all("script", principal.tenant)]
        if ready
        else [],
        "store": state.repository.name,
        "bus": state.bus.name,
    }
    return JSON(body, status_code=200 if ready else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
        **errors(401),
    },
)
async def metrics(state: AppState, principal: KeyPrincipal) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
