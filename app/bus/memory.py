"""The in-process bus: every call's subscribers and events in this process's memory."""

from __future__ import annotations

import bisect
from array import array
from collections import OrderedDict

from app.bus import Sink


class _Channel:
    """One call: its subscribers, and every event it published for replay.

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

    def append(self, seq: int, message: str) -> None:
        self.log += message.encode()
        self.ends.append(len(self.log))
        self.seqs.append(seq)

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

    A call's events are kept while the call is live and, once it has ended, for the
    ``keep_ended`` calls that ended last (``HUASHU_KEEP_ENDED_CALLS``, the same bound as the
    in-memory call records): older ended calls' events are let go, oldest first."""

    name = "memory"

    def __init__(self, keep_ended: int = 10_000) -> None:
        self._channels: dict[str, _Channel] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._keep_ended = keep_ended

    def _channel(self, call_id: str) -> _Channel:
        channel = self._channels.get(call_id)
        if channel is None:
            channel = self._channels[call_id] = _Channel()
        return channel

    def publish(self, call_id: str, seq: int, message: str) -> None:
        channel = self._channel(call_id)
        channel.append(seq, message)
        sinks = channel.sinks
        for sink, floor in sinks.items():
            if seq > floor:
                sink.put(message)
                sinks[sink] = seq

    async def subscribe(self, call_id: str, sink: Sink, after_seq: int | None = None) -> None:
        # No await in here: the replay and the subscription happen in one step of the event
        # loop, so no event is published between them.
        channel = self._channel(call_id)
        floor = 0
        if after_seq is not None:
            floor = after_seq
            for message in channel.after(after_seq):
                sink.put(message)
            if channel.seqs:
                floor = max(floor, channel.seqs[-1])
        elif channel.seqs:
            floor = channel.seqs[-1]
        channel.sinks[sink] = floor

    def unsubscribe(self, call_id: str, sink: Sink) -> None:
        channel = self._channels.get(call_id)
        if channel is not None:
            channel.sinks.pop(sink, None)

    async def replay(self, call_id: str, after_seq: int = 0) -> list[str]:
        channel = self._channels.get(call_id)
        return [] if channel is None else channel.after(after_seq)

    def ended(self, call_id: str) -> None:
        self._ended[call_id] = None
        while len(self._ended) > self._keep_ended:
            oldest, _ = self._ended.popitem(last=False)
            self._channels.pop(oldest, None)

    async def close(self) -> None:
        self._channels.clear()
        self._ended.clear()
