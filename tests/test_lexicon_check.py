"""``huashu lexicon check``: a small lexicon with a known-noisy entry fails, naming the entry and
the sentences it fired on; a clean one passes; what it read is said; an unreadable lexicon is
refused with its file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from app.cli import main

ROOT = Path(__file__).resolve().parents[1]

#: Compliant agent talk, written for this test.
COMPLIANT = [
    "您好，请问有什么可以帮您",
    "请您稍等，我帮您查询一下",
    "好的，我帮您把套餐改过来",
    "这个业务不行的话，我帮您换一个",
    "您的话费余额还有三十二元",
    "宽带工程师明天上午上门",
]

LEXICON = {
    "id": "acme",
    "name": "ACME 忌语",
    "categories": {"curt": {"name": "生硬", "severity": "major"}},
    "entries": [
        {"phrase": "不行/不可以", "category": "curt", "source": "ACME 1", "whole_utterance": True},
        {"phrase": "你自己看着办", "category": "curt", "source": "ACME 2"},
        {"phrase": "帮您", "category": "curt", "source": "ACME 3", "note": "known noisy"},
    ],
}


def _check(
    tmp_path: Path, lexicon: dict[str, object], capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str, str]:
    path = tmp_path / "acme.yaml"
    path.write_text(yaml.safe_dump(lexicon, allow_unicode=True), encoding="utf-8")
    compliant = tmp_path / "compliant.txt"
    compliant.write_text("\n".join(COMPLIANT) + "\n", encoding="utf-8")
    empty = tmp_path / "real"
    empty.mkdir(exist_ok=True)
    argv = ["lexicon", "check", str(path), "--compliant", str(compliant), "--real", str(empty)]
    status = main([*argv, *extra])
    out, err = capsys.readouterr()
    return status, out, err


def test_a_noisy_entry_fails_the_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _check(tmp_path, LEXICON, capsys)
    assert status == 1
    assert "compliant source compliant.txt: 6 utterances" in out
    noisy = out.split("[2] 帮您")[1]
    assert "fires on compliant.txt: 4/6 (66.67%)  OVER" in noisy
    assert "请您稍等，我帮您查询一下" in noisy
    assert "FAIL: 1 over 0.20%: 帮您 (compliant.txt 66.67%)" in out


def test_a_clean_lexicon_passes_with_its_recall(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = {**LEXICON, "entries": LEXICON["entries"][:2]}  # type: ignore[index]
    status, out, _ = _check(tmp_path, clean, capsys)
    assert status == 0 and "ok: no entry fires" in out
    curt = out.split("[0] 不行/不可以")[1].split("[1]")[0]
    assert "(curt, whole_utterance)" in curt and "fires on compliant.txt: 0/6" in curt
    assert "recall: as_written 6/6" in curt  # alone, unpunctuated, with fillers: both readings
    assert "fires inside an ordinary sentence" not in curt
    slipped = out.split("[1] 你自己看着办")[1]
    assert "recall: as_written 4/4" in slipped


def test_the_threshold_is_the_authors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _check(tmp_path, LEXICON, capsys, "--max-rate", "0.7")
    assert status == 0 and "above 70.00%" in out


def test_an_unreadable_lexicon_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = {**LEXICON, "entries": [{"phrase": "不知道/", "category": "curt", "source": "ACME"}]}
    status, _, err = _check(tmp_path, bad, capsys)
    assert status == 1 and "acme.yaml: entries.0.phrase" in err and "empty alternative" in err


def test_the_independent_set_is_not_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    independent = ROOT / "tests" / "independent" / "compliant.tsv"
    status, _, err = _check(tmp_path, LEXICON, capsys, "--compliant", str(independent))
    assert status == 1 and "not read by this tool" in err
