"""The calls of this process, behind a small store interface.

``CallStore`` is what the rest of the service relies on; ``MemoryCallStore`` keeps everything in
this process (the embedded default). A durable store implements the same interface.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

from app.calls.runner import CallRunner, wall_ms
from app.calls.schemas import CallFields
from app.engine.compiled import CompiledScript
from app.engine.session import CallSession
from app.errors import Conflict, NotFound
from app.ops.metrics import Metrics


@dataclass(slots=True)
class CallRecord:
    call_id: str
    tenant: str | None
    token: str
    script_id: str
    agent_id: str | None
    created_ms: int
    runner: CallRunner

    def summary(self) -> dict[str, Any]:
        session = self.runner.session
        script_id, version, call_type, phase, alerts = session.listing()
        return {
            "call_id": self.call_id,
            "script": {"id": script_id, "version": version},
            "agent_id": self.agent_id,
            "call_type": call_type,
            "phase": phase,
            "created_at_ms": self.created_ms,
            "alerts": alerts,
            "ended": session.ended,
        }


class CallStore(Protocol):
    async def add(self, record: CallRecord) -> None: ...

    async def get(self, call_id: str) -> CallRecord | None: ...

    async def by_token(self, token: str) -> CallRecord | None: ...

    async def list(
        self,
        tenant: str | None,
        agent: str | None = None,
        script: str | None = None,
        has_alerts: bool | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
    ) -> list[CallRecord]: ...

    async def close(self) -> None: ...


class MemoryCallStore:
    """Calls in a dict; ended calls beyond ``keep_ended`` are dropped oldest first."""

    def __init__(self, keep_ended: int = 10_000) -> None:
        self._calls: OrderedDict[str, CallRecord] = OrderedDict()
        self._tokens: dict[str, str] = {}
        self._keep_ended = keep_ended

    async def add(self, record: CallRecord) -> None:
        if record.call_id in self._calls:
            raise Conflict(f"call {record.call_id!r} already exists", code="call_exists")
        self._calls[record.call_id] = record
        self._tokens[record.token] = record.call_id
        self._trim()

    async def get(self, call_id: str) -> CallRecord | None:
        return self._calls.get(call_id)

    async def by_token(self, token: str) -> CallRecord | None:
        call_id = self._tokens.get(token)
        return None if call_id is None else self._calls.get(call_id)

    async def list(
        self,
        tenant: str | None,
        agent: str | None = None,
        script: str | None = None,
        has_alerts: bool | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
    ) -> list[CallRecord]:
        out = []
        for record in self._calls.values():
            if tenant is not None and record.tenant != tenant:
                continue
            if agent is not None and record.agent_id != agent:
                continue
            if script is not None and record.script_id != script:
                continue
            if since_ms is not None and record.created_ms < since_ms:
                continue
            if until_ms is not None and record.created_ms > until_ms:
                continue
            if has_alerts is not None:
                alerted = record.runner.session.alert_count() > 0
                if alerted != has_alerts:
                    continue
            out.append(record)
        return out

    async def close(self) -> None:
        for record in self._calls.values():
            await record.runner.close()

    def _trim(self) -> None:
        if len(self._calls) <= self._keep_ended:
            return  # fewer calls than may be kept ended: nothing to drop, no scan (O(calls))
        ended = [cid for cid, r in self._calls.items() if r.runner.ended]
        for call_id in ended[: max(len(ended) - self._keep_ended, 0)]:
            record = self._calls.pop(call_id)
            self._tokens.pop(record.token, None)


class CallService:
    """Creating and finding calls; the one place that knows scripts, store and runners meet."""

    def __init__(
        self,
        store: CallStore,
        scripts: dict[str, CompiledScript],
        default_timezone: str,
        metrics: Metrics,
    ) -> None:
        self.store = store
        self.scripts = scripts
        self.default_timezone = default_timezone
        self.metrics = metrics

    async def create(
        self, fields: CallFields, call_id: str | None, tenant: str | None
    ) -> CallRecord:
        compiled = self.scripts.get(fields.script)
        if compiled is None:
            known = ", ".join(sorted(self.scripts))
            raise NotFound(
                f"unknown script {fields.script!r}; known: {known}", code="unknown_script"
            )
        call_id = call_id or f"c-{secrets.token_hex(8)}"
        if await self.store.get(call_id) is not None:
            raise Conflict(f"call {call_id!r} already exists", code="call_exists")
        setup = fields.setup(call_id, self.default_timezone)
        session = CallSession(compiled, setup, wall_ms())
        record = CallRecord(
            call_id=call_id,
            tenant=tenant,
            token=secrets.token_urlsafe(24),
            script_id=fields.script,
            agent_id=fields.agent.id,
            created_ms=int(time.time() * 1000),
            runner=CallRunner(session, self.metrics.on_event),
        )
        await self.store.add(record)
        self.metrics.call_started()
        return record

    async def get(self, call_id: str, tenant: str | None) -> CallRecord:
        record = await self.store.get(call_id)
        if record is None or (tenant is not None and record.tenant != tenant):
            raise NotFound(f"no call {call_id!r}", code="unknown_call")
        return record
