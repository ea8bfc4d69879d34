"""What a call sends: its events, numbered in order, and the alerts among them.

Every concern of a session writes to the one outbox of its call; after each input the session
hands the shell what was written (:meth:`Outbox.take`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.engine.document import Severity
from app.engine.messages import (
    Alert,
    AlertCategory,
    Event,
    MatchKind,
    Speaker,
    TranscriptLine,
)

#: Characters of a segment's text an alert carries on either side of its match.
ALERT_CONTEXT_CHARS = 40
#: New alerts one fragment of the agent may raise; the rest wait for the segment's next
#: hypothesis.
MAX_ALERTS_PER_FRAGMENT = 16


#: Characters of one customer final the intent check reads at most (half from its start, half
#: from its end): the check's cost grows with the text, and an ASR final this long is a monologue
#: of minutes.
INTENT_CHARS = 512


@dataclass(frozen=True, slots=True)
class FragmentBounds:
    """How much work and weight one fragment may cost. Its alerts (``HUASHU_ALERT_CONTEXT_CHARS``,
    ``HUASHU_MAX_ALERTS_PER_FRAGMENT``): a fragment of a phrase said over and over must not
    send, and keep, the whole segment's text once per alert. The customer's intent
    (``HUASHU_INTENT_MAX_CHARS``): a final of thousands of characters must not hold the event
    loop for milliseconds."""

    context_chars: int = ALERT_CONTEXT_CHARS
    per_fragment: int = MAX_ALERTS_PER_FRAGMENT
    intent_chars: int = INTENT_CHARS


#: The bounds of calls whose shell names none (offline checks, the dry run).
DEFAULT_BOUNDS = FragmentBounds()


@dataclass(frozen=True, slots=True)
class Windows:
    """What of a call's record the engine keeps in memory (``HUASHU_TRANSCRIPT_WINDOW``,
    ``HUASHU_ALERT_WINDOW``): the last ``transcript`` lines and the last ``alerts`` alerts, or
    with None all of them. A shell whose store keeps every alert event and the lines that leave
    (``Transcript.take_spilled``) sets both, so that a long call's memory does not grow with
    its length; it then gives back what left for the report (:class:`Earlier`)."""

    transcript: int | None = None
    alerts: int | None = None


#: Everything kept in memory: the in-memory store (the only copy), offline checks.
KEEP_ALL = Windows()


@dataclass(frozen=True, slots=True)
class Earlier:
    """What of a call left the engine's memory, read back from the shell's store for the
    report and the state: the first ``Transcript.before`` lines and the first
    ``Outbox.alerts_before`` alerts, as ``Alert.to_body`` gives them with their state now."""

    lines: list[TranscriptLine] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)


#: Nothing left memory.
NOTHING_EARLIER = Earlier()


def context(text: str, span: tuple[int, int], chars: int) -> tuple[str, int]:
    """The words around ``span`` in ``text``: the match and at most ``chars`` characters on
    either side, and where they begin in ``text``."""
    start = max(span[0] - chars, 0)
    return text[start : span[1] + chars], start


class Outbox:
    """The events of one call not yet handed to the shell, and every alert the call raised."""

    def __init__(
        self,
        anchor: int | None,
        context_chars: int = ALERT_CONTEXT_CHARS,
        window: int | None = None,
    ) -> None:
        """``context_chars``: what an alert carries of its segment around its match;
        ``window``: how many of the latest alerts :attr:`alerts` holds (None: all)."""
        #: The call time events count from (their ``at_ms``): the answer, before it the ring.
        self.anchor = anchor
        self._context_chars = context_chars
        #: The events not handed to the shell yet; made with the first.
        self._events: list[Event] | None = None
        self._seq = 0
        self._prompt_ids = 0
        self._alert_ids = 0
        #: Every alert raised (:attr:`alerts`); made with the first.
        self._alerts: list[Alert] | None = None
        self._window = window
        self.alerts_before = 0
        #: How many of them stand (not retracted): asked after every alert, so kept, not counted.
        self._standing = 0

    @property
    def alerts(self) -> list[Alert]:
        """Every alert raised, in order (with a window, the latest ones; ``alerts_before`` went
        before them); a retracted one stays (its id was sent). One that leaves while
        provisional is still settled: its segment holds it. Read only."""
        return self._alerts if self._alerts is not None else []

    def take(self) -> list[Event]:
        """The events written since the last take, in order; the outbox is empty after."""
        events = self._events
        if events is None:
            return []
        self._events = None
        return events

    def at_ms(self, t: int) -> int:
        """Call time ``t`` as the events give it: since the anchor."""
        return t - (self.anchor if self.anchor is not None else t)

    def emit(self, kind: str, t: int, body: dict[str, Any]) -> None:
        self._seq += 1
        event = Event(kind, self._seq, self.at_ms(t), body)
        if self._events is None:
            self._events = [event]
        else:
            self._events.append(event)

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
        alerts = self._alerts
        if alerts is None:
            alerts = self._alerts = []
        alerts.append(alert)
        if self._window is not None and len(alerts) > self._window:
            del alerts[0]
            self.alerts_before += 1
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
        """The alerts held not retracted, in the order raised (those that left memory are
        the shell's to give back: ``Earlier``)."""
        return [alert for alert in self.alerts if alert.state != "retracted"]

    def alert_count(self) -> int:
        """How many alerts stand (not retracted)."""
        return self._standing
