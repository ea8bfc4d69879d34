"""Call phases and call types, each with the one table of the changes it may make."""

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


#: Where a call may go from each phase: only forward, since a phase once left is over, and past
#: any phase a script does not have (12580 and 10000 have no rating phase). A call may end from
#: any phase but the end.
MOVES: dict[Phase, frozenset[Phase]] = {
    Phase.RINGING: frozenset(
        {Phase.GREETING, Phase.ANSWERING, Phase.CLOSING, Phase.RATING, Phase.ENDED}
    ),
    Phase.GREETING: frozenset({Phase.ANSWERING, Phase.CLOSING, Phase.RATING, Phase.ENDED}),
    Phase.ANSWERING: frozenset({Phase.CLOSING, Phase.RATING, Phase.ENDED}),
    Phase.CLOSING: frozenset({Phase.RATING, Phase.ENDED}),
    Phase.RATING: frozenset({Phase.ENDED}),
    Phase.ENDED: frozenset(),
}

#: What a call of each type may become. A complaint stays a complaint: it has its own closing,
#: and nothing said later makes it less of one. A return visit (回访) is the line's own call:
#: the customer did not call in, so it is never a nuisance call.
RETYPES: dict[CallType, frozenset[CallType]] = {
    CallType.CONSULT: frozenset({CallType.COMPLAINT, CallType.CALLBACK, CallType.HARASSMENT}),
    CallType.COMPLAINT: frozenset(),
    CallType.CALLBACK: frozenset({CallType.CONSULT, CallType.COMPLAINT}),
    CallType.HARASSMENT: frozenset({CallType.CONSULT, CallType.COMPLAINT, CallType.CALLBACK}),
}


class IllegalPhaseMove(ValueError):
    """A phase move that :data:`MOVES` does not have. The engine asks only for legal moves
    (checking first where one may not apply), so this is a bug in the engine, not in the input."""


def can_move(current: Phase, target: Phase) -> bool:
    """Whether :data:`MOVES` takes a call from ``current`` to ``target``."""
    return target in MOVES[current]


def can_retype(current: CallType, target: CallType) -> bool:
    """Whether a call of type ``current`` may become ``target`` (:data:`RETYPES`)."""
    return target in RETYPES[current]
