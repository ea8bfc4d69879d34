"""The outbox alone: events numbered in order and timed from the anchor, alerts kept."""

from __future__ import annotations

import pytest

from app.engine.outbox import Outbox, context


def test_events_are_numbered_and_timed_from_the_anchor() -> None:
    outbox = Outbox(None)
    outbox.emit("phase", 5_000, {})  # no anchor yet: the event is its own time origin
    outbox.anchor = 1_000
    outbox.emit("prompt", 3_500, {"id": "p-1"})
    events = outbox.take()
    assert [(e.type, e.seq, e.at_ms) for e in events] == [("phase", 1, 0), ("prompt", 2, 2_500)]
    assert events[1].to_wire() == {"type": "prompt", "seq": 2, "at_ms": 2_500, "id": "p-1"}
    assert outbox.take() == []
    outbox.emit("phase", 4_000, {})
    assert [e.seq for e in outbox.take()] == [3]


def test_prompt_and_alert_ids_count_apart() -> None:
    outbox = Outbox(0)
    assert [outbox.prompt_id(), outbox.prompt_id()] == ["p-1", "p-2"]
    alert = outbox.alert(10, "behaviour", "behaviour.slow_answer", "major", "000 远程服务 2")
    assert alert.id == "al-1" and alert.state == "confirmed" and alert.match == "rule"
    assert outbox.prompt_id() == "p-3"


def test_a_provisional_alert_is_settled_by_its_final() -> None:
    outbox = Outbox(0)
    kept = outbox.alert(1, "forbidden", "forbidden.shirk", "critical", "002", provisional=True)
    gone = outbox.alert(2, "forbidden", "forbidden.rude", "critical", "002", provisional=True)
    assert (kept.state, outbox.alert_count()) == ("provisional", 2)
    outbox.take()
    outbox.settle(kept, True, 3)
    outbox.settle(gone, False, 3)
    assert [e.to_wire() for e in outbox.take()] == [
        {"type": "alert_update", "seq": 3, "at_ms": 3, "id": "al-1", "state": "confirmed"},
        {"type": "alert_update", "seq": 4, "at_ms": 3, "id": "al-2", "state": "retracted"},
    ]
    assert outbox.alerts == [kept, gone]  # a retracted alert is kept: its id was sent
    assert outbox.standing_alerts() == [kept] and outbox.alert_count() == 1


def test_the_standing_alerts_are_counted_as_they_are_raised_and_settled() -> None:
    outbox = Outbox(0)
    first = outbox.alert(0, "forbidden", "forbidden.shirk", "critical", "002", provisional=True)
    second = outbox.alert(0, "forbidden", "forbidden.shirk", "critical", "002", provisional=True)
    outbox.alert(0, "behaviour", "behaviour.bare_what", "minor", "002")
    assert outbox.alert_count() == 3
    outbox.settle(first, still_said=False, t=1)
    outbox.settle(second, still_said=True, t=1)
    assert outbox.alert_count() == 2 == len(outbox.standing_alerts())


@pytest.mark.parametrize(
    ("text", "span", "chars", "expected"),
    [
        ("0123456789", (4, 6), 2, ("234567", 2)),
        ("0123456789", (4, 6), 0, ("45", 4)),
        ("0123456789", (1, 3), 5, ("01234567", 0)),  # cut at the start
        ("0123456789", (7, 9), 5, ("23456789", 2)),  # cut at the end
        ("0123456789", (0, 10), 3, ("0123456789", 0)),  # the match is the whole text
    ],
)
def test_an_alert_keeps_its_match_and_the_words_around_it(
    text: str, span: tuple[int, int], chars: int, expected: tuple[str, int]
) -> None:
    assert context(text, span, chars) == expected
    outbox = Outbox(0, context_chars=chars)
    alert = outbox.alert(1, "forbidden", "forbidden.shirk", "critical", "002", text=text, span=span)
    kept, begins = expected
    body = alert.to_body()
    assert (body["text"], body["span"], body.get("text_from", 0)) == (kept, list(span), begins)
    assert ("text_from" in body) == (begins > 0)
