"""Placing messages in call time without reading a clock.

PROTOCOL: a message without a time happens at the latest explicit time the call has seen plus the
wall-clock time elapsed since then. The shell hands its wall clock (epoch ms) in with every input,
so live calls follow the wall clock and replayed calls follow their own timestamps, alike.
"""

from __future__ import annotations


class CallClock:
    """Call time in epoch milliseconds; never goes backwards."""

    def __init__(self) -> None:
        self._offset = 0  # call time minus wall time, from the latest explicit time
        self.now: int | None = None

    def place(self, explicit_ms: int | None, wall_ms: int) -> int:
        """The call time of a message with an explicit time (or none) arriving at ``wall_ms``."""
        if explicit_ms is not None:
            self._offset = explicit_ms - wall_ms
            t = explicit_ms
        else:
            t = wall_ms + self._offset
        if self.now is not None and t < self.now:
            t = self.now
        self.now = t
        return t

    def to_wall(self, call_ms: int) -> int:
        """The wall time at which call time ``call_ms`` will be reached (for scheduling)."""
        return call_ms - self._offset
