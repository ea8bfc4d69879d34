"""Sound-alike keys: each Chinese character becomes a symbol standing for its syllable.

ASR hears the sound, not the character: 我不知到 and 我不之道 are 我不知道 heard right and
written wrong. A character's symbol is its toneless syllable, with the confusions of Mandarin ASR
and southern accents folded together (zh/z, ch/c, sh/s, n/l, an/ang, en/eng, in/ing), as a
private-use code point. Other characters stay as they are (moved out of the BMP, one to one).

A character of several readings is read as each of them when it is heard (the text side): 的 is
de and di, 地 di and de, 得 de and dei, 着 zhe, zhao and zhuo — so 说的很清楚 and 说地很清楚 sound
like 说得很清楚. Only readings that words use count (a reading in two or more of pypinyin's
phrases, or the character's first): pypinyin also lists readings of old texts and names (提 as
shi), and a sound-alike through one of those is no ASR error. A phrase (the pattern side) is
read once, in context (pypinyin's phrase readings: 还不挂机 is hai, not huan), by
:func:`sequence`.

The tables are built once per process from pypinyin, for the common characters. Fragments are
never keyed: the sound automaton reads each character through :func:`readings` as it walks
(``app/engine/_scan.c``).
"""

from __future__ import annotations

import unicodedata
from array import array
from collections import Counter
from functools import lru_cache
from pathlib import Path

from pypinyin import Style, lazy_pinyin, pinyin
from pypinyin.constants import PHRASES_DICT

from app.engine import tables as table_cache

#: Private-use area: syllable ids become code points here, so keys are plain strings.
_BASE = 0xF0000
#: Every other character of the BMP moves to the last plane, so a key has the same characters
#: wherever it came from.
_OTHER = 0x100000
#: A symbol-table entry with this bit is an index into the alternatives (``_scan.c``).
ALT_FLAG = 0x80000000
_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"))
_FINALS = (("ang", "an"), ("eng", "en"), ("ing", "in"))
_RANGES = ((0x3400, 0x4DC0), (0x4E00, 0xA000))
#: A reading other than a character's first counts when this many phrases use it.
_USED_IN = 2


def _toneless(reading: str) -> str:
    decomposed = unicodedata.normalize("NFD", reading)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("ü", "v")


def _used_readings() -> Counter[tuple[str, str]]:
    """How many of pypinyin's phrases read each (character, toneless reading)."""
    used: Counter[tuple[str, str]] = Counter()
    for phrase, readings in PHRASES_DICT.items():
        if len(phrase) == len(readings):
            for char, reading in zip(phrase, readings, strict=True):
                used[(char, _toneless(reading[0]))] += 1
    return used


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


class _Tables:
    """The syllable ids, each character's default symbol (for :func:`key`), and every reading
    of each character as the automaton's symbol table (:func:`_build`)."""

    def __init__(
        self, ids: dict[str, int], table: list[int | str], symbols: array[int], alts: array[int]
    ) -> None:
        self.ids = ids
        self.table = table
        self.symbols = symbols
        self.alts = alts

    def code(self, reading: str) -> int | None:
        """The symbol of a toneless reading (None: not a syllable)."""
        if not reading or not reading.isascii() or not reading.isalpha():
            return None
        syllable = fold_syllable(reading)
        return _BASE + self.ids.setdefault(syllable, len(self.ids))


def _build() -> _Tables:
    """The tables, from pypinyin's readings of the common characters (seconds)."""
    chars = [chr(c) for start, end in _RANGES for c in range(start, end)]
    defaults = lazy_pinyin(chars, style=Style.NORMAL, errors=lambda _: "?")
    every = pinyin(chars, style=Style.NORMAL, heteronym=True, errors=lambda _: "?")
    ids = _Tables({}, [], array("I"), array("I"))  # only its syllable ids grow here (code())
    keys: dict[int, str] = {}  # one string per syllable, shared by its characters
    table: dict[int, str] = {}
    symbols = array("I", (_OTHER + c for c in range(0x10000)))
    alts = array("I", [0])  # index 0 is never an entry's: ALT_FLAG | 0 would be no list
    lists: dict[tuple[int, ...], int] = {}
    used = _used_readings()
    for char, default, readings in zip(chars, defaults, every, strict=True):
        code = ids.code(default)
        if code is None:
            continue
        table[ord(char)] = keys.setdefault(code, chr(code))
        heard = [code]
        for reading in readings:
            if used[(char, reading)] < _USED_IN:
                continue
            other = ids.code(reading)
            if other is not None and other not in heard:
                heard.append(other)
        if len(heard) == 1:
            symbols[ord(char)] = code
            continue
        at = lists.get(tuple(heard))
        if at is None:
            at = lists[tuple(heard)] = len(alts)
            alts.append(len(heard))
            alts.extend(heard)
        symbols[ord(char)] = ALT_FLAG | at
    return _Tables(ids.ids, [table.get(c, _OTHER + c) for c in range(0x10000)], symbols, alts)


_tables: _Tables | None = None


def _encode(tables: _Tables) -> object:
    return {
        "ids": tables.ids,
        "table": tables.table,
        "symbols": tables.symbols.tolist(),
        "alts": tables.alts.tolist(),
    }


def _decode(stored: object) -> _Tables:
    """The tables as :func:`_encode` wrote them; raises on anything else."""
    if not isinstance(stored, dict):
        raise TypeError("not an object")
    ids, table = stored["ids"], stored["table"]
    symbols, alts = array("I", stored["symbols"]), array("I", stored["alts"])
    if not isinstance(ids, dict) or not all(
        isinstance(k, str) and isinstance(v, int) for k, v in ids.items()
    ):
        raise TypeError("ids")
    if not isinstance(table, list) or len(table) != 0x10000 or len(symbols) != 0x10000:
        raise ValueError("not a table of the BMP")
    # What a build makes, entry by entry: the C kernel and ``str.translate`` read these tables
    # as they are, so a file that says anything else is no cache.
    syllables = range(_BASE, _BASE + len(ids))
    if sorted(ids.values()) != list(range(len(ids))):
        raise ValueError("ids are not 0..n-1")
    for c, entry in enumerate(table):
        if isinstance(entry, str):
            if len(entry) != 1 or ord(entry) not in syllables:
                raise ValueError(f"table[{c}]")
        elif type(entry) is not int or entry != _OTHER + c:
            raise ValueError(f"table[{c}]")
    if not alts or alts[0] != 0:
        raise ValueError("alts[0]")
    for c, symbol in enumerate(symbols):
        if symbol & ALT_FLAG:
            at = symbol & ~ALT_FLAG
            if not 0 < at < len(alts) or not 0 < alts[at] < len(alts) - at:
                raise ValueError(f"symbols[{c}] reads outside alts")
            if any(s not in syllables for s in alts[at + 1 : at + 1 + alts[at]]):
                raise ValueError(f"symbols[{c}]: alternatives")
        elif symbol != _OTHER + c and symbol not in syllables:
            raise ValueError(f"symbols[{c}]")
    # One string per syllable, shared by its characters, as the build makes them.
    shared: dict[str, str] = {}
    table = [shared.setdefault(e, e) if isinstance(e, str) else e for e in table]
    return _Tables(ids, table, symbols, alts)


def warm_up() -> None:
    global _tables
    if _tables is None:
        _tables = table_cache.cached(
            "phonetic",
            Path(__file__).parent / "phonetic.py",
            ("pypinyin",),
            _build,
            _encode,
            _decode,
        )


def _built() -> _Tables:
    if _tables is None:
        warm_up()
    assert _tables is not None
    return _tables


def table() -> list[int | str]:
    """The table for ``str.translate`` that :func:`key` uses (each character's first reading)."""
    return _built().table


def readings() -> tuple[array[int], array[int]]:
    """The symbol table a sound automaton reads a text through (``_scan.Tolerant``): 65,536
    entries, each a character's symbol or ``ALT_FLAG | i`` where ``alternatives[i]`` is a count
    and that many symbols follow (a character of several readings)."""
    tables = _built()
    return tables.symbols, tables.alts


def key(normalized: str) -> str:
    """The phonetic key of normalized text: same length, one code point per character (each
    character's first reading)."""
    return normalized.translate(_built().table)


def sequence(normalized: str) -> list[int]:
    """A phrase's symbols, read in context: a run of Chinese characters is read by pypinyin as
    words (一会儿, 还不挂机), each character one symbol; anything else is its own symbol, as the
    text side reads it. One symbol per character."""
    return list(_sequence(normalized))


@lru_cache(maxsize=1 << 14)
def _sequence(normalized: str) -> tuple[int, ...]:
    """:func:`sequence`, once per phrase and process: scripts share most of their lexicon, and
    pypinyin's reading in context is most of a compilation's time."""
    tables = _built()
    out: list[int] = []
    run: list[str] = []

    def flush() -> None:
        if not run:
            return
        text = "".join(run)
        read = lazy_pinyin(text, style=Style.NORMAL, errors=lambda _: "?")
        if len(read) != len(run):
            read = ["?"] * len(run)
        for char, reading in zip(run, read, strict=True):
            code = tables.code(reading)
            heard = _heard(tables, char)
            # the reading in context when the character is heard so; else its first reading
            out.append(code if code is not None and code in heard else heard[0])
        run.clear()

    for char in normalized:
        c = ord(char)
        if c < 0x10000 and tables.table[c] != _OTHER + c:
            run.append(char)
            continue
        flush()
        out.append(_OTHER + c if c < 0x10000 else c)
    flush()
    return tuple(out)


def heard(char: str) -> list[int]:
    """Every symbol a character is heard as (the text side)."""
    return _heard(_built(), char)


def _heard(tables: _Tables, char: str) -> list[int]:
    """Every symbol a character is heard as."""
    c = ord(char)
    if c >= 0x10000:
        return [c]
    symbol = tables.symbols[c]
    if not symbol & ALT_FLAG:
        return [symbol]
    at = symbol & ~ALT_FLAG
    return list(tables.alts[at + 1 : at + 1 + tables.alts[at]])
