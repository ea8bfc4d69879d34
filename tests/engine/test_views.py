"""The views of a call: its report and what it keeps of its words."""

from __future__ import annotations

import gc

import pytest

from app.engine.compiled import CompiledScript
from app.engine.messages import CallEvent, Listing
from app.engine.phases import CallType
from app.scripts.loader import load_library
from tests.corpus.build import ROOT
from tests.engine.conftest import Start, consult_call, of, start


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
    assert listing == d.session.views.listing()
    d.say("agent", "a-1", "不关我的事", 1000)
    assert d.session.listing().alerts == 1 == d.session.alert_count()
    # the session reads its listing itself (asked after every alert): the views' own
    assert d.session.listing() == d.session.views.listing()
    d.session.handle(CallEvent("hangup", None, "agent"), 5000)
    assert d.session.listing() == d.session.views.listing()
    assert d.session.listing().phase == "ended"


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


# -- fair reports: each phrase judged on its own, alternatives, each finding charged once ------

LIBRARY = load_library(ROOT / "scripts_data")


def real(script_id: str) -> CompiledScript:
    script = LIBRARY.scripts[script_id]
    return CompiledScript(script, LIBRARY.lexicon_for(script))


def test_a_farewell_said_after_a_skipped_rating_prompt_counts(start_call: Start) -> None:
    """The test script requires the rating prompt, then the farewell: skipped, the rating
    prompt is missed (once); the farewell said word for word is said."""
    d = start_call()
    consult_call(d)
    d.say("agent", "a3", "请问我刚才给您的解释您明白吗", 8000)
    events = d.say("agent", "a4", "感谢您使用中国移动，祝您生活愉快，王先生，再见", 12_000)
    assert [(e["type"], e.get("rule")) for e in events if e["type"] != "alert"] == [
        ("prompt", "rating.prompt"),  # its pause (2 s) ended before these words
        ("prompt", "closing.farewell"),
        ("prompt_done", "closing.farewell"),
    ]
    report = of(d.event("hangup", d.answer_ms + 14_000, "customer"), "report")[0]
    assert [s["rule"] for s in report["said"]] == [
        "greeting.open",
        "closing.confirm",
        "closing.farewell",
    ]
    assert report["missed"] == ["rating.prompt"]
    assert [a["rule"] for a in report["alerts"]] == ["rating.missing"]
    assert report["deductions"] == [{"rule": "rating.prompt", "points": 10, "why": "missed"}]
    assert report["score"] == 90


CONSULT = [
    ("agent", "上午好，中国移动，很高兴为您服务"),
    ("customer", "我想查一下话费"),
    ("agent", "您这个月话费是五十八元"),
    ("customer", "好的，没有了"),
    ("agent", "请问我刚才给您的解释您明白吗"),
]


@pytest.mark.parametrize(
    ("script", "call_type", "title", "lines", "said", "missed"),
    [
        # 002 请稍候为我的服务进行评价/感谢您使用中国移动…: either one ends the consultation
        (
            "cmcc-10086",
            "consult",
            "王先生",
            [*CONSULT, ("agent", "请稍候为我的服务进行评价")],
            {"rating.prompt": "请稍候为我的服务进行评价"},
            [],
        ),
        (
            "cmcc-10086",
            "consult",
            "王先生",
            [*CONSULT, ("agent", "感谢您使用中国移动，祝您工作顺利，王先生，再见")],
            {"rating.prompt": "感谢您使用中国移动,祝您生活愉快,王先生,再见。"},
            [],
        ),
        # 先生/小姐 when the platform names nobody: either one said
        (
            "cmcc-10086",
            "consult",
            None,
            [*CONSULT, ("agent", "感谢您使用中国移动，祝您生活愉快，女士，再见")],
            {"rating.prompt": "感谢您使用中国移动,祝您生活愉快,先生/女士,再见。"},
            [],
        ),
        # 10086/12580 in the return visit's closing: either number
        (
            "cmcc-10086",
            "callback",
            "王先生",
            [
                ("agent", "这里是中国移动10086，您现在接听的电话是免费的，请问您是王先生吗"),
                ("customer", "是我"),
                (
                    "agent",
                    "感谢您对中国移动一如既往的支持，欢迎您有疑问随时拨打12580，我们将竭诚为您服务",
                ),
                ("agent", "感谢您使用中国移动，祝您生活愉快，王先生，再见"),
            ],
            {
                "closing.callback": "感谢您对中国移动一如既往的支持,欢迎您有疑问随时拨打10086/12580我们将竭诚为您服务"
            },
            [],
        ),
        # the return visit's farewell without its 结束语: the farewell counts, the 结束语 is missed
        (
            "cmcc-10086",
            "callback",
            "王先生",
            [
                ("agent", "这里是中国移动10086，您现在接听的电话是免费的，请问您是王先生吗"),
                ("customer", "是我"),
                ("agent", "感谢您使用中国移动，祝您生活愉快，王先生，再见"),
            ],
            {"closing.farewell": "感谢您使用中国移动,祝您生活愉快,王先生,再见。"},
            ["closing.callback"],
        ),
    ],
)
def test_each_phrase_judged_on_its_own_and_alternatives(
    script: str,
    call_type: str,
    title: str | None,
    lines: list[tuple[str, str]],
    said: dict[str, str],
    missed: list[str],
) -> None:
    d = start(
        real(script),
        call_type=CallType(call_type),
        customer_title=title,
        direction="outbound" if call_type == "callback" else "inbound",
    )
    for k, (speaker, text) in enumerate(lines):
        d.say(speaker, f"{speaker[0]}{k}", text, 3000 * (k + 1), start_ms=3000 * (k + 1) - 1000)
    report = of(d.event("hangup", d.answer_ms + 60_000, "customer"), "report")[0]
    texts = {s["rule"]: s["text"] for s in report["said"]}
    for rule, text in said.items():
        assert texts[rule] == text
    assert report["missed"] == missed
    assert report["score"] == 100 - 10 * len(missed) - 3 * len(report["deviated"])


def test_the_report_gives_its_formula_and_every_deduction(start_call: Start) -> None:
    d = start_call()
    consult_call(d)
    d.say("agent", "a3", "这个我不知到", 8000)  # by sound: half
    d.say("agent", "a4", "我不知道", 9000)
    report = of(d.event("hangup", d.answer_ms + 10_000, "customer"), "report")[0]
    assert report["score_formula"] == (
        "100 − 15 per forbidden phrase (× 0.5 when matched by sound) − 5 per behaviour alert"
        " − 5 per script alert (not greeting.missing, closing.missing, rating.missing: the"
        " missed phrase itself is charged) − 10 per required phrase missed − 3 per phrase said"
        " but deviated (similarity below 0.95); rounded, between 0 and 100"
    )
    assert [(x["rule"], x["points"]) for x in report["deductions"]] == [
        ("forbidden.shirk", 7.5),
        ("forbidden.shirk", 15),
        ("closing.confirm", 10),
        ("rating.prompt", 10),
        ("closing.farewell", 10),
    ]
    assert report["score"] == 100 - round(sum(x["points"] for x in report["deductions"]))
