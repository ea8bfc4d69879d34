"""The tables of phase moves and call-type changes."""

from __future__ import annotations

import pytest

from app.engine.phases import MOVES, RETYPES, CallType, Phase, can_move, can_retype

ORDER = list(Phase)


@pytest.mark.parametrize("current", list(Phase))
def test_a_phase_moves_forward_only_to_any_later_phase(current: Phase) -> None:
    later = {phase for phase in Phase if ORDER.index(phase) > ORDER.index(current)}
    assert MOVES[current] == later
    assert all(can_move(current, phase) == (phase in later) for phase in Phase)


def test_every_phase_but_the_end_may_end() -> None:
    assert [phase for phase in Phase if can_move(phase, Phase.ENDED)] == ORDER[:-1]
    assert MOVES[Phase.ENDED] == frozenset()


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (CallType.CONSULT, CallType.COMPLAINT, True),
        (CallType.CONSULT, CallType.HARASSMENT, True),
        (CallType.CONSULT, CallType.CALLBACK, True),
        (CallType.HARASSMENT, CallType.COMPLAINT, True),
        (CallType.CALLBACK, CallType.COMPLAINT, True),
        (CallType.CALLBACK, CallType.HARASSMENT, False),  # a return visit is no nuisance call
        (CallType.COMPLAINT, CallType.CONSULT, False),  # a complaint stays a complaint
        (CallType.COMPLAINT, CallType.HARASSMENT, False),
    ],
)
def test_call_type_changes(current: CallType, target: CallType, allowed: bool) -> None:
    assert can_retype(current, target) is allowed


def test_staying_the_same_type_is_no_change() -> None:
    assert all(not can_retype(call_type, call_type) for call_type in CallType)
    assert set(RETYPES) == set(CallType)
