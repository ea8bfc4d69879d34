"""The script library: the real one loads, cites its norms and holds every 禁语 of the seeds;
a bad file stops loading with ``file: field.path: reason``."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from datetime import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.engine.normalize import normalize_text
from app.engine.patterns import expand
from app.engine.phases import CallType
from app.engine.script import Script
from app.scripts.loader import Library, ScriptLoadError, load_library

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "scripts_data"
#: A source names a seed file (000–004) and then its section; several are joined by "; ".
SEED_SOURCE = re.compile(r"^00[0-4] \S")


@pytest.fixture(scope="module")
def library() -> Library:
    return load_library(DATA)


def test_the_real_library_loads(library: Library) -> None:
    assert set(library.scripts) == {"cmcc-10086", "cmcc-12580", "ct-10000"}
    assert set(library.lexicons) == {"forbidden"}
    lexicon = library.lexicons["forbidden"]
    assert set(lexicon.categories) == {
        "shirk",
        "complain_company",
        "blame_customer",
        "rush_off",
        "rude",
    }
    for script in library.scripts.values():
        assert library.lexicon_for(script) is lexicon


# --- every rule cites its norm ---------------------------------------------------------------


def _sources(script: Script) -> list[tuple[str, str]]:
    """(where, source) of everything in a script that carries a source."""
    out = [(p.rule, p.source) for p in script.prompts]
    out += [(s.rule, s.source) for s in script.situations]
    if script.greeting is not None:
        out.append(("greeting", script.greeting.source))
    if script.no_response is not None:
        out.append(("no_response", script.no_response.source))
        out += [
            (f"no_response.steps.{i}", s.source) for i, s in enumerate(script.no_response.steps)
        ]
    behaviour = script.behaviour
    out += [
        ("behaviour.slow_answer", behaviour.slow_answer.source),
        ("behaviour.rushing_off", behaviour.rushing_off.source),
        ("behaviour.hold_no_apology", behaviour.hold_no_apology.source),
        ("behaviour.interrupting", behaviour.interrupting.source),
        ("behaviour.bare_what", behaviour.bare_what.source),
        ("behaviour.agent_hung_up_first", behaviour.agent_hung_up_first.source),
    ]
    out += [(f"slot_defaults.{name}", d.source) for name, d in script.slot_defaults.items()]
    return out


def _cites_seeds(source: str) -> bool:
    return all(SEED_SOURCE.match(part) for part in source.split("; "))


@pytest.mark.parametrize("script_id", ["cmcc-10086", "cmcc-12580", "ct-10000"])
def test_every_rule_of_a_script_cites_a_seed(library: Library, script_id: str) -> None:
    for where, source in _sources(library.scripts[script_id]):
        assert _cites_seeds(source), (script_id, where, source)


def test_every_lexicon_entry_cites_a_seed(library: Library) -> None:
    for entry in library.lexicons["forbidden"].entries:
        assert _cites_seeds(entry.source), (entry.phrase, entry.source)


# --- every 禁语 of the seeds is an entry ------------------------------------------------------

#: (seed, section, phrase as the seed writes it, category), copied from the seed texts.
SEED_FORBIDDEN = [
    ("002", "服务禁忌—禁语", "你的电话怎么回事?!一会儿大,一会儿小的!", "blame_customer"),
    ("002", "服务禁忌—禁语", "我不是跟您说得很清楚了吗?!", "rude"),
    ("002", "服务禁忌—禁语", "谁告诉您的?!", "rude"),
    ("002", "服务禁忌—禁语", "干嘛还不挂机?!", "rush_off"),
    ("002", "服务禁忌—禁语", "不关我的事!", "shirk"),
    ("002", "服务禁忌—禁语", "我怎么知道?", "shirk"),
    ("002", "服务禁忌—禁语", "用不起就别用!", "rude"),
    ("002", "服务禁忌—禁语", "叫你旁边的人别说话!", "rude"),
    ("002", "服务禁忌—禁语", "你怎么这样?", "blame_customer"),
    ("002", "服务禁忌—禁语", "刚才跟你说过了,怎么还问?", "rude"),
    ("002", "服务禁忌—禁语", "不行就是不行!", "rude"),
    ("002", "服务禁忌—禁语", "你问我,我问谁?", "shirk"),
    ("002", "服务禁忌—禁语", "我就这个态度!", "rude"),
    ("002", "服务禁忌—禁语", "有意见找领导去!", "shirk"),
    ("002", "服务禁忌—禁语", "办不了,谁叫你没有(不记住)密码!", "blame_customer"),
    ("002", "服务禁忌—禁语", "有什么了不起!", "rude"),
    ("002", "服务禁忌—禁语", "你到底想怎么样?", "rude"),
    ("002", "服务禁忌—禁语", "现在才说,早干嘛来着?", "blame_customer"),
    ("002", "服务禁忌—禁语", "明明就是你不对!", "blame_customer"),
    ("002", "服务禁忌—禁语", "你有完没完?", "rude"),
    ("002", "服务禁忌—禁语", "没有这项业务就是没有!", "rude"),
    ("002", "服务禁忌—禁语", "你小声点行不行!", "rude"),
    ("001", "1.2.3 基本语言规范", "我不知道", "shirk"),
    ("001", "1.2.3 基本语言规范", "我也没办法", "shirk"),
    ("001", "1.2.3 基本语言规范", "我查不到", "shirk"),
    ("001", "1.2.3 基本语言规范", "我不清楚", "shirk"),
    ("004", "表3 服务禁用语—没有责任心的话", "我不管", "shirk"),
    ("004", "表3 服务禁用语—没有责任心的话", "我管不着", "shirk"),
    ("004", "表3 服务禁用语—没有责任心的话", "与我无关", "shirk"),
    ("004", "表3 服务禁用语—没有责任心的话", "我也没办法", "shirk"),
    ("004", "表3 服务禁用语—没有责任心的话", "我不知道", "shirk"),
    ("004", "表3 服务禁用语—没有责任心的话", "反正我做不了", "shirk"),
    ("004", "表3 服务禁用语—没有责任心的话", "小问题,管它呢", "shirk"),
    ("004", "表3 服务禁用语—埋怨的话", "公司是怎么搞的", "complain_company"),
    ("004", "表3 服务禁用语—埋怨的话", "开发人员/销售人员,怎么这样", "complain_company"),
    ("004", "表3 服务禁用语—埋怨的话", "这合同是怎么签的", "complain_company"),
    ("004", "表3 服务禁用语—埋怨的话", "怎么连这点小事他们都做不好", "complain_company"),
    ("004", "表3 服务禁用语—指责用户的话", "你怎么连这都不懂", "blame_customer"),
    ("004", "表3 服务禁用语—指责用户的话", "你怎么搞的", "blame_customer"),
    ("004", "表3 服务禁用语—指责用户的话", "你们怎么这么差", "blame_customer"),
    ("004", "表3 服务禁用语—指责用户的话", "这种小事也找我", "blame_customer"),
    ("004", "表3 服务禁用语—指责用户的话", "你们怎么啥工具都没有", "blame_customer"),
    ("004", "6.电话语言规范 6", "我不知道", "shirk"),
]


@pytest.mark.parametrize(
    ("seed", "section", "phrase", "category"),
    SEED_FORBIDDEN,
    ids=[f"{seed}-{phrase}" for seed, _, phrase, _ in SEED_FORBIDDEN],
)
def test_every_seed_forbidden_phrase_is_an_entry(
    library: Library, seed: str, section: str, phrase: str, category: str
) -> None:
    entries = [e for e in library.lexicons["forbidden"].entries if e.phrase == phrase]
    assert len(entries) == 1, f"{phrase!r}: one entry, phrase exactly as the seed writes it"
    (entry,) = entries
    assert entry.category == category
    assert f"{seed} {section}" in entry.source, entry.source


SEEDS = ROOT.parent / "shared" / "seeds"


@pytest.mark.parametrize("seed", sorted({seed for seed, *_ in SEED_FORBIDDEN}))
def test_the_table_is_copied_from_the_seeds(seed: str) -> None:
    (path,) = SEEDS.glob(f"{seed}_*.txt")
    text = path.read_text(encoding="utf-8")
    for row_seed, _, phrase, _ in SEED_FORBIDDEN:
        if row_seed == seed:
            assert phrase in text, (seed, phrase)


def test_one_entry_per_phrase(library: Library) -> None:
    phrases = [normalize_text(e.phrase) for e in library.lexicons["forbidden"].entries]
    assert len(phrases) == len(set(phrases))


#: Short forms that no ordinary service talk contains.
SHORT_BUT_UNAMBIGUOUS = {"闭嘴", "滚蛋", "傻逼", "傻x", "傻叉"}


def test_no_short_ambiguous_variant(library: Library) -> None:
    for entry in library.lexicons["forbidden"].entries:
        for phrase in (entry.phrase, *entry.variants):
            for pattern in expand(phrase):
                text = "".join(pattern.parts)
                assert len(text) >= 3 or text in SHORT_BUT_UNAMBIGUOUS, (entry.phrase, phrase)


def test_the_cannot_answer_entries_suggest_the_polite_phrase(library: Library) -> None:
    suggesting = {
        e.phrase
        for e in library.lexicons["forbidden"].entries
        if e.suggest == "situation.cannot_answer"
    }
    assert {"我不知道", "我也没办法", "我查不到", "我不清楚"} <= suggesting


# --- the greeting table ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clock", "word"),
    [
        (time(3, 59, 59), "晚上好"),
        (time(4, 0), "早上好"),
        (time(7, 59, 59), "早上好"),
        (time(8, 0), "上午好"),
        (time(11, 59, 59), "上午好"),
        (time(12, 0), "下午好"),
        (time(17, 59, 59), "下午好"),
        (time(18, 0), "晚上好"),
        (time(0, 0), "晚上好"),
    ],
)
def test_greeting_word_at(library: Library, clock: time, word: str) -> None:
    greeting = library.scripts["cmcc-10086"].greeting
    assert greeting is not None
    assert greeting.word_at(clock) == word


# --- which prompts a call gets ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("script_id", "call_type", "customer_class", "holiday", "greeting", "rules"),
    [
        (
            "cmcc-10086",
            CallType.CONSULT,
            None,
            False,
            "{greeting},中国移动,很高兴为您服务!",
            ["closing.confirm", "rating.prompt"],
        ),
        (
            "cmcc-10086",
            CallType.COMPLAINT,
            None,
            False,
            "{greeting},中国移动,很高兴为您服务!",
            ["closing.confirm", "rating.prompt"],
        ),
        (
            "cmcc-10086",
            CallType.CALLBACK,
            None,
            False,
            "这里是中国移动10086,您现在接听的电话是免费的.请问您是{title}吗?",
            ["answering.callback_lead", "closing.callback", "closing.farewell"],
        ),
        (
            "cmcc-10086",
            CallType.HARASSMENT,
            None,
            False,
            "{greeting},中国移动,很高兴为您服务!",
            ["closing.harassment"],
        ),
        (
            "cmcc-12580",
            CallType.CONSULT,
            None,
            False,
            "您好!很高兴为您服务!",
            ["closing.confirm", "closing.farewell"],
        ),
        (
            "cmcc-12580",
            CallType.COMPLAINT,
            None,
            True,
            "您好{holiday}!很高兴为您服务!",
            ["closing.confirm", "closing.farewell"],
        ),
        (
            "cmcc-12580",
            CallType.CONSULT,
            "secretary",
            True,
            "您好!{title}我是{agent_name},请问有什么可以帮您?",
            ["closing.confirm", "closing.farewell"],
        ),
        (
            "cmcc-12580",
            CallType.HARASSMENT,
            None,
            False,
            "您好!很高兴为您服务!",
            ["closing.harassment"],
        ),
        (
            "ct-10000",
            CallType.CONSULT,
            None,
            False,
            "您好,中国电信{work_no}号为您服务,请问有什么可以帮助您。",
            ["closing.farewell"],
        ),
        (
            "ct-10000",
            CallType.HARASSMENT,
            None,
            False,
            "您好,中国电信{work_no}号为您服务,请问有什么可以帮助您。",
            ["closing.harassment"],
        ),
    ],
)
def test_prompts_for_each_kind_of_call(
    library: Library,
    script_id: str,
    call_type: CallType,
    customer_class: str | None,
    holiday: bool,
    greeting: str,
    rules: list[str],
) -> None:
    prompts = library.scripts[script_id].prompts_for(call_type, customer_class, holiday)
    assert [(p.rule, p.text) for p in prompts if p.rule == "greeting.open"] == [
        ("greeting.open", greeting)
    ]
    assert [p.rule for p in prompts if p.rule != "greeting.open"] == rules


# --- bad files --------------------------------------------------------------------------------

LEXICON: dict[str, Any] = {
    "id": "forbidden",
    "name": "test lexicon",
    "categories": {"shirk": {"name": "推诿"}},
    "entries": [
        {
            "phrase": "我不知道",
            "category": "shirk",
            "source": "001 1.2.3 基本语言规范",
            "suggest": "situation.cannot_answer",
        }
    ],
}
SCRIPT: dict[str, Any] = {
    "id": "mini",
    "name": "mini script",
    "lexicon": "forbidden",
    "timing": {"ring_limit_s": 15},
    "greeting": {
        "periods": [{"start": "04:00", "word": "早上好"}, {"start": "08:00", "word": "上午好"}],
        "words": ["早上好", "上午好"],
        "source": "002 规范用语——10086开头语",
    },
    "prompts": [
        {
            "rule": "greeting.open",
            "phase": "greeting",
            "call_types": ["consult"],
            "text": "{greeting},中国移动,很高兴为您服务!",
            "source": "002 规范用语——10086开头语",
            "then": "answering",
        },
        {
            "rule": "closing.confirm",
            "phase": "closing",
            "call_types": ["consult"],
            "text": "请问我刚才给您的解释您明白吗?",
            "source": "002 规范用语—10086结束语",
            "then": "rating",
        },
        {
            "rule": "rating.prompt",
            "phase": "rating",
            "call_types": ["consult"],
            "text": "请稍候为我的服务进行评价",
            "source": "002 规范用语—10086结束语",
            "due": {"after": "closing.confirm", "delay_s": 2},
        },
    ],
    "situations": [
        {
            "rule": "situation.cannot_answer",
            "speaker": "agent",
            "trigger": {"phrases": ["不太清楚"]},
            "text": "对不起,请您留下联系电话,我们稍后帮您查询一下,再给您答复,好吗?",
            "source": "002 规范用语——其它 如果遇到一时难以答复的问题",
        }
    ],
    "behaviour": {
        "slow_answer": {
            "rule": "behaviour.slow_answer",
            "severity": "major",
            "source": "000 第二节远程服务规范用语 2",
        },
        "hold_no_apology": {
            "rule": "behaviour.hold_no_apology",
            "severity": "major",
            "source": "002 规范用语——其它 稍等后需向用户解释时",
            "apology": "让您久等了",
            "phrases": ["久等"],
        },
        "interrupting": {
            "rule": "behaviour.interrupting",
            "severity": "major",
            "source": "002 服务禁忌—行为 严重抢话",
            "alert_after": 2,
            "tolerance_ms": 300,
        },
        "bare_what": {
            "rule": "behaviour.bare_what",
            "severity": "minor",
            "source": "002 服务禁忌—禁语 未听清客户问题直接询问“什么”",
            "phrase": "什么",
            "utterances": ["什么"],
        },
        "rushing_off": {
            "rule": "behaviour.rushing_off",
            "severity": "major",
            "source": "002 服务禁忌—行为 催挂",
            "phrases": ["请您挂机"],
        },
        "agent_hung_up_first": {
            "rule": "behaviour.agent_hung_up_first",
            "severity": "major",
            "source": "004 5.电话行为规范 9",
        },
    },
}

Edit = Callable[[dict[str, Any], dict[str, Any]], None]


def _write(root: Path, script: dict[str, Any] | str, lexicon: dict[str, Any] | str) -> None:
    """A library of one script (scripts/mini.yaml) and one lexicon (lexicons/forbidden.yaml)."""
    for sub, name, doc in (("scripts", "mini", script), ("lexicons", "forbidden", lexicon)):
        (root / sub).mkdir(parents=True, exist_ok=True)
        text = doc if isinstance(doc, str) else yaml.safe_dump(doc, allow_unicode=True)
        (root / sub / f"{name}.yaml").write_text(text, encoding="utf-8")


def test_the_minimal_library_loads(tmp_path: Path) -> None:
    _write(tmp_path, SCRIPT, LEXICON)
    library = load_library(tmp_path)
    assert [p.rule for p in library.scripts["mini"].prompts] == [
        "greeting.open",
        "closing.confirm",
        "rating.prompt",
    ]


def _set(path: str, value: Any) -> Edit:
    """Set (or, with value ``None``, delete) a dotted path in the script or, after 'lexicon:',
    the lexicon document."""

    def edit(script: dict[str, Any], lexicon: dict[str, Any]) -> None:
        doc, dotted = script, path
        if path.startswith("lexicon:"):
            doc, dotted = lexicon, path.removeprefix("lexicon:")
        *parents, last = dotted.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is None:
            del node[int(last) if isinstance(node, list) else last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return edit


BAD_FILES = [
    # (case id, edit, file, field path, reason)
    ("missing field", _set("name", None), "scripts/mini.yaml", "name", "Field required"),
    (
        "missing nested field",
        _set("prompts.1.source", None),
        "scripts/mini.yaml",
        "prompts.1.source",
        "Field required",
    ),
    (
        "wrong type",
        _set("timing.ring_limit_s", "soon"),
        "scripts/mini.yaml",
        "timing.ring_limit_s",
        "valid number",
    ),
    (
        "wrong type: list expected",
        _set("prompts.0.call_types", "consult"),
        "scripts/mini.yaml",
        "prompts.0.call_types",
        "valid tuple",
    ),
    (
        "unknown phase",
        _set("prompts.0.phase", "chatting"),
        "scripts/mini.yaml",
        "prompts.0.phase",
        "Input should be",
    ),
    (
        "unknown slot",
        _set("prompts.0.text", "您好,中国移动{badge}号为您服务"),
        "scripts/mini.yaml",
        "prompts.0.text",
        r"unknown slot\(s\) \['badge'\]",
    ),
    (
        "unknown key",
        _set("prompts.0.colour", "red"),
        "scripts/mini.yaml",
        "prompts.0.colour",
        "Extra inputs are not permitted",
    ),
    (
        "rule id outside the areas",
        _set("prompts.0.rule", "hello.open"),
        "scripts/mini.yaml",
        "prompts.0.rule",
        "should match pattern",
    ),
    (
        "due with both triggers",
        _set("prompts.2.due", {"at": "phase", "after": "closing.confirm"}),
        "scripts/mini.yaml",
        "prompts.2.due",
        "exactly one",
    ),
    (
        "holiday on both calendars",
        _set("holidays", [{"greeting": "节日快乐", "date": "10-01", "lunar": "08-15"}]),
        "scripts/mini.yaml",
        "holidays.0",
        r"exactly one of 'date' \(Gregorian\) or 'lunar'",
    ),
    (
        "situation without a cause",
        _set("situations", [{"rule": "situation.x", "text": "请讲", "source": "002 情景"}]),
        "scripts/mini.yaml",
        "situations.0",
        "exactly one of 'trigger', 'event' or 'intent'",
    ),
    (
        "due.after names an unknown rule",
        _set("prompts.2.due.after", "closing.nothing"),
        "scripts/mini.yaml",
        "(top)",
        "prompt rating.prompt: due.after closing.nothing is unknown",
    ),
    (
        "greeting periods out of order",
        _set("greeting.periods.1.start", "03:00"),
        "scripts/mini.yaml",
        "greeting.periods",
        "increasing order",
    ),
    (
        "file stem is not the id",
        _set("id", "other"),
        "scripts/mini.yaml",
        "id",
        "must equal the file name 'mini'",
    ),
    (
        "unknown lexicon",
        _set("lexicon", "nowhere"),
        "scripts/mini.yaml",
        "lexicon",
        "no lexicon 'nowhere' under lexicons/",
    ),
    (
        "suggest names no situation of the script",
        _set("situations", []),
        "scripts/mini.yaml",
        "lexicon forbidden.entries.0.suggest",
        "'situation.cannot_answer' is not a situation of this script",
    ),
    (
        "no behaviour section",
        _set("behaviour", None),
        "scripts/mini.yaml",
        "behaviour",
        "Field required",
    ),
    (
        "behaviour rule without source",
        _set("behaviour.agent_hung_up_first.source", None),
        "scripts/mini.yaml",
        "behaviour.agent_hung_up_first.source",
        "Field required",
    ),
    (
        "behaviour rule id outside the behaviour area",
        _set("behaviour.slow_answer.rule", "greeting.slow_answer"),
        "scripts/mini.yaml",
        "behaviour.slow_answer.rule",
        "should match pattern",
    ),
    (
        "behaviour rule of an unknown severity",
        _set("behaviour.bare_what.severity", "grave"),
        "scripts/mini.yaml",
        "behaviour.bare_what.severity",
        "Input should be",
    ),
    (
        "a behaviour rule's words left out",
        _set("behaviour.rushing_off.phrases", None),
        "scripts/mini.yaml",
        "behaviour.rushing_off.phrases",
        "Field required",
    ),
    (
        "a slot that needs a default has none",
        _set("prompts.0.text", "{greeting},中国移动,{title}您好"),
        "scripts/mini.yaml",
        "(top)",
        r"prompt greeting.open: slot\(s\) \['title'\] need slot_defaults",
    ),
    (
        "a slot default without source",
        _set("slot_defaults", {"title": {"text": "先生/女士"}}),
        "scripts/mini.yaml",
        "slot_defaults.title.source",
        "Field required",
    ),
    (
        "a default for a slot the engine does not know",
        _set("slot_defaults", {"badge": {"text": "x", "source": "002 规范用语"}}),
        "scripts/mini.yaml",
        "(top)",
        r"slot_defaults: unknown slot\(s\) \['badge'\]",
    ),
    (
        "lexicon entry without source",
        _set("lexicon:entries.0.source", None),
        "lexicons/forbidden.yaml",
        "entries.0.source",
        "Field required",
    ),
    (
        "lexicon source too short",
        _set("lexicon:entries.0.source", "01"),
        "lexicons/forbidden.yaml",
        "entries.0.source",
        "at least 3 characters",
    ),
    (
        "lexicon entry of an unknown category",
        _set("lexicon:entries.0.category", "hurry"),
        "lexicons/forbidden.yaml",
        "(top)",
        "entries.0: category 'hurry' is not in categories",
    ),
    (
        "lexicon file stem is not the id",
        _set("lexicon:id", "banned"),
        "lexicons/forbidden.yaml",
        "id",
        "must equal the file name 'forbidden'",
    ),
]

LINE = re.compile(r"^(?P<file>.+?\.yaml): (?P<field>.+?): (?P<reason>.*)$")


def _errors(message: str, root: Path) -> list[tuple[str, str, str]]:
    """(file relative to the library, field path, reason) of every line of a load error."""
    out = []
    for line in message.splitlines():
        m = LINE.match(line)
        assert m, f"not 'file: field: reason': {line!r}"
        out.append((Path(m["file"]).relative_to(root).as_posix(), m["field"], m["reason"]))
    return out


@pytest.mark.parametrize(
    ("edit", "file", "field", "reason"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_FILES],
)
def test_a_bad_file_stops_loading_with_file_field_reason(
    tmp_path: Path, edit: Edit, file: str, field: str, reason: str
) -> None:
    script, lexicon = copy.deepcopy(SCRIPT), copy.deepcopy(LEXICON)
    edit(script, lexicon)
    _write(tmp_path, script, lexicon)
    with pytest.raises(ScriptLoadError) as info:
        load_library(tmp_path)
    errors = _errors(str(info.value), tmp_path)
    assert any((f, p) == (file, field) and re.search(reason, r) for f, p, r in errors), errors


@pytest.mark.parametrize(
    ("script", "lexicon", "file"),
    [
        pytest.param("id: mini\nprompts: [\n", LEXICON, "scripts/mini.yaml", id="script"),
        pytest.param(
            SCRIPT, "id: forbidden\n  entries: - x\n", "lexicons/forbidden.yaml", id="lexicon"
        ),
    ],
)
def test_a_yaml_syntax_error_names_the_file(
    tmp_path: Path, script: dict[str, Any] | str, lexicon: dict[str, Any] | str, file: str
) -> None:
    _write(tmp_path, script, lexicon)
    with pytest.raises(ScriptLoadError) as info:
        load_library(tmp_path)
    ((where, field, reason),) = _errors(str(info.value), tmp_path)
    assert (where, field) == (file, "(yaml)")
    assert "line" in reason


def test_an_empty_library_is_refused(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    with pytest.raises(ScriptLoadError, match=r": \(dir\): no scripts under scripts/"):
        load_library(tmp_path)


def _own_lexicon(category: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": "acme",
        "name": "ACME's own list",
        "categories": {"acme_curt": category or {"name": "curt replies", "severity": "major"}},
        "entries": [{"phrase": "自己看说明书", "category": "acme_curt", "source": "ACME 2026-11"}],
    }


def test_a_script_uses_several_lexicons_as_one(tmp_path: Path) -> None:
    _write(tmp_path, {**SCRIPT, "lexicons": ["acme"]}, LEXICON)
    (tmp_path / "lexicons" / "acme.yaml").write_text(
        yaml.safe_dump(_own_lexicon(), allow_unicode=True), encoding="utf-8"
    )
    library = load_library(tmp_path)
    script = library.scripts["mini"]
    assert script.lexicon_ids == ("forbidden", "acme")
    merged = library.lexicon_for(script)
    assert merged is not None and merged.id == "forbidden+acme"
    assert [e.phrase for e in merged.entries][-1] == "自己看说明书"
    assert set(merged.categories) == {*LEXICON["categories"], "acme_curt"}


@pytest.mark.parametrize(
    ("lexicons", "own", "reason"),
    [
        (["nope"], None, "lexicons: no lexicon 'nope'"),
        (["acme"], "clash", "defined differently in lexicons 'forbidden' and 'acme'"),
        (["Not An Id"], None, "lexicons.0"),
    ],
)
def test_a_script_naming_a_missing_or_clashing_lexicon_stops_loading(
    tmp_path: Path, lexicons: list[str], own: str | None, reason: str
) -> None:
    _write(tmp_path, {**SCRIPT, "lexicons": lexicons}, LEXICON)
    category = next(iter(LEXICON["categories"]))
    clash = {**_own_lexicon(), "categories": {category: {"name": "other", "severity": "minor"}}}
    clash["entries"] = [{**clash["entries"][0], "category": category}]
    (tmp_path / "lexicons" / "acme.yaml").write_text(
        yaml.safe_dump(clash if own else _own_lexicon(), allow_unicode=True), encoding="utf-8"
    )
    with pytest.raises(ScriptLoadError) as info:
        load_library(tmp_path)
    assert reason in str(info.value)
