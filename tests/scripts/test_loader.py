"""The script library loads, cites its sources, and refuses bad files with file: field: reason."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from app.scripts.loader import ScriptLoadError, load_library

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "scripts_data"
SEED = re.compile(r"^00[0-4]\b")


def test_the_library_loads() -> None:
    library = load_library(DATA)
    assert set(library.scripts) == {"cmcc-10086", "cmcc-12580", "ct-10000"}
    assert len(library.lexicons["forbidden"].entries) >= 40


def test_everything_cites_a_seed() -> None:
    library = load_library(DATA)
    for script in library.scripts.values():
        for prompt in script.prompts:
            assert SEED.match(prompt.source), (script.id, prompt.rule, prompt.source)
        for situation in script.situations:
            assert SEED.match(situation.source), (script.id, situation.rule, situation.source)
    for entry in library.lexicons["forbidden"].entries:
        assert SEED.match(entry.source), entry.phrase


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(DATA, tmp_path / "data")
    return tmp_path / "data"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        (
            "scripts/ct-10000.yaml",
            "name: 中国电信 10000 远程服务\n",
            "",
            r"ct-10000\.yaml: name: Field required",
        ),
        (
            "scripts/ct-10000.yaml",
            "ring_limit_s: 15",
            "ring_limit_s: soon",
            r"ct-10000\.yaml: timing\.ring_limit_s: ",
        ),
        (
            "scripts/ct-10000.yaml",
            "中国电信{work_no}号",
            "中国电信{badge}号",
            r"ct-10000\.yaml: prompts\.0\.text: .*unknown slot",
        ),
        (
            "scripts/cmcc-10086.yaml",
            "due: {after: closing.confirm, delay_s: 2}",
            "due: {after: closing.nothing, delay_s: 2}",
            r"cmcc-10086\.yaml: .*due\.after closing\.nothing is unknown",
        ),
        (
            "scripts/cmcc-10086.yaml",
            "phase: greeting",
            "phase: [greeting",
            r"cmcc-10086\.yaml: \(yaml\): ",
        ),
        (
            "scripts/cmcc-10086.yaml",
            "id: cmcc-10086",
            "id: cmcc-10087",
            r"cmcc-10086\.yaml: id: must equal the file name",
        ),
        (
            "scripts/cmcc-10086.yaml",
            "lexicon: forbidden",
            "lexicon: nowhere",
            r"cmcc-10086\.yaml: lexicon: no lexicon 'nowhere'",
        ),
        (
            "lexicons/forbidden.yaml",
            "category: rush_off",
            "category: hurry",
            r"forbidden\.yaml: .*category 'hurry' is not in categories",
        ),
    ],
)
def test_bad_files_stop_loading_with_file_field_reason(
    copy: Path, file: str, old: str, new: str, expected: str
) -> None:
    _edit(copy / file, old, new)
    with pytest.raises(ScriptLoadError) as info:
        load_library(copy)
    assert re.search(expected, str(info.value)), str(info.value)
