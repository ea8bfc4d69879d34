"""Where a call is: its phase and call type, its time, and the deadlines it waits for.

The phase moves only along :data:`app.engine.phases.MOVES`: asking for a move the table does not
have raises :class:`~app.engine.phases.IllegalPhaseMove`, so a caller for which a move may not
apply checks :meth:`Timeline.can_move` first. The call type changes only along
:data:`~app.engine.phases.RETYPES` (see ``suggestions``). Deadlines are named call times; the
session fires each as call time reaches it, and the shell calls the session back at
:meth:`Timeline.next_deadline`.
"""

from __future__ import annotations

from enum import StrEnum

from app.engine.clock import CallClock
from app.engine.phases import CallType, IllegalPhaseMove, Phase, can_move


class Deadline(StrEnum):
    """The deadlines a call may wait for; a follow-up prompt's is :data:`PROMPT_DEADLINE` and
    its id."""

    SLOW_ANSWER = "slow_answer"
    GREETING_LATE = "greeting_late"
    NO_RESPONSE = "no_response"
    HOLD_APOLOGY = "hold_apology"
    HOLD_ANNOUNCE = "hold_announce"


#: A follow-up prompt's deadline is named this and its id.
PROMPT_DEADLINE = "prompt:"

#: The ways through the phases calls have taken, each kept once and shared by every call that
#: took it: phases only move forward, so there are a few dozen at most.
_WAYS: dict[tuple[Phase, ...], tuple[Phase, ...]] = {}


def _shared(way: tuple[Phase, ...]) -> tuple[Phase, ...]:
    return _WAYS.setdefault(way, way)


#: The way of a call that has not been answered.
RINGING_ONLY = _shared((Phase.RINGING,))


class Timeline(CallClock):
    """The phase machine, the call type, call time and the deadlines of one call: its clock
    (:meth:`place` places an input in call time), with what happens in that time."""

    def __init__(
        self,
        phases: tuple[Phase, ...],
        call_type: CallType,
        ring_at: int | None,
        wall_ms: int | None,
    ) -> None:
        """``phases``: the script's. ``ring_at`` is the first explicit time the call sees, so a
        call created for a ring in the past runs in its own time (see ``CallClock``)."""
        super().__init__()
        self._phases = phases
        self.phase = Phase.RINGING
        #: Every phase the call has been in, in order (:attr:`reached`).
        self._way = RINGING_ONLY
        self.call_type = call_type
        self.ring_at = ring_at
        self.answered_at: int | None = None
        if ring_at is not None:
            self.place(ring_at, ring_at if wall_ms is None else wall_ms)
        #: The call time of each deadline armed, by name, in the order armed (of two due at
        #: once, the one armed first fires first).
        self.deadlines: dict[str, int] = {}
        #: The call ended cut off (``cut_off``), not hung up.
        self.cut_off = False

    @property
    def ended(self) -> bool:
        return self.phase is Phase.ENDED

    @property
    def reached(self) -> list[Phase]:
        """Every phase the call has been in, in order."""
        return list(self._way)

    # -- phases ----------------------------------------------------------------------------

    def can_move(self, target: Phase) -> bool:
        """Whether :meth:`move` to ``target`` is legal now."""
        return can_move(self.phase, self._in_script(target))

    def move(self, target: Phase) -> Phase:
        """Move to ``target`` or, if the script skips it, to the next phase the script has;
        return the phase left. Raises :class:`IllegalPhaseMove` for a move :data:`MOVES` does
        not have (backwards, or staying put)."""
        target = self._in_script(target)
        previous = self.phase
        if not can_move(previous, target):
            raise IllegalPhaseMove(f"cannot move from {previous} to {target}")
        self.phase = target
        self._way = _shared((*self._way, target))
        return previous

    def _in_script(self, target: Phase) -> Phase:
        if target in self._phases:
            return target
        return next(phase for phase in self._phases if can_move(target, phase))

    # -- deadlines -------------------------------------------------------------------------

    def arm(self, name: str, at: int) -> None:
        self.deadlines[name] = at

    def disarm(self, name: str) -> None:
        self.deadlines.pop(name, None)

    def pop_reached(self, t: int) -> tuple[str, int] | None:
        """The first deadline reached by call time ``t`` (name, due time), disarmed; None when
        none is."""
        deadlines = self.deadlines
        if not deadlines:
            return None
        due = min(deadlines.values())
        if due > t:
            return None
        name = next(name for name, at in deadlines.items() if at == due)
        del deadlines[name]
        return name, due

    def next_deadline(self) -> int | None:
        """The wall time (epoch ms) of the next deadline, if any, for the shell to call back."""
        if not self.deadlines:
            return None
        return self.to_wall(min(self.deadlines.values()))
