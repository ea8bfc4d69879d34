"""Segments of speech: one speaker's open segment, with what was judged on it, and the
transcript of the final ones."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from app.engine.matcher import SegmentHit
from app.engine.messages import Alert, Speaker, TranscriptLine
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


class Transcript:
    """The final segments of a call with any text, in order, for the report.

    Kept as one list per field rather than an object per line: a call holds its transcript to
    its end, and a line then adds no object of its own (its texts and times exist already),
    nothing for the allocator to find room for nor for the collector to look at.

    With a ``window`` only the last ``window`` lines stay: each older line leaves memory
    numbered (the first line is 1) in :attr:`spilled`, for the shell to write to its store
    (:meth:`take_spilled`) and to give back for the report (``Earlier``). Without one, every
    line stays (the in-memory store, offline checks)."""

    __slots__ = ("speakers", "segments", "texts", "starts", "ends", "window", "before", "spilled")

    def __init__(self, window: int | None = None) -> None:
        self.speakers: list[Speaker] = []
        self.segments: list[str] = []
        self.texts: list[str] = []
        self.starts: list[int | None] = []
        self.ends: list[int | None] = []
        self.window = window
        #: How many lines have left memory: the first line held is line ``before + 1``.
        self.before = 0
        #: The lines that left memory since the shell last took them: (number, line).
        self.spilled: list[tuple[int, TranscriptLine]] = []

    def add(self, segment: SegmentState) -> None:
        """``segment`` is final."""
        self.speakers.append(segment.speaker)
        self.segments.append(segment.id)
        self.texts.append(segment.text)
        self.starts.append(segment.start_ms)
        self.ends.append(segment.end_ms)
        if self.window is not None and len(self.segments) > self.window:
            self.before += 1
            line = (
                self.speakers.pop(0),
                self.segments.pop(0),
                self.texts.pop(0),
                self.starts.pop(0),
                self.ends.pop(0),
            )
            self.spilled.append((self.before, line))

    def take_spilled(self) -> list[tuple[int, TranscriptLine]]:
        """The lines that left memory since the last take, numbered; the shell must store
        them (each once is enough: a call rebuilt after a restart hands them out again)."""
        spilled = self.spilled[:]
        self.spilled.clear()  # the same list: the session hands it out as ``spilled``
        return spilled

    def __len__(self) -> int:
        """Every line of the call, those that left memory included."""
        return self.before + len(self.segments)

    def lines(self) -> Iterator[TranscriptLine]:
        """The lines held, in order: (speaker, segment, text, start_ms, end_ms)."""
        return zip(self.speakers, self.segments, self.texts, self.starts, self.ends, strict=True)
