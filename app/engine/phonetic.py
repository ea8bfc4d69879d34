"""Sound-alike keys: each Chinese character becomes one code point standing for its syllable.

ASR hears the sound, not the character: 我不知到 and 我不之道 are 我不知道 heard right and
written wrong. A phonetic key replaces every Chinese character of normalized text by a private-use
code point for its toneless syllable, with the confusions of Mandarin ASR and southern accents
folded together (zh/z, ch/c, sh/s, n/l, an/ang, en/eng, in/ing). Other characters stay as they
are (moved out of the BMP, one to one), so a key is aligned one-to-one with the normalized
text and its offsets.

The table is built once per process from pypinyin, for the common characters. Patterns are keyed
with ``str.translate`` when a script is compiled; fragments are never keyed: the sound automaton
reads each character through the same table as it walks (:func:`symbols`, ``app/engine/_scan.c``).
"""

from __future__ import annotations

from array import array

from pypinyin import Style, lazy_pinyin

from app.engine import native

#: Private-use area: syllable ids become code points here, so keys are plain strings.
_BASE = 0xF0000
#: Every other character of the BMP moves to the last plane, so a key has the same characters
#: wherever it came from.
_OTHER = 0x100000
_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"))
_FINALS = (("ang", "an"), ("eng", "en"), ("ing", "in"))

_table: list[int | str] | None = None
_symbols: array[int] | None = None


def fold_syllable(syllable: str) -> str:
    """A toneless syllable with the usual ASR confusions folded: zhang → zan, ning → lin."""
    for long, short in _INITIALS:
        if syllable.startswith(long):
            syllable = short + syllable[len(long) :]
            break
    if syllable.startswith("n") and len(syllable) > 1:
        syllable = "l" + syllable[1:]
    for long, short in _FINALS:
        if syllable.endswith(long):
            syllable = syllable[: -len(long)] + short
            break
    return syllable


def _build() -> list[int | str]:
    """A list indexed by code point (identity entries included: ``str.translate`` never misses,
    and a miss in a dict table costs a raised and cleared ``KeyError`` per character)."""
    ranges = [(0x3400, 0x4DC0), (0x4E00, 0xA000)]
    chars = [chr(c) for start, end in ranges for c in range(start, end)]
    readings = lazy_pinyin(chars, style=Style.NORMAL, errors=lambda _: "?")
    ids: dict[str, int] = {}
    table: dict[int, str] = {}
    keys: dict[int, str] = {}  # one string per syllable, shared by its characters
    for char, reading in zip(chars, readings, strict=True):
        if not reading or not reading.isascii() or not reading.isalpha():
            continue
        syllable = fold_syllable(reading)
        code = ids.setdefault(syllable, len(ids))
        table[ord(char)] = keys.setdefault(code, chr(_BASE + code))
    return [table.get(c, _OTHER + c) for c in range(0x10000)]


def warm_up() -> None:
    global _table, _symbols
    if _table is None:
        _table = _build()
        _symbols = native.symbols(_table)


def table() -> list[int | str]:
    """The table for ``str.translate`` that :func:`key` uses."""
    if _table is None:
        warm_up()
    assert _table is not None
    return _table


def symbols() -> array[int]:
    """The table as the symbols a native automaton reads (:func:`app.engine.native.automaton`):
    an automaton of keys given these matches a text by its sound as it walks the text."""
    if _symbols is None:
        warm_up()
    assert _symbols is not None
    return _symbols


def key(normalized: str) -> str:
    """The phonetic key of normalized text: same length, one code point per character."""
    if _table is None:
        warm_up()
    assert _table is not None
    return normalized.translate(_table)
