"""Reading recorded calls (app/check/readers.py): each layout, what it cannot judge, and
hostile input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.check.calls import RING_RULES, TIME_OF_DAY_RULES, TIMED_RULES
from app.check.readers import Options, Source, Unreadable, discover, read
from app.engine.messages import CallEvent, Fragment
from tests.check.conftest import CALLS, ENGINE_CALLS

OPTIONS = Options()


def one(path: Path, options: Options = OPTIONS) -> object:
    [call] = read(discover([path], options.format)[0], options)
    return call


class TestDiscover:
    def test_a_directory_of_protocol_calls(self) -> None:
        sources = discover([CALLS])
        assert [Path(s.path).name for s in sources] == sorted(p.name for p in CALLS.glob("*.jsonl"))
        assert {s.layout for s in sources} == {"protocol"}

    def test_engine_calls_are_directories_of_legs(self) -> None:
        [source] = discover([ENGINE_CALLS / "tencent"], "tencent")
        assert source.layout == "engine" and source.path.endswith("tencent-call-1")

    @pytest.mark.parametrize(
        ("path", "fmt", "says"),
        [
            (Path("/nonexistent/calls"), "huashu", "no such file"),
            (None, "huashu", "no calls here"),
            (CALLS, "tencent", "no calls here"),
        ],
    )
    def test_nothing_to_check_says_why(
        self, tmp_path: Path, path: Path | None, fmt: str, says: str
    ) -> None:
        with pytest.raises(Unreadable) as error:
            discover([path or tmp_path], fmt)
        assert says in str(error.value)


class TestProtocol:
    def test_a_call_with_its_start_events_and_fragments(self) -> None:
        call = one(CALLS / "a1001-consult-good.jsonl")
        assert call.setup.script_id == "cmcc-10086" and call.setup.agent_id == "A1001"
        assert call.setup.ring_at_ms is not None and call.answered_ms is not None
        kinds = [type(item).__name__ for _, item in call.inputs]
        lines = (CALLS / "a1001-consult-good.jsonl").read_text(encoding="utf-8")
        assert kinds[0] == "CallEvent" and kinds.count("Fragment") == lines.count('"fragment"')
        assert call.hangs_up and call.not_judged == () and call.notes == ()

    def test_untimed_lines_and_refused_lines(self) -> None:
        call = one(CALLS / "a1002-consult-untimed.jsonl")
        assert set(call.not_judged) == {*RING_RULES, *TIME_OF_DAY_RULES, *TIMED_RULES}
        assert any("fragment.speaker: must be agent or customer" in n for n in call.notes)
        assert any("not JSON" in n for n in call.notes)
        assert sum(isinstance(item, Fragment) for _, item in call.inputs) == 3

    @pytest.mark.parametrize(
        ("line", "note"),
        [
            (
                '{"type": "fragment", "speaker": "agent", "segment": "a", "text": 5}',
                "fragment.text",
            ),
            (
                '{"type": "fragment", "speaker": "agent", "segment": "a", "text": "'
                + "好" * 5000
                + '"}',
                "4096",
            ),
            ('{"type": "event", "name": "explode"}', "event.name"),
            ('{"type": "start", "script": "cmcc-10086"}', "start after the call began"),
            ("[1, 2]", "message"),
            ('{"no": "type"}', "type"),
        ],
    )
    def test_a_line_the_stream_would_refuse_is_skipped_and_noted(
        self, tmp_path: Path, line: str, note: str
    ) -> None:
        path = tmp_path / "call.jsonl"
        first = {
            "type": "fragment",
            "speaker": "agent",
            "segment": "a0",
            "text": "你好",
            "final": True,
        }
        path.write_text(
            json.dumps(first, ensure_ascii=False) + "\n" + line + "\n", encoding="utf-8"
        )
        call = one(path)
        assert len(call.inputs) == 1 and any(note in n for n in call.notes), call.notes

    def test_no_start_line_takes_the_default_script(self, tmp_path: Path) -> None:
        path = tmp_path / "bare.jsonl"
        path.write_text('{"type":"fragment","speaker":"agent","segment":"a","text":"你好"}\n')
        call = one(path, Options(script="ct-10000"))
        assert call.setup.script_id == "ct-10000" and "no start line" in call.notes[0]

    def test_not_utf8_is_unreadable(self, tmp_path: Path) -> None:
        path = tmp_path / "latin.jsonl"
        path.write_bytes(b"\xff\xfe\x00bad")
        with pytest.raises(Unreadable, match="not UTF-8"):
            read(Source(str(path), "protocol"), OPTIONS)


class TestEngine:
    def test_legs_merge_by_the_engines_times_after_the_answer(self) -> None:
        call = one(ENGINE_CALLS / "tencent" / "tencent-call-1", Options(format="tencent"))
        first_at, first = call.inputs[0]
        assert first == CallEvent("answered", first_at) and first_at == call.answered_ms
        fragments = [item for _, item in call.inputs if isinstance(item, Fragment)]
        ends = [f.end_ms for f in fragments]
        assert ends == sorted(ends)
        assert {f.speaker for f in fragments} == {"agent", "customer"}
        assert all(f.segment.startswith(f.speaker + "-") for f in fragments)
        assert isinstance(call.inputs[-1][1], CallEvent) and call.hangs_up

    def test_a_vosk_call(self) -> None:
        call = one(ENGINE_CALLS / "vosk" / "vosk-call-1", Options(format="vosk"))
        texts = [item.text for _, item in call.inputs if isinstance(item, Fragment) and item.final]
        assert "我想查一下这个月的话费" in texts

    def test_a_bad_message_is_noted_and_the_rest_is_read(self, tmp_path: Path) -> None:
        leg = tmp_path / "c1"
        leg.mkdir()
        good = {
            "code": 0,
            "result": {
                "slice_type": 2,
                "index": 0,
                "start_time": 0,
                "end_time": 900,
                "voice_text_str": "你好",
            },
        }
        lines = ['{"code": 0, "result": {"slice_type": 7}}', json.dumps(good, ensure_ascii=False)]
        (leg / "agent.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        call = one(leg, Options(format="tencent"))
        assert any("agent.jsonl:1: tencent: result.slice_type" in n for n in call.notes)

    @pytest.mark.parametrize(
        ("meta", "says"),
        [
            ("{", "call.json"),
            ('{"script": 5}', "script"),
            ('{"script": "cmcc-10086", "answered_at": "soon"}', "answered_at: not an ISO-8601"),
            ('{"script": "cmcc-10086", "answered_at": "2026-11-22T10:00:00"}', "give its offset"),
        ],
    )
    def test_a_bad_call_json_is_unreadable(self, tmp_path: Path, meta: str, says: str) -> None:
        leg = tmp_path / "c1"
        leg.mkdir()
        (leg / "call.json").write_text(meta)
        (leg / "agent.jsonl").write_text('{"code": 0}\n')
        with pytest.raises(Unreadable, match=says):
            read(Source(str(leg), "engine"), Options(format="tencent"))

    def test_a_leg_with_no_words_is_unreadable(self, tmp_path: Path) -> None:
        leg = tmp_path / "c1"
        leg.mkdir()
        (leg / "agent.jsonl").write_text('{"code": 0}\n')
        with pytest.raises(Unreadable, match="no tencent messages"):
            read(Source(str(leg), "engine"), Options(format="tencent"))

    def test_a_stream_of_both_legs_needs_an_engine_with_channels(self, tmp_path: Path) -> None:
        leg = tmp_path / "c1"
        leg.mkdir()
        (leg / "stream.jsonl").write_text('{"code": 0}\n')
        with pytest.raises(Unreadable, match="speaker"):
            read(Source(str(leg), "engine"), Options(format="tencent"))


class TestMobileCS:
    def test_turns_get_made_up_times_and_timing_rules_are_not_judged(self, tmp_path: Path) -> None:
        path = tmp_path / "dialogs.json"
        dialogs = [
            {
                "id": "d1",
                "content": [{"[SPEAKER 1]": "您好", "[SPEAKER 2]": "查话费", "客服意图": "问候"}],
            },
            [{"[SPEAKER 1]": "请稍等", "[SPEAKER 2]": ""}],
            {"id": "d3", "content": [{"用户": "喂你好"}]},
        ]
        path.write_text(json.dumps(dialogs, ensure_ascii=False), encoding="utf-8")
        calls = read(Source(str(path), "mobilecs"), OPTIONS)
        assert [c.name for c in calls] == ["d1", "dialogs-1", "d3"]
        first = calls[0]
        said = [
            (f.speaker, f.text, f.start_ms, f.end_ms)
            for _, f in first.inputs
            if isinstance(f, Fragment)
        ]
        assert said == [("agent", "您好", 300, 900), ("customer", "查话费", 1300, 1900)]
        assert set(first.not_judged) == {*RING_RULES, *TIME_OF_DAY_RULES, *TIMED_RULES}
        assert calls[2].unjudged is not None and calls[0].unjudged is None

    @pytest.mark.parametrize(
        ("content", "says"),
        [
            ("{", "not JSON"),
            ('{"a": 1}', "a list of dialogues"),
            ('[{"content": 5}]', "a list of turns"),
        ],
    )
    def test_a_file_that_is_no_dialogue_list_is_unreadable(
        self, tmp_path: Path, content: str, says: str
    ) -> None:
        path = tmp_path / "bad.json"
        path.write_text(content)
        with pytest.raises(Unreadable, match=says):
            read(Source(str(path), "mobilecs"), OPTIONS)

    def test_the_real_seretod_calls(self, seretod: Path) -> None:
        calls = [c for s in discover([seretod]) for c in read(s, OPTIONS)]
        assert len(calls) == 22  # 10 + 10 dialogues, and 2 of the customer's side only
        assert sum(c.unjudged is not None for c in calls) == 2
        assert all(len(c.inputs) > 5 for c in calls if c.unjudged is None)
