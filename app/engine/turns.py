"""Who spoke when: the speech of both speakers on the call's timeline, from the segments' own
times (``start_ms``/``end_ms`` since the answer), whatever order their finals arrive in.

With two ASR channels a final arrives late and out of order: the customer's segment that the
agent spoke over may be final seconds after the agent's. :class:`Turns` keeps the recent final
segments of each speaker and, as each one arrives, pairs it with those of the other speaker
that it overlaps, so an interruption is found when the later of the two arrives.
"""

from __future__ import annotations

from typing import NamedTuple

from app.engine.messages import Speaker

#: Final segments kept per speaker for pairing with late finals of the other one. A final
#: arrives at most a few segments late; a call's last 64 cover minutes of speech.
KEEP = 64


class Spoken(NamedTuple):
    """A final segment on the timeline: ms since the answer, ``start`` < ``end``."""

    segment: str
    start: int
    end: int
    #: Only back-channel words (嗯, 对, 好的): a listener's signal, not a turn of its own.
    back_channel: bool


class Interruption(NamedTuple):
    """The agent began ``agent`` while the customer was in the middle of ``customer``."""

    agent: Spoken
    customer: Spoken


class Turns:
    """The recent final segments of both speakers, and the interruptions among them. One per
    call, held to its end: slots, and each list or set made with its first item (an idle call
    has none)."""

    __slots__ = ("_tolerance", "_agent", "_customer", "_counted", "segments", "untimed")

    def __init__(self, tolerance_ms: int) -> None:
        """``tolerance_ms``: an agent who begins this close to the end of the customer's
        segment is taking the turn, not interrupting."""
        self._tolerance = tolerance_ms
        self._agent: list[Spoken] | None = None
        self._customer: list[Spoken] | None = None
        #: Agent segments kept already counted as an interruption (each counts once).
        self._counted: set[str] | None = None
        #: Final segments with words, and how many of them had no usable times.
        self.segments = 0
        self.untimed = 0

    def add(
        self,
        speaker: Speaker,
        segment: str,
        start_ms: int | None,
        end_ms: int | None,
        back_channel: bool,
    ) -> list[Interruption]:
        """A final segment with words: the interruptions it completes (the agent's segment
        that began inside a customer's, each agent segment once), in the order of the
        agent's start. A segment without both times, or ending before it starts, is counted
        as untimed and judged against nothing."""
        self.segments += 1
        if start_ms is None or end_ms is None or end_ms < start_ms:
            self.untimed += 1
            return []
        spoken = Spoken(segment, start_ms, end_ms, back_channel)
        found: list[Interruption] = []
        if speaker == "agent":
            if self._agent is None:
                self._agent = []
            gone = _keep(self._agent, spoken)
            if (
                gone is not None
                and self._counted is not None
                and all(a.segment != gone.segment for a in self._agent)
            ):
                # An agent segment no longer kept pairs with nothing: it need not be counted.
                self._counted.discard(gone.segment)
            if not back_channel and self._customer is not None:
                for customer in self._customer:
                    if self._interrupts(spoken, customer):
                        found.append(Interruption(spoken, customer))
                        break
        else:
            if self._customer is None:
                self._customer = []
            _keep(self._customer, spoken)
            for agent in self._agent if self._agent is not None else ():
                if not agent.back_channel and self._interrupts(agent, spoken):
                    found.append(Interruption(agent, spoken))
        if found:
            if self._counted is None:
                self._counted = set()
            for interruption in found:
                self._counted.add(interruption.agent.segment)
            found.sort(key=lambda i: i.agent.start)
        return found

    def _interrupts(self, agent: Spoken, customer: Spoken) -> bool:
        return (
            self._counted is None or agent.segment not in self._counted
        ) and customer.start < agent.start < customer.end - self._tolerance


def _keep(spoken: list[Spoken], new: Spoken) -> Spoken | None:
    """Keep ``new``; return the segment that made room for it, if one did."""
    spoken.append(new)
    if len(spoken) > KEEP:
        return spoken.pop(0)
    return None
