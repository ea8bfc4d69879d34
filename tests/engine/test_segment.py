"""One open segment's state."""

from __future__ import annotations

from app.engine.segment import EMPTY, SegmentState


def test_a_new_segment_has_nothing_judged() -> None:
    segment = SegmentState("a-1", "agent", 1200)
    assert (segment.text, segment.norm, segment.start_ms, segment.end_ms) == ("", EMPTY, 1200, None)
    assert segment.hits == () and segment.provisional is None and segment.alerted is None


def test_a_hit_acted_on_is_remembered() -> None:
    segment = SegmentState("a-1", "agent")
    segment.mark(("forbidden:0", 0))
    segment.mark(("forbidden:0", 1))
    assert segment.alerted == {("forbidden:0", 0), ("forbidden:0", 1)}
