"""The engine's native pass (``_scan.c``) and how its inputs are built.

The per-fragment work that is all loops — fold each character, then walk an Aho–Corasick
automaton by character and a tolerant automaton by sound — runs in one small C module. What it
walks is decided here, in Python, once per script: :func:`automaton` builds a trie and its
failure links, :func:`tolerant` a trie of symbol sequences with gap nodes (what may come between
a phrase's words) and each output's limits, and each hands the C type flat arrays. The C side
only stores and walks them.

Why not pyahocorasick at run time: matching a fragment took two of its scans (characters and
sound) and two ``str.translate`` calls (fold, key) besides, each a C call of its own with Python
objects between them; a fragment's whole matching is now two native calls on the text. Its
state between fragments is a node number (Aho–Corasick) and a few matches in progress (the
tolerant automaton), kept in a cursor, so a partial that extends the previous one goes on where
that one stopped. pyahocorasick stays the reference the tests hold the Aho–Corasick automaton
to, a search by hand the tolerant one (``tests/engine/test_native.py``), and pyahocorasick is
the baseline of ``python -m bench engine``.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

from app.engine._scan import Automaton, Cursor, Folder, Tolerant

__all__ = [
    "Automaton",
    "Cursor",
    "Folder",
    "Gap",
    "Limits",
    "Tolerant",
    "automaton",
    "symbols",
    "tolerant",
]

#: A trie's edge label: a character's code point, or a tolerant sequence's step.
Label = TypeVar("Label")


def _child(
    children: list[dict[Label, int]], parents: array[int], node: int, key: Label
) -> tuple[int, bool]:
    """The child of ``node`` by ``key`` in a trie being built (node 0 the root, node i hanging
    from ``parents[i]``), made and numbered next if there is none; and whether it is new (the
    caller then adds the new node's entries to its other arrays)."""
    child = children[node].get(key)
    if child is not None:
        return child, False
    child = len(parents)
    children[node][key] = child
    children.append({})
    parents.append(node)
    return child, True


def automaton(words: Mapping[str, Any], symbols: array[int] | None = None) -> Automaton:
    """An automaton reporting ``(index of the last character, words[word])`` for every word in
    a scanned text (empty words are left out). With ``symbols`` (65,536 code points), a scanned
    character ``c`` of the BMP is read as ``symbols[c]``: the words are then written in those
    symbols (``chr`` of each), as :func:`app.engine.phonetic.key` writes a key."""
    parents = array("i", [0])
    labels = array("I", [0])
    output = array("i", [-1])
    children: list[dict[int, int]] = [{}]
    values: list[Any] = []
    for word, value in words.items():
        if not word:
            continue
        node = 0
        for char in word:
            label = ord(char)
            node, new = _child(children, parents, node, label)
            if new:
                labels.append(label)
                output.append(-1)
        output[node] = len(values)
        values.append(value)
    nodes = len(parents)
    fail = array("i", bytes(4 * nodes))
    link = array("i", [-1]) * nodes
    queue = deque(children[0].values())  # depth 1: their longest proper suffix is the root
    while queue:
        node = queue.popleft()
        suffix = fail[node]
        link[node] = suffix if output[suffix] >= 0 else link[suffix]
        for label, child in children[node].items():
            f = suffix
            while f and label not in children[f]:
                f = fail[f]
            fail[child] = children[f].get(label, 0)
            queue.append(child)
    return Automaton(parents, labels, fail, output, link, tuple(values), symbols)


def symbols(table: Sequence[int | str]) -> array[int]:
    """A ``str.translate`` table of 65,536 one-character entries as the symbol array
    :func:`automaton` takes."""
    return array("I", (entry if isinstance(entry, int) else ord(entry) for entry in table))


class Gap(NamedTuple):
    """A step of a :func:`tolerant` sequence: ``low`` to ``high`` characters of anything;
    ``counts``: they are taken from the match's budget (a derived insertion), else free (a gap
    the lexicon writes)."""

    low: int
    high: int
    counts: bool = False


#: A step of a tolerant sequence: a symbol, or a gap.
Step = int | Gap
#: A limit that limits nothing (``_scan.c``'s ANY).
ANY = 255


class Limits(NamedTuple):
    """What a match of a tolerant sequence may be, beyond reading as it: at most ``span``
    characters long; with at most ``whole_sounds`` characters matched by sound only (not the
    sequence's own character) when it spans just its characters, ``sounds`` when longer."""

    span: int = ANY
    whole_sounds: int = ANY
    sounds: int = ANY


def tolerant(
    sequences: Mapping[tuple[Step, ...], Any],
    readings: tuple[array[int], array[int]] | None = None,
    budget: int = 0,
    chars: Mapping[tuple[Step, ...], str] | None = None,
    limits: Mapping[tuple[Step, ...], Limits] | None = None,
) -> Tolerant:
    """An automaton reporting ``(index of the last character, sequences[seq], index of the
    first)`` wherever a text reads as a sequence: symbols in order, a gap taking any ``low`` to
    ``high`` characters (those that count: ``budget`` at most in one match), within the
    sequence's ``limits``. With ``readings`` (:func:`app.engine.phonetic.readings`) each
    character is read as its symbols, else as its code point. ``chars``: each sequence's own
    characters (one per symbol), to tell a character matched as itself from one matched by
    sound (without them, every match by a symbol counts as its own character). A sequence
    neither begins nor ends with a gap, nor has two in a row."""
    parents = array("i", [0])
    labels = array("I", [0])
    is_gap = bytearray(1)
    lows = bytearray(1)
    highs = bytearray(1)
    counts = bytearray(1)
    own = array("I", [0])
    bounds = bytearray(4)  # length, span, whole_sounds, sounds: node by node
    output = array("i", [-1])
    children: list[dict[Step, int]] = [{}]
    values: list[Any] = []
    for steps, value in sequences.items():
        if not steps or isinstance(steps[0], Gap) or isinstance(steps[-1], Gap):
            raise ValueError(f"a sequence begins and ends with a symbol: {steps!r}")
        said = chars.get(steps) if chars is not None else None
        symbols_in = sum(not isinstance(step, Gap) for step in steps)
        if said is not None and len(said) != symbols_in:
            raise ValueError(f"{said!r}: one character per symbol of {steps!r}")
        node = 0
        previous_gap = False
        at = 0
        for item in steps:
            gap = isinstance(item, Gap)
            if isinstance(item, Gap):
                if previous_gap:
                    raise ValueError(f"two gaps in a row: {steps!r}")
                if not 0 <= item.low <= item.high or not 1 <= item.high <= 255:
                    raise ValueError(f"a gap of 0 ≤ low ≤ high, 1 ≤ high ≤ 255: {item!r}")
            previous_gap = gap
            char = 0 if isinstance(item, Gap) or said is None else ord(said[at])
            child, new = _child(children, parents, node, item)
            if new:
                labels.append(0 if isinstance(item, Gap) else item)
                is_gap.append(gap)
                lows.append(item.low if isinstance(item, Gap) else 0)
                highs.append(item.high if isinstance(item, Gap) else 0)
                counts.append(bool(item.counts) if isinstance(item, Gap) else 0)
                own.append(char)
                bounds.extend(bytes(4))
                output.append(-1)
            elif own[child] != char:
                own[child] = 0  # several characters by this sound: none is its own
            if not isinstance(item, Gap):
                at += 1
            node = child
        output[node] = len(values)
        values.append(value)
        bound = limits.get(steps, Limits()) if limits is not None else Limits()
        bounds[4 * node : 4 * node + 4] = bytes(
            (min(symbols_in, ANY), min(bound.span, ANY), *(min(n, ANY) for n in bound[1:]))
        )
    symbols, alts = readings if readings is not None else (None, None)
    return Tolerant(
        parents,
        labels,
        is_gap,
        lows,
        highs,
        counts,
        output,
        tuple(values),
        own,
        bounds,
        symbols,
        alts,
        budget,
    )
