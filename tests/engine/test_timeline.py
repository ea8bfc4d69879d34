"""The timeline alone: phase moves along the table, call time, deadlines in order."""

from __future__ import annotations

import pytest

from app.engine.phases import CallType, IllegalPhaseMove, Phase
from app.engine.timeline import Deadline, Timeline

ALL_PHASES = tuple(Phase)
NO_RATING = (Phase.RINGING, Phase.GREETING, Phase.ANSWERING, Phase.CLOSING, Phase.ENDED)


def timeline(phases: tuple[Phase, ...] = ALL_PHASES) -> Timeline:
    return Timeline(phases, CallType.CONSULT, None, None)


class TestPhases:
    def test_a_move_records_the_phase_and_returns_the_one_left(self) -> None:
        line = timeline()
        assert line.move(Phase.GREETING) is Phase.RINGING
        assert line.move(Phase.CLOSING) is Phase.GREETING  # a phase may be skipped
        assert line.phase is Phase.CLOSING
        assert line.reached == [Phase.RINGING, Phase.GREETING, Phase.CLOSING]

    def test_a_phase_the_script_does_not_have_moves_to_the_next_it_has(self) -> None:
        line = timeline(NO_RATING)
        line.move(Phase.CLOSING)
        assert line.can_move(Phase.RATING)
        line.move(Phase.RATING)
        assert line.phase is Phase.ENDED and line.ended

    @pytest.mark.parametrize(
        ("at", "target"),
        [
            (Phase.ANSWERING, Phase.GREETING),  # backwards
            (Phase.ANSWERING, Phase.ANSWERING),  # staying put
            (Phase.ENDED, Phase.CLOSING),  # after the end
        ],
    )
    def test_an_illegal_move_raises_and_changes_nothing(self, at: Phase, target: Phase) -> None:
        line = timeline()
        line.move(at)
        reached = list(line.reached)
        assert not line.can_move(target)
        with pytest.raises(IllegalPhaseMove, match=f"from {at} to {target}"):
            line.move(target)
        assert line.phase is at and line.reached == reached


class TestTime:
    def test_a_ring_in_the_past_runs_in_its_own_time(self) -> None:
        line = Timeline(ALL_PHASES, CallType.CONSULT, 1_000_000, 5_000_000)
        assert line.place(None, 5_000_300) == 1_000_300
        line.arm(Deadline.SLOW_ANSWER, 1_015_000)
        assert line.next_deadline() == 5_015_000  # the wall time to call back at

    def test_deadlines_fall_due_in_time_order_then_in_the_order_armed(self) -> None:
        line = timeline()
        line.arm(Deadline.NO_RESPONSE, 300)
        line.arm(Deadline.GREETING_LATE, 100)
        line.arm("prompt:p-1", 300)
        line.arm(Deadline.HOLD_APOLOGY, 900)
        line.disarm(Deadline.HOLD_APOLOGY)
        assert line.pop_reached(99) is None
        fired = []
        while (reached := line.pop_reached(500)) is not None:
            fired.append(reached)
        assert fired == [("greeting_late", 100), ("no_response", 300), ("prompt:p-1", 300)]
        assert line.next_deadline() is None and line.deadlines == {}
