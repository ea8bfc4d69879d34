"""Text normalization with a map back to the original characters.

Every matcher works on normalized text, so ASR spelling differences that carry no meaning do not
hide a phrase:

- per character: NFKC (full/half width), lower case, traditional → simplified (OpenCC ``t2s``),
  no punctuation, symbols or white space, 您 folded to 你, pure fillers (嗯 呃 啊 …) dropped;
- the filler word 那个 dropped;
- runs of Chinese digits read one by one (一零零八六, 幺零零八六) become ASCII digits (10086);
- stutter repeats collapse: 我我不知道 → 我不知道, 不知不知道 → 不知道. Patterns are normalized the
  same way, so a reduplicated word (谢谢) still matches itself.

Each normalized character remembers the index of the original character it came from, so a match
is reported as a span of the text the agent's screen shows.

The per-character table is filled lazily and shared by every call: the per-character step is one
dictionary look-up.
"""

from __future__ import annotations

import unicodedata
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Final

import opencc

from app.engine import native
from app.engine import tables as table_cache

#: Characters folded to another before matching: the polite and plain "you" are the same word to
#: the norms (禁语 are written with both), so 您 and 你 must match each other. 著 is the
#: traditional 着 (管不著, 說著), which OpenCC leaves as it is character by character (著 is also
#: the simplified 著 of 著名, rare in service talk: folded on both sides, it costs nothing).
FOLDS: Final = {"您": "你", "著": "着"}
#: ASR fillers that never carry meaning on their own. Not 额 (额度).
FILLERS: Final = frozenset("嗯呃啊哦噢唉诶")
#: Filler words of more than one character. 那个 is also a real word (那个套餐), but dropping it
#: on both sides of a match loses nothing, and it often stands inside a phrase (我那个不知道).
FILLER_WORDS: Final = ("那个",)
#: Chinese digits as read one by one in phone numbers; 幺 is how 1 is read aloud in numbers.
DIGITS: Final = {c: str(i) for i, c in enumerate("零一二三四五六七八九")} | {"〇": "0", "幺": "1"}

_t2s = opencc.OpenCC("t2s")
_table: dict[str, str] = {}


def _fold(char: str) -> str:
    out = []
    for c in unicodedata.normalize("NFKC", char).lower():
        category = unicodedata.category(c)
        if category[0] in "PZC" or c.isspace() or category in ("Sk", "Sm", "So"):
            continue
        c = _t2s.convert(c) if ord(c) > 0x2E7F else c
        c = FOLDS.get(c, c)
        if c in FILLERS:
            continue
        out.append(c)
    return "".join(out)


def fold_char(char: str) -> str:
    """The normalized form of one character (possibly empty, possibly several characters)."""
    folded = _table.get(char)
    if folded is None:
        folded = _table[char] = _fold(char)
    return folded


class Normalized:
    """Normalized text of ``raw``; ``offsets[i]`` is the index in ``raw`` of normalized char ``i``.

    The offsets are worked out only when asked for (a span is wanted only for a match).
    """

    __slots__ = ("text", "raw", "_offsets")

    def __init__(self, text: str, raw: str, offsets: tuple[int, ...] | None = None) -> None:
        self.text = text
        self.raw = raw
        self._offsets = offsets

    @property
    def offsets(self) -> tuple[int, ...]:
        if self._offsets is None:
            self._offsets = _normalize_with_offsets(self.raw).offsets
        return self._offsets

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original-text span ``[a, b)`` covering normalized ``[start, end)`` (end > start)."""
        offsets = self.offsets
        return offsets[start], offsets[end - 1] + 1

    def __repr__(self) -> str:
        return f"Normalized({self.text!r}, raw={self.raw!r})"


def _digits(chars: list[str]) -> None:
    """Runs of two or more Chinese digits, or one next to an ASCII digit, become ASCII digits."""
    n = len(chars)
    i = 0
    while i < n:
        if chars[i] not in DIGITS:
            i += 1
            continue
        j = i
        while j < n and chars[j] in DIGITS:
            j += 1
        beside_digit = (i > 0 and chars[i - 1].isdigit()) or (j < n and chars[j].isdigit())
        if j - i >= 2 or beside_digit:
            for k in range(i, j):
                chars[k] = DIGITS[chars[k]]
        i = j


def _drop_words(chars: list[str], offsets: list[int]) -> tuple[list[str], list[int]]:
    """Drop the multi-character filler words."""
    text = "".join(chars)
    if not any(word in text for word in FILLER_WORDS):
        return chars, offsets
    keep = [True] * len(chars)
    for word in FILLER_WORDS:
        start = text.find(word)
        while start >= 0:
            for k in range(start, start + len(word)):
                keep[k] = False
            start = text.find(word, start + len(word))
    return (
        [c for c, k in zip(chars, keep, strict=True) if k],
        [o for o, k in zip(offsets, keep, strict=True) if k],
    )


def _collapse(chars: list[str], offsets: list[int], unit: int) -> tuple[list[str], list[int]]:
    """Drop a ``unit``-character group that repeats the group just before it (not digits)."""
    out_c: list[str] = []
    out_o: list[int] = []
    i = 0
    n = len(chars)
    while i < n:
        if len(out_c) >= unit and i + unit <= n and _repeats(chars, i, out_c, unit):
            i += unit
            continue
        out_c.append(chars[i])
        out_o.append(offsets[i])
        i += 1
    return out_c, out_o


def _repeats(chars: list[str], i: int, out: list[str], unit: int) -> bool:
    """Whether ``chars[i : i + unit]`` is the last ``unit`` characters of ``out`` again, with
    no digit among them (compared in place: this runs for every character)."""
    last = len(out) - unit
    for k in range(unit):
        char = chars[i + k]
        if char != out[last + k] or char.isdigit():
            return False
    return True


def _normalize_with_offsets(text: str) -> Normalized:
    """The reference normalization, character by character, keeping every offset."""
    chars: list[str] = []
    offsets: list[int] = []
    table = _table
    for i, char in enumerate(text):
        folded = table.get(char)
        if folded is None:
            folded = fold_char(char)
        if len(folded) == 1:
            chars.append(folded)
            offsets.append(i)
        elif folded:
            chars.extend(folded)
            offsets.extend([i] * len(folded))
    _digits(chars)
    chars, offsets = _drop_words(chars, offsets)
    chars, offsets = _collapse(chars, offsets, 1)
    chars, offsets = _collapse(chars, offsets, 2)
    return Normalized("".join(chars), text, tuple(offsets))


def _build_table() -> list[int | str]:
    """Every BMP character's fold (built once per process): its code point where it folds to
    itself, else the string it folds to."""
    table: list[int | str] = []
    for code in range(0x10000):
        char = chr(code)
        folded = fold_char(char)
        table.append(code if folded == char else folded)
    return table


#: The filler word the native pass drops: it knows one word of two characters (``_scan.c``).
assert len(FILLER_WORDS) == 1 and len(FILLER_WORDS[0]) == 2
_FILLER_WORD: Final = FILLER_WORDS[0]


def _decode_table(stored: object) -> list[int | str]:
    """The fold table as the cache keeps it; raises on anything else."""
    if not isinstance(stored, list) or len(stored) != 0x10000:
        raise ValueError("not a table of the BMP")
    table: list[int | str] = []
    for code, entry in enumerate(stored):
        # a character that folds to itself is its own code point, as the build writes it
        if isinstance(entry, str) or (type(entry) is int and entry == code):
            table.append(entry)
        else:
            raise ValueError(f"table[{code}]")
    return table


def _encode_table(table: list[int | str]) -> object:
    return table


def warm_up() -> None:
    """Build the native pass's tables now rather than on the first fragment (or read them
    from the table cache, :mod:`app.engine.tables`)."""
    global _folder, _native
    if _folder is None:
        table = table_cache.cached(
            "fold",
            Path(__file__).parent / "normalize.py",
            ("opencc",),
            _build_table,
            _encode_table,
            _decode_table,
        )
        _folder = _native = _native_folder(table)


def _first_use(text: str) -> str | None:
    """The native pass before the tables are built: build them, then normalize."""
    warm_up()
    return _native(text)


#: The native pass, once its tables are built; what :func:`normalize` calls (before then, the
#: function that builds them).
_folder: native.Folder | None = None
_native: Callable[[str], str | None] = _first_use


#: What the native fold makes of a table entry that is no one character (``_scan.c``).
_DROP: Final = 0xFFFFFFFF
_SEVERAL: Final = 0xFFFFFFFE


def _native_folder(table: list[int | str]) -> native.Folder:
    """The native normalization (``_scan.c``): ``table`` as one code point per character, the
    classes of characters its rewrites look for, and the Chinese digits' ASCII digits."""
    codes = array(
        "I",
        (
            entry
            if isinstance(entry, int)
            else _DROP
            if not entry
            else ord(entry)
            if len(entry) == 1
            else _SEVERAL
            for entry in table
        ),
    )
    classes = bytearray(0x10000)
    for code in range(0x10000):
        char = chr(code)
        classes[code] = (
            (1 if char in DIGITS else 0)
            | (2 if char.isdigit() else 0)
            | (4 if char == _FILLER_WORD[0] else 0)
            | (8 if char == _FILLER_WORD[1] else 0)
        )
    digits = array("I", bytes(4 * 0x10000))
    for char, digit in DIGITS.items():
        digits[ord(char)] = ord(digit)
    return native.Folder(codes, classes, digits)


def normalize(text: str) -> Normalized:
    """Normalize ``text``: the reference path's text (``_normalize_with_offsets``), by the
    native pass, which folds and rewrites in one go in C; text it declines (a fold to several
    characters, say ㎏, or a character beyond the BMP) takes the reference path itself. Offsets
    are worked out by the reference path, and only when a span is asked for."""
    folded = _native(text)
    if folded is not None:
        return Normalized(folded, text)
    return _normalize_with_offsets(text)


def normalize_text(text: str) -> str:
    """Just the normalized string, for building patterns."""
    return normalize(text).text
