"""Rebuilding a call from what the store kept: the engine is deterministic with time as an
input, so its setup, the wall time it was made at and its inputs in order (each with the wall
time it was given) make the same session and the same events, with the same ``seq``s.

Also how an input and a setup are written as JSON for the store, and read back.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from app.calls.repository import CallKey, CallRecord, CallRepository, StoredInput
from app.engine.compiled import CompiledScript
from app.engine.messages import CallEvent, CallSetup, Event, Fragment, Input, TranscriptLine
from app.engine.outbox import DEFAULT_BOUNDS, KEEP_ALL, FragmentBounds, Windows
from app.engine.phases import CallType
from app.engine.session import CallSession
from app.errors import HuashuError

log = logging.getLogger(__name__)

TICK = "tick"


def input_body(item: Input) -> tuple[str, dict[str, Any]]:
    """(kind, JSON body) of an input, as stored."""
    if isinstance(item, Fragment):
        return "fragment", item._asdict()
    return "event", dataclasses.asdict(item)


def input_of(kind: str, body: Any) -> Input | None:
    """The input stored as (kind, body); None for a timer tick."""
    if kind == TICK:
        return None
    if kind == "fragment":
        return Fragment(**body)
    if kind == "event":
        return CallEvent(**body)
    raise ValueError(f"unknown stored input kind {kind!r}")


def setup_body(setup: CallSetup) -> dict[str, Any]:
    body = dataclasses.asdict(setup)
    if setup.call_type is not None:
        body["call_type"] = str(setup.call_type)
    return body


def setup_of(body: dict[str, Any]) -> CallSetup:
    call_type = body.get("call_type")
    return CallSetup(**{**body, "call_type": None if call_type is None else CallType(call_type)})


class Replay:
    """A call being rebuilt: its stored inputs are fed in order, a page at a time (a long
    call's inputs need not all be in memory at once), and each page gives the events it
    made. ``bounds``: the service's, as the call was made with them (the same inputs make the
    same events); with ``windows``, the transcript lines that leave memory on the way are
    handed to ``spill`` (to store again: the store may not have had them yet)."""

    def __init__(
        self,
        compiled: CompiledScript,
        record: CallRecord,
        bounds: FragmentBounds = DEFAULT_BOUNDS,
        windows: Windows = KEEP_ALL,
        spill: Callable[[list[tuple[int, TranscriptLine]]], None] | None = None,
    ) -> None:
        if record.setup is None:
            raise ValueError(f"call {record.call_id!r} has no stored setup")
        self.session = CallSession(
            compiled, setup_of(record.setup), record.created_ms, bounds, windows
        )
        self._call_id = record.call_id
        self._spill = spill
        #: How many inputs were replayed, and the highest client ``seq`` among them.
        self.inputs = 0
        self.last_client_seq = 0

    def feed(self, inputs: list[StoredInput]) -> list[Event]:
        """Replay the next ``inputs``; the events they made, in order."""
        session = self.session
        spill = self._spill
        events: list[Event] = []
        for stored in inputs:
            item = input_of(stored.kind, stored.body)
            try:
                if item is None:
                    events += session.on_timer(stored.wall_ms)
                else:
                    events += session.handle(item, stored.wall_ms)
            except HuashuError:
                pass  # refused inputs are not stored; one stored is refused again, as it was
            except Exception:  # noqa: BLE001 - as when it was live: the call goes on
                log.exception(
                    "call %s: the engine failed replaying input %d", self._call_id, stored.n
                )
            if spill is not None and session.spilled:
                spill(session.take_spilled())
            if stored.client_seq is not None:
                self.last_client_seq = max(self.last_client_seq, stored.client_seq)
            self.inputs += 1
        return events

    async def stored(
        self,
        repository: CallRepository,
        key: CallKey,
        page: int,
        put_back: Callable[[list[Event], list[str]], None],
    ) -> int:
        """Feed every stored input of call ``key``, ``page`` of them at a time: the events
        each page makes are handed to ``put_back`` with the store's copies of them. Returns
        the ``seq`` of the last event made (0: none)."""
        last_seq = after_n = 0
        while True:
            inputs = await repository.inputs(key, after_n, page)
            events = self.feed(inputs)
            if events:
                put_back(events, await repository.events(key, last_seq, len(events)))
                last_seq = events[-1].seq
            if len(inputs) < page:
                return last_seq
            after_n = inputs[-1].n
