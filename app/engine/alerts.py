"""Alerts on the agent's words as they are heard: forbidden phrases, 催挂, the wrong greeting.

Every hypothesis of the agent is judged as it arrives, on the hits the phrase index finds in it
(:class:`app.engine.matcher.SpeakerStream`). Words heard on a partial raise a provisional alert
at once; the segment's final confirms it (the words are still there) or retracts it (the ASR
revised them away): :meth:`PhraseAlerts.settle`. The same words are alerted once, however many
hypotheses repeat them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from app.engine.compiled import CompiledScript
from app.engine.matcher import SegmentHit
from app.engine.messages import AlertCategory, MatchKind
from app.engine.outbox import Outbox
from app.engine.phases import Phase
from app.engine.prompts import on_word_boundaries
from app.engine.required import GREETING, RequiredPrompts
from app.engine.script import Severity
from app.engine.segment import SegmentState
from app.engine.suggestions import Suggestions
from app.engine.timeline import Timeline


class PhraseAlerts:
    """The alerts on what the agent says, for one call."""

    def __init__(
        self,
        compiled: CompiledScript,
        timeline: Timeline,
        outbox: Outbox,
        prompts: RequiredPrompts,
        suggestions: Suggestions,
    ) -> None:
        self._compiled = compiled
        self._timeline = timeline
        self._outbox = outbox
        self._prompts = prompts
        self._suggestions = suggestions

    def judge(self, segment: SegmentState, hits: Sequence[SegmentHit], final: bool, t: int) -> None:
        """Alert on the hits in the agent's current hypothesis (provisional on a partial)."""
        for located in hits:
            if segment.alerted is not None and located.identity in segment.alerted:
                continue
            kind = located.hit.target.kind
            if kind == "forbidden":
                self._forbidden(segment, located, final, t)
            elif kind == "rushing_off":
                self._rushing_off(segment, located, final, t)
            elif kind == "greeting_word":
                self._greeting_word(segment, located, final, t)

    def settle(self, segment: SegmentState, t: int) -> None:
        """The segment is final (its ``hits`` those of its final words): confirm each
        provisional alert whose words are still there, retract the others."""
        if not segment.provisional:
            return
        present = {located.identity for located in segment.hits}
        for identity, alert in segment.provisional.items():
            self._outbox.settle(alert, identity in present, t)

    def _forbidden(self, segment: SegmentState, located: SegmentHit, final: bool, t: int) -> None:
        lexicon = self._compiled.lexicon
        assert lexicon is not None  # a forbidden phrase is in the index only with its lexicon
        entry = lexicon.entries[int(located.hit.target.ref)]
        timeline = self._timeline
        if timeline.call_type in entry.exempt_call_types or timeline.phase in entry.exempt_phases:
            return
        if entry.unless_after and self._compiled.said_before(entry, segment.norm.text, located):
            return
        if entry.boundary and not on_word_boundaries(segment.norm.text, located):
            return
        segment.mark(located.identity)
        category = lexicon.categories[entry.category]
        self._raise(
            segment,
            located,
            final,
            t,
            "forbidden",
            sys.intern(f"forbidden.{entry.category}"),  # kept per alert: one string each
            category.severity,
            entry.source,
            entry.phrase,
        )
        if entry.suggest is not None:
            self._suggestions.by_rule(entry.suggest, t)

    def _rushing_off(self, segment: SegmentState, located: SegmentHit, final: bool, t: int) -> None:
        rule = self._compiled.script.behaviour.rushing_off
        if self._timeline.call_type in rule.exempt_call_types:
            return
        segment.mark(located.identity)
        self._raise(
            segment,
            located,
            final,
            t,
            "behaviour",
            rule.rule,
            rule.severity,
            rule.source,
            located.hit.pattern,
        )

    def _greeting_word(
        self, segment: SegmentState, located: SegmentHit, final: bool, t: int
    ) -> None:
        """A time-of-day greeting word that is not the one for the time of the answer, while
        the greeting is still to be said or in the segment that said it."""
        greeting = self._prompts.by_rule(GREETING)
        expected = self._prompts.slots.get("greeting")
        word = located.hit.target.ref
        phase = self._timeline.phase
        if (
            greeting is None
            or expected is None
            or word == expected
            or (phase is not Phase.GREETING and phase is not Phase.ANSWERING)
            or (greeting.status == "done" and greeting.done_segment != segment.id)
        ):
            return
        segment.mark(located.identity)
        table = self._compiled.script.greeting
        assert table is not None  # a greeting word is in the index only with its table
        self._raise(
            segment,
            located,
            final,
            t,
            "script",
            "greeting.wrong_time",
            self._compiled.script.prompt_alerts.get("greeting.wrong_time", "major"),
            table.source,
            expected,
            detail=f"said {word}; at this time of day the greeting is {expected}",
        )

    def _raise(
        self,
        segment: SegmentState,
        located: SegmentHit,
        final: bool,
        t: int,
        category: AlertCategory,
        rule: str,
        severity: Severity,
        source: str,
        phrase: str,
        *,
        detail: str | None = None,
    ) -> None:
        span = located.span
        hit = located.hit
        match: MatchKind
        if hit.phonetic:
            match = "phonetic"
        elif "{" in hit.pattern:
            match = "pattern"
        else:
            match = "exact" if segment.text[span[0] : span[1]] == hit.pattern else "normalized"
        alert = self._outbox.alert(
            t,
            category,
            rule,
            severity,
            source,
            provisional=not final,
            detail=detail,
            phrase=phrase,
            text=segment.text,
            span=span,
            speaker=segment.speaker,
            segment=segment.id,
            match=match,
        )
        if not final:
            if segment.provisional is None:
                segment.provisional = {}
            segment.provisional[located.identity] = alert
