"""The lexicon schema (``app/engine/script.py``): every phrase field is read at load, and one that
cannot be read one way only stops loading with its file, field and reason; a lexicon of any size
loads and compiles."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.engine.compiled import CompiledScript
from app.engine.lexicon import Lexicon, LexiconEntry
from app.engine.offline import check_utterance
from app.engine.script import Script
from app.scripts.loader import ScriptLoadError, load_library
from tests.engine.conftest import SCRIPT

ROOT = Path(__file__).resolve().parents[2]


def entry(**fields: Any) -> dict[str, Any]:
    return {"phrase": "不行", "category": "curt", "source": "ACME 忌语表", **fields}


class TestPhraseFields:
    @pytest.mark.parametrize(
        ("fields", "reason"),
        [
            ({"phrase": "不知道/"}, "empty alternative"),
            ({"phrase": "//"}, "empty alternative"),
            ({"phrase": "我不知道/清楚"}, "ambiguous"),
            ({"variants": ["不行", "你/您怎么这样"]}, "ambiguous"),
            ({"allow": ["{不行/不能}的话"]}, "inside braces"),
            ({"softened_by": ["我帮你{查"]}, "unbalanced"),
            ({"unless_after": ["如果{0,20}"]}, "gap"),
            ({"phrase": "，。！"}, "empty"),
        ],
    )
    def test_an_unreadable_phrase_is_refused(self, fields: dict[str, Any], reason: str) -> None:
        with pytest.raises(ValueError, match=reason):
            LexiconEntry.model_validate(entry(**fields))

    def test_alternatives_and_curt_replies_are_read(self) -> None:
        parsed = LexiconEntry.model_validate(
            entry(phrase="不行/不可以", whole_utterance=True, softened_severity="major")
        )
        assert parsed.whole_utterance and parsed.reworded and parsed.softened_severity == "major"

    def test_a_softened_severity_is_a_severity(self) -> None:
        with pytest.raises(ValueError, match="softened_severity"):
            LexiconEntry.model_validate(entry(softened_severity="mild"))


def test_a_bad_company_lexicon_stops_loading_naming_file_and_field(tmp_path: Path) -> None:
    """Written with '/' as a company writes it: the ambiguous one is refused loudly, at load,
    not stored as one literal that never fires."""
    (tmp_path / "scripts").mkdir()
    (tmp_path / "lexicons").mkdir()
    script = {**SCRIPT, "id": "acme-line", "lexicon": "acme"}
    (tmp_path / "scripts" / "acme-line.yaml").write_text(yaml.safe_dump(script, allow_unicode=True))
    lexicon = {
        "id": "acme",
        "name": "ACME",
        "categories": {"curt": {"name": "生硬"}},
        "entries": [entry(phrase="不行/不可以"), entry(phrase="我不知道/清楚")],
    }
    path = tmp_path / "lexicons" / "acme.yaml"
    path.write_text(yaml.safe_dump(lexicon, allow_unicode=True))
    with pytest.raises(ScriptLoadError, match=r"acme\.yaml: entries\.1\.phrase: .*ambiguous"):
        load_library(tmp_path)
    lexicon["entries"] = [entry(phrase="不行/不可以", whole_utterance=True)]
    path.write_text(yaml.safe_dump(lexicon, allow_unicode=True))
    library = load_library(tmp_path)
    compiled = CompiledScript(library.scripts["acme-line"], library.lexicons["acme"])
    assert [a["rule"] for a in check_utterance(compiled, "不可以！").alerts] == ["forbidden.curt"]


def test_a_huge_lexicon_loads_and_compiles() -> None:
    """Five thousand entries (a company's list merged with the norms), each with its derived
    forms: built in seconds, and its last entry is heard."""
    base = Lexicon.model_validate(
        {"id": "big", "name": "big", "categories": {"curt": {"name": "生硬"}}, "entries": [entry()]}
    )
    talk = "话费套餐流量查询扣费宽带故障报修工程师上门业务办理取消开通短信验证码密码营业厅"
    phrases = {
        talk[i % len(talk)] + talk[(i * 7) % len(talk)] + talk[(i * 13) % len(talk)] + str(i)
        for i in range(5000)
    }
    entries = [LexiconEntry.model_validate(entry(phrase=p)) for p in sorted(phrases)]
    lexicon = base.model_copy(update={"entries": tuple(entries)})
    began = time.perf_counter()
    compiled = CompiledScript(Script.model_validate(SCRIPT), lexicon)
    assert time.perf_counter() - began < 60
    last = entries[-1].phrase
    assert [a["phrase"] for a in check_utterance(compiled, f"好的{last}。").alerts] == [last]
