"""Calls: creating them, finding them, driving them — where the scripts, the call records, the
live runners and the bus meet. Routers and the stream call this; nothing else reaches a runner.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import orjson

from app.bus import Bus, Sink
from app.calls.live import LiveCalls
from app.calls.repository import CallQuery, CallRecord, CallRepository
from app.calls.runner import After, CallRunner, wall_ms
from app.calls.schemas import CallFields
from app.engine.compiled import CompiledScript
from app.engine.messages import Event, Input, Listing
from app.engine.session import CallSession
from app.errors import CallStateError, Conflict, NotFound
from app.ops.metrics import Metrics


class CallService:
    """Also the runners' :class:`app.calls.runner.CallObserver`: what a live call does reaches
    its record and the metrics through here."""

    def __init__(
        self,
        scripts: dict[str, CompiledScript],
        repository: CallRepository,
        bus: Bus,
        metrics: Metrics,
        default_timezone: str,
    ) -> None:
        self.scripts = scripts
        self.repository = repository
        self.bus = bus
        self.metrics = metrics
        self.default_timezone = default_timezone
        self.live = LiveCalls()

    async def create(
        self, fields: CallFields, call_id: str | None, tenant: str | None
    ) -> CallRecord:
        """A new call, live on this instance. Raises NotFound (``unknown_script``) and
        Conflict (``call_exists``)."""
        compiled = self.scripts.get(fields.script)
        if compiled is None:
            known = ", ".join(sorted(self.scripts))
            raise NotFound(
                f"unknown script {fields.script!r}; known: {known}", code="unknown_script"
            )
        call_id = call_id or f"c-{secrets.token_hex(8)}"
        if await self.repository.get(call_id) is not None:
            raise Conflict(f"call {call_id!r} already exists", code="call_exists")
        session = CallSession(compiled, fields.setup(call_id, self.default_timezone), wall_ms())
        listing = Listing(*session.listing())
        record = CallRecord(
            call_id=call_id,
            tenant=tenant,
            token=secrets.token_urlsafe(24),
            script_id=listing.script_id,
            script_version=listing.script_version,
            agent_id=fields.agent.id,
            created_ms=int(time.time() * 1000),
            call_type=listing.call_type,
            phase=listing.phase,
        )
        await self.repository.add(record)
        self.live.add(CallRunner(call_id, session, self.bus, self))
        self.metrics.call_started()
        return record

    async def find(self, call_id: str) -> CallRecord | None:
        return await self.repository.get(call_id)

    async def summaries(self, query: CallQuery) -> list[dict[str, Any]]:
        """What `GET /v1/calls` lists: the calls that match, oldest created first."""
        return [record.summary() for record in await self.repository.list(query)]

    def runner(self, record: CallRecord) -> CallRunner:
        """The runner of the call: the live one, or for an ended call one that refuses every
        input with ``call_ended``. Raises ``call_elsewhere`` for a call live on another
        instance."""
        runner = self.live.get(record.call_id)
        if runner is None:
            if record.ended:  # refuses every input, as the runner it ended on does
                return CallRunner(record.call_id, None, self.bus)
            raise CallStateError(
                f"call {record.call_id!r} is not live on this instance", code="call_elsewhere"
            )
        return runner

    async def submit(
        self,
        record: CallRecord,
        item: Input | None,
        *,
        seq: int | None = None,
        after: After | None = None,
    ) -> list[Event]:
        """Process one input of the call (REST); its events, already published."""
        return await self.runner(record).submit(item, seq=seq, after=after)

    def snapshot(self, record: CallRecord) -> dict[str, Any]:
        """The call's live state, or its last one once it has ended."""
        if record.snapshot is not None:
            ended: dict[str, Any] = orjson.loads(record.snapshot)
            return ended
        return self.runner(record).snapshot()

    def report(self, record: CallRecord) -> dict[str, Any]:
        """The post-call report. Raises ``call_in_progress`` while the call goes on."""
        if record.report is None:
            raise CallStateError(
                f"call {record.call_id!r} has not ended; its live state is "
                f"GET /v1/calls/{record.call_id}",
                code="call_in_progress",
            )
        report: dict[str, Any] = orjson.loads(record.report)
        return report

    async def follow(self, call_id: str, sink: Sink, after_seq: int | None = None) -> None:
        """Hand the call's events to ``sink`` (with ``after_seq``: first those after it)."""
        await self.bus.subscribe(call_id, sink, after_seq)

    def unfollow(self, call_id: str, sink: Sink) -> None:
        self.bus.unsubscribe(call_id, sink)

    async def close(self) -> None:
        await self.live.close()

    # -- CallObserver ----------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        self.metrics.on_event(event)

    def on_listing(self, call_id: str, listing: Listing) -> None:
        self.repository.progress(call_id, listing)

    def on_end(self, call_id: str, listing: Listing, snapshot: bytes, report: bytes) -> None:
        self.repository.finish(call_id, listing, snapshot, report)
        self.live.remove(call_id)
