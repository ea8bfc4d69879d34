"""Calls: creating them, finding them, driving them — where the scripts, the call records, the
live runners and the bus meet. Routers and the stream call this; nothing else reaches a runner.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any

import orjson

from app.bus import Bus, Sink
from app.calls.live import LiveCalls
from app.calls.privacy import mask_json, mask_text
from app.calls.replay import TICK, input_body, rebuild, setup_body
from app.calls.repository import CallKey, CallQuery, CallRecord, CallRepository, Position
from app.calls.runner import CallRunner, wall_ms
from app.calls.schemas import CallFields
from app.engine.messages import Event, Fragment, Input, Listing
from app.engine.outbox import DEFAULT_ALERT_BOUNDS, AlertBounds
from app.engine.session import CallSession
from app.errors import CallStateError, Conflict, NotFound
from app.ops.metrics import Metrics
from app.ops.quotas import Quotas
from app.scripts.service import Pins, ScriptLibrary

log = logging.getLogger(__name__)


def _seq_of(message: str) -> int:
    seq: int = orjson.loads(message)["seq"]
    return seq


class CallService:
    """Also the runners' :class:`app.calls.runner.CallObserver`: what a live call does reaches
    its record and the metrics through here."""

    def __init__(
        self,
        library: ScriptLibrary,
        repository: CallRepository,
        bus: Bus,
        metrics: Metrics,
        default_timezone: str,
        *,
        mask_digits: bool = True,
        quotas: Quotas | None = None,
        bounds: AlertBounds = DEFAULT_ALERT_BOUNDS,
    ) -> None:
        """``mask_digits``: store long digit runs masked (``app.calls.privacy``); ``quotas``:
        the per-tenant bounds (none: unbounded); ``bounds``: what a fragment's alerts carry."""
        self.bounds = bounds
        self.quotas = quotas
        self.library = library
        self.mask_digits = mask_digits
        self.repository = repository
        self.bus = bus
        self.metrics = metrics
        self.default_timezone = default_timezone
        self.live = LiveCalls()
        #: Calls that ended here whose end the store has not committed yet.
        self._ending: dict[CallKey, tuple[Listing, bytes, bytes]] = {}

    async def create(
        self, fields: CallFields, call_id: str | None, tenant: str | None
    ) -> CallRecord:
        """A new call of ``tenant``, live on this instance. Raises NotFound
        (``unknown_script``), Conflict (``call_exists``: the tenant has a call of that id) and
        TooMany (``too_many_calls``)."""
        if self.quotas is not None:
            self.quotas.start_call(tenant, self.live.count(tenant))
        try:
            compiled, pins = await self.library.compiled(tenant, fields.script)
        except NotFound:
            known = ", ".join(d.id for d in await self.library.all("script", tenant))
            raise NotFound(
                f"unknown script {fields.script!r}; known: {known}", code="unknown_script"
            ) from None
        call_id = call_id or f"c-{secrets.token_hex(8)}"
        key = CallKey(tenant, call_id)
        if await self.repository.get(key) is not None:
            raise Conflict(f"call {call_id!r} already exists", code="call_exists")
        setup = fields.setup(call_id, self.default_timezone)
        now = wall_ms()
        session = CallSession(compiled, setup, now, self.bounds)
        listing = Listing(*session.listing())
        record = CallRecord(
            call_id=call_id,
            tenant=tenant,
            token=secrets.token_urlsafe(24),
            script_id=listing.script_id,
            script_version=listing.script_version,
            agent_id=fields.agent.id,
            created_ms=now,
            started_ms=setup.ring_at_ms if setup.ring_at_ms is not None else now,
            call_type=listing.call_type,
            phase=listing.phase,
            setup=setup_body(setup),
            pins=pins.to_json(),
        )
        await self.repository.add(record)
        self.live.add(CallRunner(key, session, self.bus, self))
        self.metrics.call_started(key, listing.script_id)
        return record

    async def find(self, key: CallKey) -> CallRecord | None:
        """The call of ``key``: a tenant finds its own calls only."""
        return self._as_known(await self.repository.get(key))

    async def summaries(self, query: CallQuery) -> tuple[list[dict[str, Any]], Position | None]:
        """What ``GET /v1/calls`` lists: the calls that match in the order of their start, and
        where the next page begins (None: this is the last)."""
        await self.repository.durable()  # what this instance knows is what it lists
        records = await self.repository.search(query)
        full = query.limit is not None and len(records) == query.limit
        after = (records[-1].started_ms, records[-1].call_id) if full and records else None
        return [record.summary() for record in records], after

    def _as_known(self, record: CallRecord | None) -> CallRecord | None:
        """``record`` as this instance knows it: a call that ended here a moment ago, whose
        end the store has not committed yet, is ended."""
        if record is not None and not record.ended:
            ending = self._ending.get(record.key)
            if ending is not None:
                listing, record.snapshot, record.report = ending
                record.follow(listing)
                record.ended = True
        return record

    def runner(self, record: CallRecord) -> CallRunner:
        """The runner of the call: the live one, or for an ended call one that refuses every
        input with ``call_ended``. Raises ``call_elsewhere`` for a call live on another
        instance."""
        runner = self.live.get(record.key)
        if runner is None:
            if record.ended:  # refuses every input, as the runner it ended on does
                return CallRunner(record.key, None, self.bus)
            raise CallStateError(
                f"call {record.call_id!r} is not live on this instance", code="call_elsewhere"
            )
        return runner

    async def submit(self, record: CallRecord, item: Input) -> list[Event]:
        """Process one input of the call (REST); its events, already published, once the
        input and its events are durable (the answer is the acknowledgement)."""
        events = await self.runner(record).submit(item)
        await self.repository.durable()
        return events

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

    async def follow(self, key: CallKey, sink: Sink, after_seq: int | None = None) -> None:
        """Hand the call's events to ``sink`` (with ``after_seq``: first those after it). The
        bus holds a live call's events; for a call that is not live here (ended, or before
        a restart) what the store kept comes first."""
        runner = self.live.get(key)
        channel = key.channel
        if after_seq is not None:
            oldest = await self.bus.oldest(channel)
            if runner is None or (oldest is not None and oldest > after_seq + 1):
                # Before the bus's window (or not live here): from the store first.
                for message in await self.repository.events(key, after_seq):
                    if oldest is not None and _seq_of(message) >= oldest:
                        break
                    sink.put(message)
                    after_seq = _seq_of(message)
        if after_seq is not None and runner is not None and not runner.rebuilt:
            # A seq beyond any this call has published is a client's mistake: it follows live
            # from here. Only a call rebuilt after a restart may have published, before it, events
            # its store did not keep: there the client's word is taken, so that what the rebuilt
            # call publishes again is not handed to it twice.
            after_seq = min(after_seq, runner.last_event_seq)
        await self.bus.subscribe(channel, sink, after_seq)

    def unfollow(self, key: CallKey, sink: Sink) -> None:
        self.bus.unsubscribe(key.channel, sink)

    async def close(self) -> None:
        await self.live.close()

    def sweep(self, now_ms: int, idle_s: float, reconnect_s: float) -> int:
        """Cut off the calls whose client is gone: no input for ``idle_s`` seconds, or, for a
        call rebuilt after a restart, none since for ``reconnect_s`` (0: never). They end with
        a report that says so. Returns how many were cut off."""
        cut = 0
        for runner in self.live.runners():
            limit = reconnect_s if runner.rebuilt else idle_s
            if limit and now_ms - runner.last_input_ms > limit * 1000:
                log.info("call %s: no input for %.0f s; cut off", runner.call_id, limit)
                runner.cut_off()
                cut += 1
        return cut

    async def recover(self) -> int:
        """Rebuild every call that was in progress when the service stopped, from its stored
        inputs; its events come out again with the same ``seq``s and go back on the bus for
        ``resume``. Returns how many calls are live again."""
        recovered = 0
        for record in await self.repository.unfinished():
            try:
                if record.pins is None:
                    raise NotFound("the call was stored without its script's versions")
                compiled = await self.library.compiled_at(Pins.from_json(record.pins))
            except NotFound as exc:
                log.error(
                    "call %s: its script cannot be loaded (%s); the call is left as stored",
                    record.call_id,
                    exc.detail,
                )
                continue
            key = record.key
            rebuilt = rebuild(compiled, record, await self.repository.inputs(key), self.bounds)
            stored = await self.repository.events(key)
            runner = CallRunner(
                key,
                rebuilt.session,
                self.bus,
                self,
                inputs=rebuilt.inputs,
                last_client_seq=rebuilt.last_client_seq,
            )
            self.metrics.call_live(key, record.script_id)
            self.live.add(runner)
            runner.republish(rebuilt.events, stored)
            recovered += 1
        return recovered

    # -- CallObserver ----------------------------------------------------------------------

    def on_input(
        self, key: CallKey, n: int, item: Input | None, wall_ms: int, seq: int | None
    ) -> None:
        if not self.repository.keeps_inputs:
            return
        if item is None:
            self.repository.record_input(key, n, TICK, None, wall_ms, seq)
            return
        kind, body = input_body(item)
        if self.mask_digits and isinstance(item, Fragment):
            body["text"] = mask_text(item.text)
        self.repository.record_input(key, n, kind, body, wall_ms, seq)

    def on_event(self, key: CallKey, event: Event, message: str) -> None:
        self.metrics.on_event(event, key)
        if self.repository.keeps_inputs:
            stored = mask_json(message) if self.mask_digits else message
            self.repository.record_event(key, event.seq, event.type, stored)
        elif event.type in ("alert", "alert_update"):
            # The in-memory store keeps no events, only each alert's rule and state (to list
            # calls by rule): nothing of it is stored text, nothing to mask.
            self.repository.record_event(key, event.seq, event.type, message)

    def when_durable(self, callback: Callable[[], None]) -> None:
        self.repository.when_durable(callback)

    def on_listing(self, key: CallKey, listing: Listing) -> None:
        self.repository.progress(key, listing)

    def on_end(self, key: CallKey, listing: Listing, snapshot: bytes, report: bytes) -> None:
        if self.mask_digits:
            snapshot = mask_json(snapshot.decode()).encode()
            report = mask_json(report.decode()).encode()
        self.repository.finish(key, listing, snapshot, report)
        self.live.remove(key)
        self._ending[key] = (listing, snapshot, report)
        self.repository.when_durable(lambda: self._forget_ending(key))

    def _forget_ending(self, key: CallKey) -> None:
        self._ending.pop(key, None)
