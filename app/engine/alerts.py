"""Alerts on the agent's words as they are heard: forbidden phrases, 催挂, the wrong greeting.

Every hypothesis of the agent is judged as it arrives, on the hits the phrase index finds in it
(:class:`app.engine.matcher.SpeakerStream`). Words heard on a partial raise a provisional alert
at once; the segment's final confirms it (the words are still there) or retracts it (the ASR
revised them away): :meth:`PhraseAlerts.settle`. The same words are alerted once, however many
hypotheses repeat them.

Forbidden phrases, as their lexicon entries say:

- one alert per stretch of speech: where hits of several entries overlap, the most specific one
  stands (the one naming more of the words, then on the characters before by sound, as written
  before reworded); one raised on a partial that a more specific one overlaps later is
  retracted by the final;
- ``whole_utterance``: only when the phrase is all the segment says (a curt 不行。), judged on
  the final;
- ``softened_by``: followed within :data:`SOFTEN_WITHIN` characters by an offer to help (我不知道,
  我帮您查一下), the phrase is a finding of the entry's ``softened_severity``. A partial alerts at
  once, softened if the offer is already heard; one raised before the offer came is retracted by
  the final and raised again, softened (the final's words decide, as they do for every alert).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from typing import Final

from app.engine.compiled import CompiledScript
from app.engine.document import Severity
from app.engine.index import named_length
from app.engine.lexicon import LexiconEntry
from app.engine.matcher import SegmentHit
from app.engine.messages import AlertCategory, MatchKind
from app.engine.outbox import MAX_ALERTS_PER_FRAGMENT, Outbox
from app.engine.phases import Phase
from app.engine.prompts import on_word_boundaries
from app.engine.required import GREETING, RequiredPrompts
from app.engine.segment import SegmentState
from app.engine.suggestions import Suggestions
from app.engine.timeline import Timeline

#: Characters after a phrase within which an offer to help must begin to soften it.
SOFTEN_WITHIN: Final = 6
#: Words that may stand around a ``whole_utterance`` phrase: modal particles (不行吧, 不知道呢).
EDGE_PARTICLES: Final = frozenset("吧呢嘛哈呀啦了的喔哇嘞")
#: A hit's rank among overlapping hits of other entries: the most specific stands.
Rank = tuple[int, bool, bool, int]
#: A forbidden alert raised in the segment being judged: (start, end, rank, identity).
Raised = tuple[int, int, Rank, tuple[str, int]]
#: No alert superseded (shared: only read).
NONE_SUPERSEDED: Final[frozenset[tuple[str, int]]] = frozenset()


def _rank(located: SegmentHit) -> Rank:
    """The more of the words its pattern names, the more specific; then on the characters
    before by sound, as written before reworded, the earlier."""
    hit = located.hit
    return (named_length(hit.pattern), not hit.phonetic, not hit.derived, -located.start)


def _softened_by(located: SegmentHit, hits: Sequence[SegmentHit]) -> str | None:
    """The softening phrase of a forbidden hit's entry said right after it (within
    :data:`SOFTEN_WITHIN` characters), if one is among ``hits``."""
    key = located.hit.target.key
    for other in hits:
        if (
            other.hit.target.kind == "soften"
            and other.hit.target.excuses == key
            and located.end <= other.start + 1
            and other.start - located.end <= SOFTEN_WITHIN
        ):
            return other.hit.pattern
    return None


class PhraseAlerts:
    """The alerts on what the agent says, for one call."""

    def __init__(
        self,
        compiled: CompiledScript,
        timeline: Timeline,
        outbox: Outbox,
        prompts: RequiredPrompts,
        suggestions: Suggestions,
        per_fragment: int = MAX_ALERTS_PER_FRAGMENT,
    ) -> None:
        """``per_fragment``: new alerts one hypothesis may raise (a phrase repeated over a
        whole fragment would raise hundreds); hits past it are left for the segment's next
        hypothesis, as if not yet heard."""
        self._compiled = compiled
        self._per_fragment = per_fragment
        #: Alerts the hypothesis being judged may still raise.
        self._room = per_fragment
        self._timeline = timeline
        self._outbox = outbox
        self._prompts = prompts
        self._suggestions = suggestions
        #: The agent segment whose forbidden alerts ``_raised`` lists: (start, end, rank,
        #: identity) of each, to keep one alert per stretch of speech; and the identities of
        #: those a more specific hit overlapped, which the final retracts. Each made with its
        #: first (most segments raise nothing).
        self._segment: str | None = None
        self._raised: list[Raised] | None = None
        self._superseded: set[tuple[str, int]] | None = None

    def judge(self, segment: SegmentState, hits: Sequence[SegmentHit], final: bool, t: int) -> None:
        """Alert on the hits in the agent's current hypothesis (provisional on a partial), at
        most ``per_fragment`` new ones."""
        self._room = self._per_fragment
        forbidden: list[SegmentHit] | None = None
        for located in hits:
            if segment.alerted is not None and located.identity in segment.alerted:
                continue
            kind = located.hit.target.kind
            if kind != "forbidden" and self._room <= 0:
                continue
            if kind == "forbidden":
                if forbidden is None:
                    forbidden = []
                forbidden.append(located)
            elif kind == "rushing_off":
                self._rushing_off(segment, located, final, t)
            elif kind == "greeting_word":
                self._greeting_word(segment, located, final, t)
        if forbidden is not None:
            self._forbidden(segment, forbidden, hits, final, t)

    def settle(self, segment: SegmentState, t: int) -> None:
        """The segment is final (its ``hits`` those of its final words): confirm each
        provisional alert whose words are still there (and no more specific alert overlaps),
        retract the others. One of an entry an offer to help softened since it was raised is
        retracted and raised again, confirmed, softened."""
        superseded: AbstractSet[tuple[str, int]] = NONE_SUPERSEDED
        if self._segment == segment.id and self._superseded is not None:
            superseded = self._superseded
        if segment.provisional:
            present = {located.identity: located for located in segment.hits}
            softened: list[tuple[SegmentHit, str]] = []
            for identity, alert in segment.provisional.items():
                located = present.get(identity)
                stands = located is not None and identity not in superseded
                if located is not None and stands and alert.detail is None:
                    offer = self._softenable(located, segment.hits)
                    if offer is not None:
                        softened.append((located, offer))
                        stands = False
                self._outbox.settle(alert, stands, t)
            for located, offer in softened:
                entry = self._entry(located)
                self._alert(segment, located, entry, offer, True, t, suggest=False)
        if self._segment == segment.id:
            self._segment = None
            self._raised = None
            self._superseded = None

    def _forbidden(
        self,
        segment: SegmentState,
        found: list[SegmentHit],
        hits: Sequence[SegmentHit],
        final: bool,
        t: int,
    ) -> None:
        """Judge the forbidden hits not yet acted on: each entry's guards, then one alert per
        stretch of speech."""
        lexicon = self._compiled.lexicon
        assert lexicon is not None  # a forbidden phrase is in the index only with its lexicon
        if self._segment != segment.id:
            self._segment = segment.id
            self._raised = None
            self._superseded = None
        standing: list[tuple[SegmentHit, LexiconEntry, str | None]] = []
        for located in found:
            entry = lexicon.entries[int(located.hit.target.ref)]
            verdict = self._guarded(segment, located, entry, hits, final)
            if verdict is None:  # not yet: judged again on a later hypothesis
                continue
            if verdict is False:
                segment.mark(located.identity)
                continue
            standing.append((located, entry, verdict if isinstance(verdict, str) else None))
        standing.sort(key=lambda s: _rank(s[0]), reverse=True)
        for located, entry, softened_by in standing:
            if self._room <= 0:
                break  # not marked: judged again on the segment's next hypothesis
            rank = _rank(located)
            raised = self._raised
            if raised is None:
                raised = self._raised = []
            overlapped = [r for r in raised if r[0] < located.end and located.start < r[1]]
            segment.mark(located.identity)
            if any(r[2] >= rank for r in overlapped):
                continue  # a more specific alert stands on these words
            if overlapped:
                if self._superseded is None:
                    self._superseded = set()
                for r in overlapped:
                    self._superseded.add(r[3])
            raised.append((located.start, located.end, rank, located.identity))
            self._alert(segment, located, entry, softened_by, final, t)

    def _guarded(
        self,
        segment: SegmentState,
        located: SegmentHit,
        entry: LexiconEntry,
        hits: Sequence[SegmentHit],
        final: bool,
    ) -> bool | str | None:
        """What an entry's guards make of a hit: False (no alert), True (an alert), the
        softening phrase (a softened alert), or None (not yet: the words that decide are still
        to come)."""
        timeline = self._timeline
        if timeline.call_type in entry.exempt_call_types or timeline.phase in entry.exempt_phases:
            return False
        text = segment.norm.text
        if entry.unless_after and self._compiled.said_before(entry, text, located):
            return False
        if entry.boundary and not on_word_boundaries(text, located):
            return False
        if entry.whole_utterance:
            if not final:
                return None
            hit = located.hit
            whole = located.end - located.start == hit.end - hit.start  # begun in this segment
            around = text[: located.start] + text[located.end :]
            if not whole or any(c not in EDGE_PARTICLES for c in around):
                return False
        if entry.softened_by:
            softened = _softened_by(located, hits)
            if softened is not None:
                return softened
        return True

    def _entry(self, located: SegmentHit) -> LexiconEntry:
        lexicon = self._compiled.lexicon
        assert lexicon is not None  # a forbidden phrase is in the index only with its lexicon
        return lexicon.entries[int(located.hit.target.ref)]

    def _softenable(self, located: SegmentHit, hits: Sequence[SegmentHit]) -> str | None:
        """The offer that softens a forbidden hit in these hits, if its entry can be softened."""
        if located.hit.target.kind != "forbidden" or not self._entry(located).softened_by:
            return None
        return _softened_by(located, hits)

    def _alert(
        self,
        segment: SegmentState,
        located: SegmentHit,
        entry: LexiconEntry,
        softened_by: str | None,
        final: bool,
        t: int,
        *,
        suggest: bool = True,
    ) -> None:
        lexicon = self._compiled.lexicon
        assert lexicon is not None
        category = lexicon.categories[entry.category]
        self._raise(
            segment,
            located,
            final,
            t,
            "forbidden",
            sys.intern(f"forbidden.{entry.category}"),  # kept per alert: one string each
            entry.softened_severity if softened_by is not None else category.severity,
            entry.source,
            entry.phrase,
            detail=None
            if softened_by is None
            else f"softened: followed by an offer ({softened_by.replace('…', '')})",
        )
        if suggest and entry.suggest is not None:
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
        self._room -= 1
        span = located.span
        hit = located.hit
        match: MatchKind
        if hit.phonetic:
            match = "phonetic"
        elif hit.derived or "{" in hit.pattern:
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
