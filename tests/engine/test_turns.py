"""The timeline of both speakers' segments alone: interruptions found whatever the order."""

from __future__ import annotations

import itertools

import pytest

from app.engine.turns import KEEP, Turns

#: (speaker, segment, start_ms, end_ms, back_channel)
Row = tuple[str, str, int | None, int | None, bool]

CALL: list[Row] = [
    ("customer", "c1", 0, 4_000, False),
    ("agent", "a1", 2_000, 5_000, False),  # over c1
    ("agent", "a2", 5_500, 6_000, True),  # back-channel
    ("customer", "c2", 5_000, 9_000, False),
    ("agent", "a3", 8_900, 9_500, False),  # within the tolerance of c2's end
    ("customer", "c3", 10_000, 14_000, False),
    ("agent", "a4", 11_000, 12_000, False),  # over c3
    ("customer", "c4", 11_500, 13_000, False),  # overlaps c3 too: a4 counts once
]


@pytest.mark.parametrize("order", list(itertools.permutations(range(len(CALL))))[::997])
def test_the_same_interruptions_in_any_order_of_arrival(order: tuple[int, ...]) -> None:
    turns = Turns(tolerance_ms=300)
    found = []
    for k in order:
        speaker, segment, start, end, back = CALL[k]
        found += turns.add(speaker, segment, start, end, back)  # type: ignore[arg-type]
    assert sorted(i.agent.segment for i in found) == ["a1", "a4"]
    assert turns.segments == len(CALL) and turns.untimed == 0


@pytest.mark.parametrize(
    ("start", "end"),
    [(None, 1_000), (1_000, None), (None, None), (2_000, 1_000)],
)
def test_a_segment_without_usable_times_is_counted_and_judged_against_nothing(
    start: int | None, end: int | None
) -> None:
    turns = Turns(tolerance_ms=0)
    assert turns.add("customer", "c1", 0, 5_000, False) == []
    assert turns.add("agent", "a1", start, end, False) == []
    assert (turns.segments, turns.untimed) == (2, 1)


def test_a_zero_length_customer_segment_cannot_be_interrupted() -> None:
    turns = Turns(tolerance_ms=0)
    turns.add("customer", "c1", 1_000, 1_000, False)
    assert turns.add("agent", "a1", 1_000, 2_000, False) == []


def test_only_the_recent_segments_are_kept() -> None:
    turns = Turns(tolerance_ms=0)
    turns.add("customer", "c0", 0, 10_000, False)
    for k in range(KEEP):
        turns.add("customer", f"c{k + 1}", 100_000 + k * 10, 100_000 + k * 10 + 5, False)
    # c0 has been forgotten: an agent final this late is judged against the recent ones only
    assert turns.add("agent", "a1", 5_000, 6_000, False) == []
