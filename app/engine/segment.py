"""One open segment of one speaker: its latest hypothesis and what was judged on it."""

from __future__ import annotations

from collections.abc import Sequence

from app.engine.matcher import SegmentHit
from app.engine.messages import Alert, Speaker
from app.engine.normalize import Normalized

#: The normalized text of a segment before any of its text was normalized.
EMPTY = Normalized("", "", ())


class SegmentState:
    """One open segment of one speaker, until its final. A plain class with slots: one is made
    per segment, and it needs nothing a dataclass adds."""

    __slots__ = (
        "id",
        "speaker",
        "text",
        "norm",
        "start_ms",
        "end_ms",
        "hits",
        "provisional",
        "alerted",
    )

    def __init__(self, id: str, speaker: Speaker, start_ms: int | None = None) -> None:
        self.id = id
        self.speaker = speaker
        self.text = ""
        #: The normalized text, worked out when needed: for every hypothesis of the agent, for
        #: the customer's final words only.
        self.norm = EMPTY
        self.start_ms = start_ms
        self.end_ms: int | None = None
        #: The hits in the latest hypothesis.
        self.hits: Sequence[SegmentHit] = ()
        #: Provisional alerts raised on partials of this segment, by hit identity, for the final
        #: to settle. Made when first needed, as is ``alerted`` (most segments raise nothing).
        self.provisional: dict[tuple[str, int], Alert] | None = None
        #: Identities of the hits that raised an alert (or were judged and let go).
        self.alerted: set[tuple[str, int]] | None = None

    def mark(self, identity: tuple[str, int]) -> None:
        """The hit ``identity`` was acted on: later hypotheses of the segment do not repeat it."""
        if self.alerted is None:
            self.alerted = set()
        self.alerted.add(identity)
