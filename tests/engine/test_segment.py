"""One open segment's state."""

from __future__ import annotations

from app.engine.segment import EMPTY, SegmentState, Transcript


def test_a_new_segment_has_nothing_judged() -> None:
    segment = SegmentState("a-1", "agent", 1200)
    assert (segment.text, segment.norm, segment.start_ms, segment.end_ms) == ("", EMPTY, 1200, None)
    assert segment.hits == () and segment.provisional is None and segment.alerted is None


def test_a_hit_acted_on_is_remembered() -> None:
    segment = SegmentState("a-1", "agent")
    segment.mark(("forbidden:0", 0))
    segment.mark(("forbidden:0", 1))
    assert segment.alerted == {("forbidden:0", 0), ("forbidden:0", 1)}


def test_the_transcript_gives_its_lines_in_order() -> None:
    transcript = Transcript()
    first = SegmentState("a-1", "agent", 0)
    first.text, first.end_ms = "您好", 800
    second = SegmentState("c-1", "customer")
    second.text = "我想查话费"
    transcript.add(first)
    transcript.add(second)
    assert len(transcript) == 2
    assert list(transcript.lines()) == [
        ("agent", "a-1", "您好", 0, 800),
        ("customer", "c-1", "我想查话费", None, None),
    ]
