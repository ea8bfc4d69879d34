"""The native pass against its references: pyahocorasick for the automaton, the
character-by-character normalization for the fold."""

from __future__ import annotations

import random
from array import array

import ahocorasick
import pytest

from app.engine import native, normalize
from app.engine._scan import Automaton, Cursor, Folder, Tolerant


def _reference(words: dict[str, int]) -> object:
    automaton = ahocorasick.Automaton()
    for word, value in words.items():
        if word:
            automaton.add_word(word, value)
    automaton.make_automaton()
    return automaton


def _streamed(automaton: Automaton, text: str, rng: random.Random) -> list[tuple[int, object]]:
    """Scan ``text`` in random pieces, each going on from the last one's state."""
    state, hits, at = 0, [], 0
    while at < len(text):
        upto = min(len(text), at + rng.randint(1, 5))
        state, found = automaton.scan(text[:upto], at, state)
        hits += found or []
        at = upto
    return hits


@pytest.mark.parametrize("alphabet", ["abc", "abcde您好", "ab您😀\x00"])
def test_the_automaton_finds_what_pyahocorasick_finds(alphabet: str) -> None:
    rng = random.Random(len(alphabet))
    for _ in range(1_500):
        words = {
            "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))): 0
            for _ in range(rng.randint(1, 25))
        }
        words = {word: value for value, word in enumerate(words)}
        if not any(words):
            continue
        ours = native.automaton(words)
        reference = _reference(words)
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        expected = sorted(reference.iter(text)) if text else []  # type: ignore[attr-defined]
        assert sorted(_streamed(ours, text, rng)) == expected, (words, text)
        state, found = ours.scan(text, 0, 0)
        assert sorted(found or []) == expected


def _reads_as(
    text: str,
    i: int,
    j: int,
    steps: tuple[native.Step, ...],
    heard: dict[str, set[int]],
    budget: int,
) -> bool:
    """Whether ``text[i:j]`` reads as ``steps`` (the reference for Tolerant)."""

    def match(k: int, at: int, spent: int) -> bool:
        if k == len(steps):
            return at == j
        step = steps[k]
        if isinstance(step, native.Gap):
            for taken in range(step.low, step.high + 1):
                if at + taken > j or (step.counts and spent + taken > budget):
                    break
                if match(k + 1, at + taken, spent + (taken if step.counts else 0)):
                    return True
            return False
        return (
            at < j and step in heard.get(text[at], {ord(text[at])}) and match(k + 1, at + 1, spent)
        )

    return match(0, i, 0)


def _tolerant_reference(
    sequences: dict[tuple[native.Step, ...], int],
    text: str,
    heard: dict[str, set[int]],
    budget: int,
) -> list[tuple[int, int, int]]:
    """(last index, value, latest first index) for every sequence ending at every place."""
    found = []
    for steps, value in sequences.items():
        for j in range(1, len(text) + 1):
            starts = [i for i in range(j) if _reads_as(text, i, j, steps, heard, budget)]
            if starts:
                found.append((j - 1, value, max(starts)))
    return sorted(found)


def _random_steps(rng: random.Random, alphabet: str) -> tuple[native.Step, ...]:
    steps: list[native.Step] = [ord(rng.choice(alphabet))]
    for _ in range(rng.randint(0, 4)):
        if rng.random() < 0.3 and not isinstance(steps[-1], native.Gap):
            low = rng.randint(0, 2)
            steps.append(native.Gap(low, low + rng.randint(0 if low else 1, 2), rng.random() < 0.5))
        else:
            steps.append(ord(rng.choice(alphabet)))
    if isinstance(steps[-1], native.Gap):
        steps.append(ord(rng.choice(alphabet)))
    return tuple(steps)


def test_the_tolerant_automaton_finds_what_a_search_finds() -> None:
    """Sequences of symbols and gaps over random texts, scanned whole and streamed in pieces:
    each sequence is reported where it ends, with its latest start (no budget to run out)."""
    rng = random.Random(13)
    alphabet = "abcd"
    for _ in range(400):
        sequences = {_random_steps(rng, alphabet): n for n in range(rng.randint(1, 6))}
        sequences = {steps: n for n, steps in enumerate(sequences)}
        automaton = native.tolerant(sequences, budget=255)
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        expected = _tolerant_reference(sequences, text, {}, 255)
        cursor = native.Cursor(None, automaton)
        found, at = [], 0
        while at < len(text):
            upto = min(len(text), at + rng.randint(1, 4))
            result = cursor.feed(text[:upto], at)
            found += (result[1] or []) if result else []
            at = upto
        assert sorted(found) == expected, (sequences, text)


def test_a_character_is_read_as_each_of_its_symbols() -> None:
    """With a symbol table, a character of several readings matches a sequence of any."""
    symbols = array("I", range(0x10000))
    alts = array("I", [0, 2, ord("x"), ord("y")])
    symbols[ord("的")] = 0x80000000 | 1  # read as x or y
    automaton = native.tolerant(
        {(ord("a"), ord("x")): 0, (ord("a"), ord("y")): 1}, (symbols, alts), 0
    )
    result = native.Cursor(None, automaton).feed("a的", 0)
    assert result is not None and sorted(result[1] or []) == [(1, 0, 0), (1, 1, 0)]


def test_words_slipped_in_share_one_budget() -> None:
    gap = native.Gap(0, 2, True)
    automaton = native.tolerant({(ord("a"), gap, ord("b"), gap, ord("c")): 0}, budget=3)
    cursor = native.Cursor(None, automaton)
    assert cursor.feed("axxbxc", 0) == (None, [(5, 0, 0)])  # three slipped in
    cursor.reset()
    assert cursor.feed("axxbxxc", 0) is None  # four: over the budget
    free = native.Gap(1, 2, False)  # a lexicon gap costs nothing, and needs its low
    automaton = native.tolerant({(ord("a"), free, ord("b")): 0}, budget=0)
    cursor = native.Cursor(None, automaton)
    assert cursor.feed("ab", 0) is None and cursor.feed("abaxxb", 2) == (None, [(5, 0, 2)])


def test_a_match_is_reported_within_its_limits() -> None:
    """The longest span, and how many characters may be matched by sound only (not the
    sequence's own character), whole or with characters slipped in."""
    symbols = array("I", range(0x10000))
    symbols[ord("B")] = ord("b")  # B sounds like b
    gap = native.Gap(0, 2, True)
    steps = (ord("a"), gap, ord("b"), ord("c"))
    limits = native.Limits(span=4, whole_sounds=1, sounds=0)
    automaton = native.tolerant(
        {steps: 0}, (symbols, array("I", [0])), 3, {steps: "abc"}, {steps: limits}
    )
    cursor = native.Cursor(None, automaton)

    def hits(text: str) -> list[tuple[int, int, int]]:
        cursor.reset()
        found = cursor.feed(text, 0)
        return found[1] or [] if found else []

    assert hits("abc") == [(2, 0, 0)] and hits("axbc") == [(3, 0, 0)]
    assert hits("axxbc") == []  # five characters: longer than the span
    assert hits("aBc") == [(2, 0, 0)]  # one sound-alike in a whole match
    assert hits("axBc") == []  # none with a character slipped in


def test_a_cursor_shifts_its_matches_in_progress() -> None:
    """When the text it indexes loses its first characters, a match in progress keeps its
    place; one begun in what was lost is dropped."""
    gap = native.Gap(0, 2, True)
    automaton = native.tolerant({(ord("a"), gap, ord("b")): 0}, budget=2)
    cursor = native.Cursor(None, automaton)
    assert cursor.feed("zzax", 0) is None and cursor.live() > 0
    cursor.shift(2)  # the text is now "ax"
    assert cursor.feed("axb", 2) == (None, [(2, 0, 0)])
    cursor.reset()
    assert cursor.feed("ax", 0) is None
    cursor.shift(1)  # the a is gone
    assert cursor.live() == 0 and cursor.feed("xb", 1) is None


def test_no_word_no_hit() -> None:
    automaton = native.automaton({"": 1})
    assert automaton.nodes() == 1
    assert automaton.scan("abc", 0, 0) == (0, None)


def test_the_native_fold_is_the_reference_normalization() -> None:
    """Where the native pass answers, its text is the reference's; it leaves to Python only
    folds to several characters and text beyond the BMP."""
    normalize.warm_up()
    folder = normalize._native  # the native pass, once the tables are built
    assert isinstance(folder, Folder)
    rng = random.Random(11)
    alphabet = "我不知道知您你一二零幺3好嗯，。！ 　ＡＢ12這關谢谢😀那个㎏²"
    answered = 0
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        folded = folder(text)
        if folded is not None:
            answered += 1
            assert folded == normalize._normalize_with_offsets(text).text, repr(text)
    assert answered > 12_000  # all but the texts with ㎏ or 😀
    assert folder("谢谢您，您好") == "谢你好"
    assert folder("我我不知不知道") == "我不知道"
    assert folder("幺零零八六，看一下，3一") == "10086看一下31"
    assert folder("我那个那个，我不知道") == "我不知道"
    for text in ("㎏", "😀", "\u346e"):  # several characters; beyond the BMP; folds beyond it
        assert folder(text) is None, text


def test_bad_native_inputs_are_refused() -> None:
    table = array("I", bytes(4 * 0x10000))
    with pytest.raises(ValueError, match="table"):
        Folder(array("I", [0]), bytes(0x10000), table)
    with pytest.raises(ValueError, match="classes"):
        Folder(table, b"", table)
    with pytest.raises(ValueError, match="digits: 12 reads"):
        Folder(table, bytes(0x10000), array("I", [0] * 12 + [0x10000] + [0] * (0x10000 - 13)))
    one = array("i", [0])
    with pytest.raises(ValueError, match="outside"):
        Automaton(one, array("I", [0]), array("i", [5]), array("i", [-1]), one, ())
    with pytest.raises(ValueError, match="outside"):
        Automaton(one, array("I", [0]), one, array("i", [3]), one, ())
    with pytest.raises(ValueError, match="begins and ends"):
        native.tolerant({(native.Gap(0, 1), 1): 0})
    with pytest.raises(ValueError, match="two gaps"):
        native.tolerant({(1, native.Gap(0, 1), native.Gap(0, 1), 1): 0})
    with pytest.raises(ValueError, match="gap of"):
        native.tolerant({(1, native.Gap(2, 1), 1): 0})
    zero = bytes(1)
    chars = array("I", [0])
    with pytest.raises(ValueError, match="budget"):
        Tolerant(
            one,
            array("I", [0]),
            zero,
            zero,
            zero,
            zero,
            array("i", [-1]),
            (),
            chars,
            bytes(4),
            None,
            None,
            300,
        )
    with pytest.raises(ValueError, match="limits"):
        Tolerant(
            one, array("I", [0]), zero, zero, zero, zero, array("i", [-1]), (), chars, bytes(3)
        )
    with pytest.raises(ValueError, match="outside"):  # a gap hanging from the root
        Tolerant(
            array("i", [0, 0]),
            array("I", [0, 0]),
            bytes([0, 1]),
            bytes(2),
            bytes([0, 1]),
            bytes(2),
            array("i", [-1, -1]),
            (),
            array("I", [0, 0]),
            bytes(8),
        )
    with pytest.raises(ValueError, match="one character per symbol"):
        native.tolerant({(1, 2): 0}, chars={(1, 2): "a"})
    automaton = native.automaton({"ab": 1})
    with pytest.raises(ValueError, match="out of range"):
        automaton.scan("ab", 3, 0)
    with pytest.raises(ValueError, match="out of range"):
        automaton.scan("ab", 0, automaton.nodes())
    with pytest.raises(TypeError):
        automaton.scan(b"ab", 0, 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="once"):
        automaton.__init__(one, array("I", [0]), one, array("i", [-1]), array("i", [-1]), ())  # type: ignore[misc]


def test_an_automaton_whose_build_failed_is_not_built() -> None:
    """A repeated edge is found after the goto table is made: the table goes with the error,
    so neither a scan nor a cursor can walk a half-filled one."""
    three = array("i", [0, 0, 0])
    words = Automaton.__new__(Automaton)
    labels = array("I", [0, 7, 7])  # nodes 1 and 2 both hang from the root by 7
    none = array("i", [-1] * 3)
    with pytest.raises(ValueError, match="repeats an edge"):
        words.__init__(three, labels, three, none, none, ())  # type: ignore[misc]
    with pytest.raises(ValueError, match="not built"):
        words.scan("x", 0, 0)
    with pytest.raises(TypeError, match="built Automaton"):
        Cursor(words, None)
    sounds = Tolerant.__new__(Tolerant)
    with pytest.raises(ValueError, match="repeats an edge"):
        sounds.__init__(  # type: ignore[misc]
            three,
            labels,
            bytes(3),
            bytes(3),
            bytes(3),
            bytes(3),
            none,
            (),
            array("I", [0] * 3),
            bytes(12),
        )
    with pytest.raises(TypeError, match="built Tolerant"):
        Cursor(None, sounds)


def test_the_native_fold_on_long_texts() -> None:
    """Texts longer than the native pass's stack buffer (64 characters) take its heap buffer."""
    normalize.warm_up()
    folder = normalize._native  # the native pass, once the tables are built
    assert isinstance(folder, Folder)
    rng = random.Random(13)
    alphabet = "我不知道您一二零幺3好嗯，。 ＡＢ這谢谢那个"
    for length in (63, 64, 65, 200, 4_096):
        for _ in range(20):
            text = "".join(rng.choice(alphabet) for _ in range(length))
            assert folder(text) == normalize._normalize_with_offsets(text).text
