"""Builds the labelled corpus (``make corpus``); the output is committed, so later changes to the
lexicon or the matcher are measured against a fixed corpus.

- ``positives.tsv``: every lexicon phrase as the norm writes it (``exact``); five ASR-noisy forms
  of each (``noisy``: a homophone for one character, fillers, stutters, spaces and full-width
  punctuation, traditional characters); the hand-written ``reworded.tsv``.
- ``compliant.tsv``: the prescribed phrases of the seeds and of every script, the hand-written
  ``everyday.tsv`` (ordinary agent talk about bills, plans, faults, complaints, accounts, small
  talk, and more prescribed wording as agents really say it) and the hand-written ``traps.tsv``
  (compliant sentences that share characters with 禁语).

Run with ``python -m tests.corpus.build``.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import opencc
from pypinyin import Style, lazy_pinyin

from app.scripts.loader import load_library

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _readings(phrase: str) -> list[str]:
    if "(" not in phrase:
        return [phrase.replace("/", "")]
    return [re.sub(r"\([^)]*\)", "", phrase), re.sub(r"\(([^)]*)\)", r"\1", phrase)]


def _common(char: str) -> bool:
    """A character of GB2312 level 1 (the 3,755 commonest): ASR writes what its vocabulary holds,
    not a rare character that happens to share a reading."""
    try:
        code = char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return len(code) == 2 and 0xB0 <= code[0] <= 0xD7


def _homophones() -> dict[str, list[str]]:
    """Toneless syllable → common characters with it, for ASR-like swaps."""
    chars = [chr(c) for c in range(0x4E00, 0x9FA6) if _common(chr(c))]
    readings = lazy_pinyin(chars, style=Style.NORMAL, errors=lambda _: "?")
    table: dict[str, list[str]] = {}
    for char, reading in zip(chars, readings, strict=True):
        table.setdefault(reading, []).append(char)
    return table


def noisy_forms(text: str, rng: random.Random, homophones: dict[str, list[str]]) -> list[str]:
    s2t = opencc.OpenCC("s2t")
    plain = re.sub(r"[,，!！?？.。、]", "", text)
    forms = []
    # A homophone for one character (what ASR writes when it hears right and spells wrong).
    hanzi = [i for i, c in enumerate(plain) if "\u4e00" <= c <= "\u9fff"]
    for _ in range(20):
        i = rng.choice(hanzi)
        reading = lazy_pinyin(plain[i], style=Style.NORMAL)[0]
        options = [c for c in homophones.get(reading, []) if c != plain[i]][:60]
        if options:
            forms.append(plain[:i] + rng.choice(options) + plain[i + 1 :])
            break
    forms.append("嗯，" + plain[: len(plain) // 2] + "啊" + plain[len(plain) // 2 :])
    forms.append(plain[0] + plain)  # a stutter
    forms.append(" ".join(plain[i : i + 2] for i in range(0, len(plain), 2)) + "！")
    forms.append(s2t.convert(text))
    return forms


def build() -> None:
    rng = random.Random(20261124)
    library = load_library(ROOT / "scripts_data")
    lexicon = library.lexicons["forbidden"]
    homophones = _homophones()
    positives: list[tuple[str, str, str]] = []
    for entry in lexicon.entries:
        for reading in _readings(entry.phrase):
            positives.append((entry.category, "exact", reading))
            for form in noisy_forms(reading, rng, homophones):
                positives.append((entry.category, "noisy", form))
    for line in (HERE / "reworded.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip():
            category, form, text = line.split("\t")
            positives.append((category, form, text))
    (HERE / "positives.tsv").write_text(
        "".join(f"{c}\t{f}\t{t}\n" for c, f, t in positives), encoding="utf-8"
    )
    compliant: list[tuple[str, str]] = []
    for line in (
        (ROOT / "tests" / "engine" / "prescribed_phrases.txt")
        .read_text(encoding="utf-8")
        .splitlines()
    ):
        if line.strip():
            compliant.append(("prescribed", line.split("\t")[1]))
    for script in library.scripts.values():
        for prompt in script.prompts:
            if "挂机" not in prompt.text:
                text = re.sub(
                    r"\{\w+\}",
                    "",
                    prompt.text.replace("{title}", "王先生").replace("{work_no}", "1001"),
                )
                compliant.append(("prescribed", text))
    for line in (HERE / "everyday.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip():
            category, text = line.split("\t")
            compliant.append((category, text))
    for line in (HERE / "traps.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip():
            compliant.append(("traps", line.strip()))
    unique = list(dict.fromkeys(compliant))
    (HERE / "compliant.tsv").write_text("".join(f"{c}\t{t}\n" for c, t in unique), encoding="utf-8")
    print(f"positives: {len(positives)}, compliant: {len(unique)}")


if __name__ == "__main__":
    build()
