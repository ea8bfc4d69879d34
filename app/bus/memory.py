"""The in-process bus: every call's subscribers and events in this process's memory."""

from __future__ import annotations

import bisect
from array import array
from collections import OrderedDict

from app.bus import Sink


class _Channel:
    """One call's channel: its subscribers, and every event it published for replay.

    The events are kept as UTF-8 JSON one after another in one buffer, with where each ends and
    its ``seq`` in arrays of machine ints: no object per event for the collector to visit, and
    about half the memory of a ``str`` per event (JSON is mostly ASCII, and a ``str`` holding one
    Chinese character takes two bytes for every character)."""

    __slots__ = ("sinks", "log", "ends", "seqs")

    def __init__(self) -> None:
        #: Each subscriber, with the seq it has had everything up to: a later event of a seq at
        #: or below it (a call rebuilt after a restart publishes again what its client may have
        #: had) is not handed to it again.
        self.sinks: dict[Sink, int] = {}
        self.log = bytearray()
        self.ends = array("q")
        self.seqs = array("q")

    def append(self, seq: int, message: str, window: int | None) -> None:
        self.log += message.encode()
        self.ends.append(len(self.log))
        self.seqs.append(seq)
        if window is not None and len(self.seqs) > 2 * window:
            self.forget_before(len(self.seqs) - window)

    def forget_before(self, index: int) -> None:
        """Let go of the events before the ``index``-th held (their bytes and places)."""
        cut = self.ends[index - 1]
        del self.log[:cut]
        self.ends = array("q", (end - cut for end in self.ends[index:]))
        del self.seqs[:index]

    def oldest(self) -> int | None:
        return self.seqs[0] if self.seqs else None

    def last_seq(self) -> int:
        """The highest seq any subscriber was handed or the log holds (0: none)."""
        held = self.seqs[-1] if self.seqs else 0
        return max(held, max(self.sinks.values(), default=0))

    def after(self, after_seq: int) -> list[str]:
        """The encoded events after ``after_seq``, in order."""
        first = bisect.bisect_right(self.seqs, after_seq)
        log = memoryview(self.log)
        start = self.ends[first - 1] if first else 0
        messages = []
        for end in self.ends[first:]:
            messages.append(str(log[start:end], "utf-8"))
            start = end
        return messages


class MemoryBus:
    """The :class:`app.bus.Bus` of one process.

    A live call's events are kept — its last ``window`` to ``2 × window`` of them, or all of
    them with no window (when the bus is the only copy) — and, once it has ended, for the
    ``keep_ended`` calls that ended last: older ended calls' events are let go, oldest first.
    With a store that keeps every event (``app.store``), the window bounds a long call's memory
    and ended calls leave it at once (``keep_ended`` 0). With the in-memory store the bus is the
    only copy, and that store says when an ended call's events go (``keep_ended`` None,
    :meth:`forget`), with the call's record, by its bounds in calls and in bytes."""

    name = "memory"

    def __init__(self, keep_ended: int | None = 10_000, window: int | None = None) -> None:
        """``keep_ended`` None: ended calls' events are kept until :meth:`forget` lets them
        go (the in-memory store does, ``app.calls.repository.MemoryCallRepository``)."""
        self._channels: dict[str, _Channel] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._keep_ended = keep_ended
        self._window = window

    def _channel(self, channel: str) -> _Channel:
        held = self._channels.get(channel)
        if held is None:
            held = self._channels[channel] = _Channel()
        return held

    def channel(self, channel: str) -> _Channel | None:
        return self._channels.get(channel)

    def own(self, channel: str, fence: str = "") -> None:
        """Every call is this process's: nothing to do."""

    def release(self, channel: str) -> None:
        """Every call is this process's: nothing to do."""

    async def flush(self) -> None:
        """Everything published is where it goes already."""

    def publish(self, channel: str, seq: int, message: str) -> None:
        held = self._channel(channel)
        held.append(seq, message, self._window)
        self._hand(held, seq, message)

    def deliver(self, channel: str, seq: int, message: str) -> None:
        """Hand an event published elsewhere to the call's subscribers here, without keeping
        it (``app.bus.redis``: the stream keeps it)."""
        held = self._channels.get(channel)
        if held is not None:
            self._hand(held, seq, message)

    def attach(self, channel: str, sink: Sink, floor: int) -> None:
        """Subscribe ``sink`` to events after ``floor``, replaying nothing."""
        self._channel(channel).sinks[sink] = floor

    @staticmethod
    def _hand(held: _Channel, seq: int, message: str) -> None:
        sinks = held.sinks
        # A sink may unsubscribe itself (or another) as it is given a message: a copy is walked.
        for sink, floor in tuple(sinks.items()):
            if seq > floor and sink in sinks:
                sinks[sink] = seq
                sink.put(message)

    async def subscribe(self, channel: str, sink: Sink, after_seq: int | None = None) -> None:
        # No await in here: the replay and the subscription happen in one step of the event
        # loop, so no event is published between them.
        held = self._channel(channel)
        floor = 0
        if after_seq is not None:
            floor = after_seq
            for message in held.after(after_seq):
                sink.put(message)
            if held.seqs:
                floor = max(floor, held.seqs[-1])
        elif held.seqs:
            floor = held.seqs[-1]
        held.sinks[sink] = floor

    def unsubscribe(self, channel: str, sink: Sink) -> None:
        held = self._channels.get(channel)
        if held is not None:
            held.sinks.pop(sink, None)

    async def oldest(self, channel: str) -> int | None:
        held = self._channels.get(channel)
        return None if held is None else held.oldest()

    async def replay(self, channel: str, after_seq: int = 0) -> list[str]:
        held = self._channels.get(channel)
        return [] if held is None else held.after(after_seq)

    def ended(self, channel: str) -> None:
        if self._keep_ended is None:
            return
        self._ended[channel] = None
        while len(self._ended) > self._keep_ended:
            oldest, _ = self._ended.popitem(last=False)
            self._channels.pop(oldest, None)

    def size(self, channel: str) -> int:
        """About how many bytes the channel's events take: their UTF-8, and where each ends
        and its seq (8 bytes each)."""
        held = self._channels.get(channel)
        return 0 if held is None else len(held.log) + 16 * len(held.seqs)

    def forget(self, channel: str) -> None:
        self._channels.pop(channel, None)
        self._ended.pop(channel, None)

    async def close(self) -> None:
        self._channels.clear()
        self._ended.clear()
