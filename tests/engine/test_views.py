"""The views of a call: its report and what it keeps of its words."""

from __future__ import annotations

import gc

from app.engine.messages import Listing
from tests.engine.conftest import Start, consult_call


def test_report_weighs_a_hit_by_sound_at_half(start_call: Start) -> None:
    d = start_call()
    consult_call(d)
    d.say("agent", "a3", "这个我不知到", 8000)
    d.say("agent", "a4", "我不知道", 9000)
    report = d.session.report()
    assert [a["match"] for a in report["alerts"]] == ["phonetic", "exact"]
    assert report["score"] == 100 - 30 - round(15 * 0.5 + 15)  # three phrases missed, two hits


def test_the_transcript_is_left_alone_by_the_collector(start_call: Start) -> None:
    """The transcript is one list per field, of atoms: no object per line for the collector to
    count or walk."""
    d = start_call()
    consult_call(d)
    for k in range(5):
        d.say("agent", f"x{k}", "请问还有什么可以帮您", 9000 + k * 100)
    gc.collect()
    t = d.session.transcript
    assert len(t) >= 5
    fields = (t.speakers, t.segments, t.texts, t.starts, t.ends)
    assert not any(gc.is_tracked(atom) for field in fields for atom in field)
    assert [line["segment"] for line in d.session.report()["transcript"]][-5:] == [
        f"x{k}" for k in range(5)
    ]


def test_the_listing_names_its_fields(start_call: Start) -> None:
    d = start_call()
    listing = d.session.listing()
    assert listing == Listing("test-line", 1, "consult", "greeting", 0)
    assert listing == ("test-line", 1, "consult", "greeting", 0)  # what the shell unpacks
    d.say("agent", "a-1", "不关我的事", 1000)
    assert d.session.listing().alerts == 1 == d.session.alert_count()


def test_the_checklist_says_where_each_required_phrase_stands(start_call: Start) -> None:
    d = start_call()
    assert [(c["rule"], c["status"]) for c in d.session.views.checklist()] == [
        ("greeting.open", "due"),
        ("closing.confirm", "pending"),
        ("rating.prompt", "pending"),
        ("closing.farewell", "pending"),
    ]
    consult_call(d)
    d.event("hangup", d.answer_ms + 9000, "customer")
    assert [(c["rule"], c["status"]) for c in d.session.views.checklist()] == [
        ("greeting.open", "done"),
        ("closing.confirm", "missed"),
        ("rating.prompt", "missed"),
        ("closing.farewell", "missed"),
    ]
    pending = d.session.views.checklist()[3]
    assert pending["text"] == "感谢您使用中国移动,祝您生活愉快,王先生,再见。"


def test_the_snapshot_leaves_out_follow_ups_still_waiting(start_call: Start) -> None:
    d = start_call()
    consult_call(d)
    d.say("agent", "a3", "请问我刚才给您的解释您明白吗", 8000)
    snapshot = d.session.snapshot()
    assert snapshot["phase"] == "rating"
    assert [p["rule"] for p in snapshot["prompts"]] == [
        "greeting.open",
        "situation.purpose",  # the customer's 你好 said nothing of what they call about
        "closing.confirm",
    ]
    d.tick(10000)
    assert [p["rule"] for p in d.session.snapshot()["prompts"]][-1] == "rating.prompt"
