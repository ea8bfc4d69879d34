"""Calls: creating them, finding them, driving them — where the scripts, the call records, the
live runners and the bus meet. Routers and the stream call this; nothing else reaches a runner.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import Any

import orjson

from app.bus import Bus, Sink
from app.calls.live import LiveCalls
from app.calls.ownership import Ownership, SoleOwnership
from app.calls.recorder import CallRecorder
from app.calls.replay import Replay, setup_body
from app.calls.repository import (
    CallKey,
    CallQuery,
    CallRecord,
    CallRepository,
    Position,
)
from app.calls.runner import CallRunner, republish, wall_ms
from app.calls.schemas import CallFields
from app.engine.messages import Event, Input, Listing
from app.engine.outbox import (
    DEFAULT_BOUNDS,
    KEEP_ALL,
    FragmentBounds,
    Windows,
)
from app.engine.session import CallSession
from app.errors import CallStateError, Conflict, NotFound
from app.ops.metrics import Metrics
from app.ops.quotas import Quotas
from app.scripts.service import Pins, ScriptLibrary

log = logging.getLogger(__name__)

#: Stored inputs replayed at a time when a call is rebuilt: a long call's are not all read
#: into memory at once (nor the events they make again).
REPLAY_PAGE = 1000


def _seq_of(message: str) -> int:
    seq: int = orjson.loads(message)["seq"]
    return seq


class CallService:
    """The calls of every tenant: made, found, followed, and taken over from or handed to
    another instance."""

    def __init__(
        self,
        library: ScriptLibrary,
        repository: CallRepository,
        bus: Bus,
        metrics: Metrics,
        default_timezone: str,
        *,
        quotas: Quotas | None = None,
        ownership: Ownership | None = None,
        claim_wait_s: float = 10.0,
        bounds: FragmentBounds = DEFAULT_BOUNDS,
        windows: Windows = KEEP_ALL,
        replay_page: int = REPLAY_PAGE,
    ) -> None:
        """``quotas``: the per-tenant bounds (none: unbounded); ``ownership``: which calls
        this instance runs (none: all of them, one instance); ``claim_wait_s``: how long a call
        may be waited for while another instance hands it off or its dead holder's lease runs
        out; ``bounds``: what a fragment may cost (its alerts, its intent check); ``windows``:
        what of its transcript and alerts a call keeps in memory when the repository
        ``keeps_inputs`` (else all of it: the in-memory store is the only copy);
        ``replay_page``: stored inputs replayed at a time when a call is rebuilt. What is stored
        of customers' words is the repository's to mask (``app.calls.privacy``)."""
        self.bounds = bounds
        self.windows = windows if repository.keeps_inputs else KEEP_ALL
        self.replay_page = replay_page
        self.quotas = quotas
        self.ownership = ownership or SoleOwnership()
        self.claim_wait_s = claim_wait_s
        #: Calls being taken over here: the first claim rebuilds, the others wait for it.
        self._claiming: dict[CallKey, asyncio.Future[CallRunner]] = {}
        self.library = library
        self.repository = repository
        self.bus = bus
        self.metrics = metrics
        self.default_timezone = default_timezone
        self.live = LiveCalls()
        #: What the runners do reaches the records and the metrics through it.
        self.recorder = CallRecorder(repository, metrics, self.live, self.ownership)

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
        session = CallSession(compiled, setup, now, self.bounds, self.windows)
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
        fence = await self.ownership.acquire(key.channel)
        if fence is None:  # another instance made the same call a moment ago
            raise Conflict(f"call {call_id!r} already exists", code="call_exists")
        self.bus.own(key.channel, fence)
        self.live.add(CallRunner(key, session, self.bus, self.recorder))
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
            ending = self.recorder.ending.get(record.key)
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

    async def claim(self, record: CallRecord, resumed: bool = False) -> CallRunner:
        """The runner of a call about to be written to: the live one here, or, for a call
        another instance runs (or ran, and died), the call taken over — its holder asked to
        hand it off (it refuses while a writer of its own is connected, unless this one
        ``resumed``: a client reconnecting), or its lease waited out — and rebuilt here from
        the store. Raises ``call_elsewhere`` when the holder refuses or does not let go in
        ``claim_wait_s``."""
        key = record.key
        runner = self.live.get(key)
        if runner is not None or record.ended or not self.ownership.shared:
            return self.runner(record)
        claiming = self._claiming.get(key)
        if claiming is not None:
            return await asyncio.shield(claiming)
        claiming = self._claiming[key] = asyncio.get_running_loop().create_future()
        try:
            runner = await self._take_over(record, resumed)
        except BaseException as exc:
            claiming.set_exception(exc)
            claiming.exception()  # retrieved: only the waiting claims raise it again
            raise
        else:
            claiming.set_result(runner)
            return runner
        finally:
            del self._claiming[key]

    async def _take_over(self, record: CallRecord, resumed: bool) -> CallRunner:
        key, call_id = record.key, record.call_id
        channel = key.channel
        deadline = time.monotonic() + self.claim_wait_s
        asked = False
        while True:
            fence = await self.ownership.acquire(channel)
            if fence is not None:
                break
            if not asked:
                await self.ownership.ask(channel, resumed)
                asked = True
            elif await self.ownership.refused(channel):
                raise CallStateError(
                    f"call {call_id!r} is written on another instance: a call has one "
                    "writer; a client reconnecting sends resume first",
                    code="call_elsewhere",
                )
            if time.monotonic() > deadline:
                raise CallStateError(
                    f"call {call_id!r} is live on another instance, which did not let it go "
                    f"in {self.claim_wait_s:g} s",
                    code="call_elsewhere",
                )
            await asyncio.sleep(0.02)
        current = await self.repository.get(key)
        if current is None or current.ended:  # it ended while it was handed over
            await self.ownership.release(channel)
            return CallRunner(key, None, self.bus)
        runner = await self._rebuild(current, fence)
        if runner is None:
            await self.ownership.release(channel)
            raise CallStateError(
                f"call {call_id!r} cannot be rebuilt here: its script is missing",
                code="call_elsewhere",
            )
        log.info("call %s: taken over from another instance", call_id)
        return runner

    async def submit(self, record: CallRecord, item: Input) -> list[Event]:
        """Process one input of the call (REST); its events, already published, once the
        input and its events are durable (the answer is the acknowledgement)."""
        events = await (await self.claim(record)).submit(item)
        await self.repository.durable()
        return events

    async def snapshot(self, record: CallRecord) -> dict[str, Any]:
        """The call's live state, or its last one once it has ended."""
        if record.snapshot is not None:
            ended: dict[str, Any] = orjson.loads(record.snapshot)
            return ended
        return await self.runner(record).snapshot()

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
        """Rebuild every call that was in progress when the service stopped (or, with several
        instances, whose instance is gone: no instance holds it), from its stored inputs; its
        events come out again with the same ``seq``s and go back on the bus for ``resume``.
        Returns how many calls are live here again."""
        # The keys first: with several instances this runs every few seconds over every
        # instance's calls, nearly all of them held; whole records only for those nobody holds.
        unfinished = await self.repository.unfinished_keys()
        keys = [key for key in unfinished if self.live.get(key) is None]
        free = set(await self.ownership.free([key.channel for key in keys]))
        if not free:
            return 0
        records = [
            record
            for record in await self.repository.unfinished()
            if record.key.channel in free and self.live.get(record.key) is None
        ]
        recovered = 0
        for record in records:
            channel = record.key.channel
            if channel not in free:
                continue
            fence = await self.ownership.acquire(channel)
            if fence is None:
                continue
            if await self._rebuild(record, fence) is None:
                await self.ownership.release(channel)
                continue
            recovered += 1
        return recovered

    async def _rebuild(self, record: CallRecord, fence: str) -> CallRunner | None:
        """The call, live here again from its stored inputs (None: its script is gone)."""
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
            return None
        key = record.key
        replay = Replay(
            compiled,
            record,
            self.bounds,
            self.windows,
            lambda lines: self.repository.record_lines(key, lines),
        )
        # Published as they are made again, before the runner exists: no client or timer
        # reaches the session until the replay is over.
        self.bus.own(key.channel, fence)
        self.metrics.call_live(key, record.script_id)  # before its report, if it is replayed
        last_seq = await replay.stored(
            self.repository,
            key,
            self.replay_page,
            lambda events, stored: republish(self.bus, key, self.recorder, events, stored),
        )
        runner = CallRunner(
            key,
            replay.session,
            self.bus,
            self.recorder,
            inputs=replay.inputs,
            last_client_seq=replay.last_client_seq,
        )
        self.live.add(runner)
        runner.rebuilt_from(last_seq)
        return runner

    async def hand_off(self, channel: str, resumed: bool) -> None:
        """Another instance asks for the call on ``channel`` (``resumed``: for a client
        reconnecting). It is let go — its inputs durable, its events on the bus, its lease
        released — unless a writer of its own is connected here and the asker is not a client
        reconnecting."""
        runner = self.live.get(CallKey.of_channel(channel))
        if runner is None:
            return
        if runner.writers and not resumed:
            await self.ownership.refuse(channel)
            return
        await self._let_go(runner, "the call moved to another instance: reconnect and resume")

    async def hand_off_all(self) -> int:
        """Let every call go (the instance is stopping): another instance takes each over.
        Returns how many were let go."""
        if not self.ownership.shared:
            return 0
        runners = self.live.runners()
        for runner in runners:
            self.live.remove(runner.key)
            runner.move("server going away")
            self.metrics.call_gone(runner.key)
        await self.repository.durable()
        await self.bus.flush()
        for runner in runners:
            self.bus.release(runner.key.channel)
        await self.ownership.release_all([runner.key.channel for runner in runners])
        return len(runners)

    async def _let_go(self, runner: CallRunner, why: str) -> None:
        key = runner.key
        self.live.remove(key)
        runner.move(why)
        self.metrics.call_gone(key)
        await self.repository.durable()
        await self.bus.flush()
        self.bus.release(key.channel)
        await self.ownership.release(key.channel)

    def lost(self, channel: str) -> None:
        """This instance no longer holds the call on ``channel`` (its lease ran out and another
        took it): stop running it here, at once."""
        key = CallKey.of_channel(channel)
        runner = self.live.get(key)
        if runner is None:
            return
        self.live.remove(key)
        runner.move("the call's lease was lost: reconnect and resume")
        self.metrics.call_gone(key)
        self.bus.release(channel)
