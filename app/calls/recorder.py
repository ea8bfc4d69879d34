"""What a live call does, written down: each runner's :class:`app.calls.runner.CallObserver`.
Its inputs, events, transcript lines, listing and end go to the call's record (the repository
queues them in line with the engine, and commits them in batches), its events to the metrics;
what left the call's memory is read back from here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from app.calls.live import LiveCalls
from app.calls.ownership import Ownership
from app.calls.replay import TICK, input_body
from app.calls.repository import CallKey, CallRepository, StoreUnavailable
from app.engine.messages import Event, Input, Listing, TranscriptLine
from app.engine.outbox import NOTHING_EARLIER, Earlier
from app.ops.metrics import Metrics

log = logging.getLogger(__name__)

#: How long to wait before reading what left a call's memory again, when the store failed.
EARLIER_RETRY_S = 0.5


class CallRecorder:
    """The observer of every live call of an instance (:class:`app.calls.service.CallService`
    makes one and hands it to each runner)."""

    def __init__(
        self,
        repository: CallRepository,
        metrics: Metrics,
        live: LiveCalls,
        ownership: Ownership,
    ) -> None:
        self.repository = repository
        self.metrics = metrics
        self.live = live
        self.ownership = ownership
        #: Calls that ended here whose end the store has not committed yet (what the service
        #: answers for them meanwhile).
        self.ending: dict[CallKey, tuple[Listing, bytes, bytes]] = {}
        #: Background work started here (kept: the loop holds tasks weakly).
        self._background: set[asyncio.Task[None]] = set()

    def on_input(
        self, key: CallKey, n: int, item: Input | None, wall_ms: int, seq: int | None
    ) -> None:
        if not self.repository.keeps_inputs:
            return
        if item is None:
            self.repository.record_input(key, n, TICK, None, wall_ms, seq)
            return
        kind, body = input_body(item)
        self.repository.record_input(key, n, kind, body, wall_ms, seq)

    def on_event(self, key: CallKey, event: Event, message: str) -> None:
        self.metrics.on_event(event, key)
        # Every store keeps each call's alerts as they stand (to list calls by rule); only one
        # that keeps inputs keeps the events too, so only it is handed every event.
        if self.repository.keeps_inputs or event.type in ("alert", "alert_update"):
            self.repository.record_event(key, event.seq, event.type, message, event.body)

    def when_durable(self, callback: Callable[[], None]) -> None:
        self.repository.when_durable(callback)

    def on_lines(self, key: CallKey, lines: list[tuple[int, TranscriptLine]]) -> None:
        self.repository.record_lines(key, lines)

    async def earlier(self, key: CallKey, lines: int, alerts: int) -> Earlier:
        """Once what was written is durable; a store that cannot be read is tried again (the
        call's report waits for it, its alerts never did)."""
        while True:
            try:
                await self.repository.durable()
                earlier = await self.repository.earlier(key, lines, alerts)
                break
            except StoreUnavailable:
                log.exception("call %s: what left memory cannot be read; trying again", key.call_id)
                await asyncio.sleep(EARLIER_RETRY_S)
            except Exception:  # noqa: BLE001 - a bug: the call still ends, its report short
                log.exception("call %s: what left memory cannot be read", key.call_id)
                earlier = NOTHING_EARLIER
                break
        found = (len(earlier.lines), len(earlier.alerts))
        if found != (lines, alerts):
            wanted = (lines, alerts)
            log.error("call %s: of (lines, alerts) %s the store has %s", key.call_id, wanted, found)
        return earlier

    def on_listing(self, key: CallKey, listing: Listing) -> None:
        self.repository.progress(key, listing)

    def on_end(self, key: CallKey, listing: Listing, snapshot: bytes, report: bytes) -> None:
        snapshot, report = self.repository.finish(key, listing, snapshot, report)
        self.live.remove(key)
        if self.ownership.shared:
            self.repository.when_durable(
                lambda: self._spawn(self.ownership.release(key.channel, ended=True))
            )
        self.ending[key] = (listing, snapshot, report)
        self.repository.when_durable(lambda: self._forget_ending(key))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _forget_ending(self, key: CallKey) -> None:
        self.ending.pop(key, None)
