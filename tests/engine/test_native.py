"""The native pass against its references: pyahocorasick for the automaton, the
character-by-character normalization for the fold."""

from __future__ import annotations

import random
from array import array

import ahocorasick
import pytest

from app.engine import native, normalize, phonetic
from app.engine._scan import Automaton, Folder


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


def test_an_automaton_of_keys_matches_by_sound() -> None:
    """With the phonetic symbols, scanning a text is scanning its key."""
    rng = random.Random(7)
    alphabet = "知道之到不布我窝您你是事a1"
    words = {phonetic.key("".join(rng.choice(alphabet) for _ in range(3))): n for n in range(60)}
    ours = native.automaton(words, phonetic.symbols())
    reference = _reference(words)
    for _ in range(2_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30)))
        expected = sorted(reference.iter(phonetic.key(text)))  # type: ignore[attr-defined]
        assert sorted(_streamed(ours, text, rng)) == expected, text


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
    automaton = native.automaton({"ab": 1})
    with pytest.raises(ValueError, match="out of range"):
        automaton.scan("ab", 3, 0)
    with pytest.raises(ValueError, match="out of range"):
        automaton.scan("ab", 0, automaton.nodes())
    with pytest.raises(TypeError):
        automaton.scan(b"ab", 0, 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="once"):
        automaton.__init__(one, array("I", [0]), one, array("i", [-1]), array("i", [-1]), ())  # type: ignore[misc]


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
