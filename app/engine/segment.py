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


class Lines:
    """The lines of a transcript, one list per field (see :class:`Transcript`)."""

    __slots__ = ("speakers", "segments", "texts", "starts", "ends")

    def __init__(self) -> None:
        self.speakers: list[Speaker] = []
        self.segments: list[str] = []
        self.texts: list[str] = []
        self.starts: list[int | None] = []
        self.ends: list[int | None] = []


class Transcript:
    """The final segments of a call with any text, in order, for the report.

    Kept as one list per field rather than an object per line: a call holds its transcript to
    its end, and a line then adds no object of its own (its texts and times exist already),
    nothing for the allocator to find room for nor for the collector to look at. The lists are
    made with the first line: an idle call has none.

    With a ``window`` only the last ``window`` lines stay: each older line leaves memory
    numbered (the first line is 1) in :attr:`spilled`, for the shell to write to its store
    (:meth:`take_spilled`) and to give back for the report (``Earlier``). Without one, every
    line stays (the in-memory store, offline checks)."""

    __slots__ = ("_lines", "window", "before", "_spilled")

    def __init__(self, window: int | None = None) -> None:
        self._lines: Lines | None = None
        self.window = window
        #: How many lines have left memory: the first line held is line ``before + 1``.
        self.before = 0
        #: The lines that left memory since the shell last took them: (number, line); made
        #: when the first one leaves.
        self._spilled: list[tuple[int, TranscriptLine]] | None = None

    # The lines held, one field each, in order (read only).

    @property
    def speakers(self) -> Sequence[Speaker]:
        return self._lines.speakers if self._lines is not None else ()

    @property
    def segments(self) -> Sequence[str]:
        return self._lines.segments if self._lines is not None else ()

    @property
    def texts(self) -> Sequence[str]:
        return self._lines.texts if self._lines is not None else ()

    @property
    def starts(self) -> Sequence[int | None]:
        return self._lines.starts if self._lines is not None else ()

    @property
    def ends(self) -> Sequence[int | None]:
        return self._lines.ends if self._lines is not None else ()

    @property
    def spilled(self) -> Sequence[tuple[int, TranscriptLine]]:
        """The lines that left memory and were not taken yet (:meth:`take_spilled`)."""
        return self._spilled if self._spilled is not None else ()

    def add(self, segment: SegmentState) -> None:
        """``segment`` is final."""
        lines = self._lines
        if lines is None:
            lines = self._lines = Lines()
        lines.speakers.append(segment.speaker)
        lines.segments.append(segment.id)
        lines.texts.append(segment.text)
        lines.starts.append(segment.start_ms)
        lines.ends.append(segment.end_ms)
        if self.window is not None and len(lines.segments) > self.window:
            self.before += 1
            line = (
                lines.speakers.pop(0),
                lines.segments.pop(0),
                lines.texts.pop(0),
                lines.starts.pop(0),
                lines.ends.pop(0),
            )
            if self._spilled is None:
                self._spilled = []
            self._spilled.append((self.before, line))

    def take_spilled(self) -> list[tuple[int, TranscriptLine]]:
        """The lines that left memory since the last take, numbered; the shell must store
        them (each once is enough: a call rebuilt after a restart hands them out again)."""
        spilled = self._spilled
        self._spilled = None
        return spilled if spilled is not None else []

    def __len__(self) -> int:
        """Every line of the call, those that left memory included."""
        return self.before + len(self.segments)

    def lines(self) -> Iterator[TranscriptLine]:
        """The lines held, in order: (speaker, segment, text, start_ms, end_ms)."""
        held = self._lines
        if held is None:
            return iter(())
        return zip(held.speakers, held.segments, held.texts, held.starts, held.ends, strict=True)
