"""Call phases and call types, with the one table of legal phase moves."""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    RINGING = "ringing"
    GREETING = "greeting"
    ANSWERING = "answering"
    CLOSING = "closing"
    RATING = "rating"
    ENDED = "ended"


class CallType(StrEnum):
    CONSULT = "consult"
    COMPLAINT = "complaint"
    CALLBACK = "callback"
    HARASSMENT = "harassment"


_ORDER = {phase: i for i, phase in enumerate(Phase)}


class IllegalPhaseMove(ValueError):
    """Raised on a move that would go backwards or stay put: phases only go forward."""


def can_move(current: Phase, target: Phase) -> bool:
    """A move is legal when it goes forward; a script may skip phases."""
    return _ORDER[target] > _ORDER[current]


def check_move(current: Phase, target: Phase) -> None:
    if not can_move(current, target):
        raise IllegalPhaseMove(f"cannot move from {current} to {target}")
