"""What a call sends: its events, numbered in order, and the alerts among them.

Every concern of a session writes to the one outbox of its call; after each input the session
hands the shell what was written (:meth:`Outbox.take`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.engine.document import Severity
from app.engine.messages import Alert, AlertCategory, Event, MatchKind, Speaker

#: Characters of a segment's text an alert carries on either side of its match.
ALERT_CONTEXT_CHARS = 40
#: New alerts one fragment of the agent may raise; the rest wait for the segment's next
#: hypothesis.
MAX_ALERTS_PER_FRAGMENT = 16


@dataclass(frozen=True, slots=True)
class AlertBounds:
    """How much one fragment's alerts may carry (``HUASHU_ALERT_CONTEXT_CHARS``,
    ``HUASHU_MAX_ALERTS_PER_FRAGMENT``): a fragment of a phrase said over and over must not
    send, and keep, the whole segment's text once per alert."""

    context_chars: int = ALERT_CONTEXT_CHARS
    per_fragment: int = MAX_ALERTS_PER_FRAGMENT


#: The bounds of calls whose shell names none (offline checks, the dry run).
DEFAULT_ALERT_BOUNDS = AlertBounds()


def context(text: str, span: tuple[int, int], chars: int) -> tuple[str, int]:
    """The words around ``span`` in ``text``: the match and at most ``chars`` characters on
    either side, and where they begin in ``text``."""
    start = max(span[0] - chars, 0)
    return text[start : span[1] + chars], start


class Outbox:
    """The events of one call not yet handed to the shell, and every alert the call raised."""

    def __init__(self, anchor: int | None, context_chars: int = ALERT_CONTEXT_CHARS) -> None:
        """``context_chars``: what an alert carries of its segment around its match."""
        #: The call time events count from (their ``at_ms``): the answer, before it the ring.
        self.anchor = anchor
        self._context_chars = context_chars
        self._events: list[Event] = []
        self._seq = 0
        self._prompt_ids = 0
        self._alert_ids = 0
        #: Every alert raised, in order; a retracted one stays (its id was sent).
        self.alerts: list[Alert] = []
        #: How many of them stand (not retracted): asked after every alert, so kept, not counted.
        self._standing = 0

    def take(self) -> list[Event]:
        """The events written since the last take, in order; the outbox is empty after."""
        events = self._events
        self._events = []
        return events

    def at_ms(self, t: int) -> int:
        """Call time ``t`` as the events give it: since the anchor."""
        return t - (self.anchor if self.anchor is not None else t)

    def emit(self, kind: str, t: int, body: dict[str, Any]) -> None:
        self._seq += 1
        self._events.append(Event(kind, self._seq, self.at_ms(t), body))

    def prompt_id(self) -> str:
        """A new prompt's id, unique in the call."""
        self._prompt_ids += 1
        return f"p-{self._prompt_ids}"

    def alert(
        self,
        t: int,
        category: AlertCategory,
        rule: str,
        severity: Severity,
        source: str,
        *,
        provisional: bool = False,
        detail: str | None = None,
        phrase: str | None = None,
        text: str | None = None,
        span: tuple[int, int] | None = None,
        speaker: Speaker | None = None,
        segment: str | None = None,
        match: MatchKind = "rule",
    ) -> Alert:
        """Raise an alert (provisional: until its segment's final settles it). Of ``text``
        (the segment's), the alert keeps the words around ``span``."""
        text_from = 0
        if text is not None and span is not None:
            text, text_from = context(text, span, self._context_chars)
        self._alert_ids += 1
        alert = Alert(
            id=f"al-{self._alert_ids}",
            severity=severity,
            category=category,
            rule=rule,
            source=source,
            state="provisional" if provisional else "confirmed",
            phrase=phrase,
            text=text,
            span=span,
            speaker=speaker,
            segment=segment,
            match=match,
            detail=detail,
            text_from=text_from,
        )
        self.alerts.append(alert)
        self._standing += 1
        self.emit("alert", t, alert.to_body())
        return alert

    def settle(self, alert: Alert, still_said: bool, t: int) -> None:
        """A provisional alert's segment is final: confirmed if its words are still there,
        retracted if the ASR revised them away."""
        alert.state = "confirmed" if still_said else "retracted"
        if not still_said:
            self._standing -= 1
        self.emit("alert_update", t, {"id": alert.id, "state": alert.state})

    def standing_alerts(self) -> list[Alert]:
        """The alerts not retracted, in the order raised."""
        return [alert for alert in self.alerts if alert.state != "retracted"]

    def alert_count(self) -> int:
        """How many alerts stand (not retracted)."""
        return self._standing
