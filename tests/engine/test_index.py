"""The phrase index: every pattern found where it ends, by character and by sound, and which
hits stand (:func:`excused`)."""

from __future__ import annotations

import random

import pytest

from app.engine.index import Hit, PhraseIndex, Target, excused
from app.engine.normalize import normalize

SHIRK = Target("forbidden", "0", "agent")
RUDE = Target("forbidden", "1", "agent")


def index() -> PhraseIndex:
    return PhraseIndex(
        [
            ("不关我的事!", SHIRK),
            ("我不管", Target("forbidden", "2", "agent")),
            ("我不管怎样", Target("allow", "f2", "agent", excuses="forbidden:2")),
            ("你问我,我问谁", RUDE),
            ("我问谁", RUDE),
        ]
    )


class TestPhraseIndex:
    def test_finds_every_pattern_by_end(self) -> None:
        hits = index().scan("不关我的事我不管")
        assert [(h.start, h.end, h.pattern) for h in hits] == [
            (0, 5, "不关我的事"),
            (5, 8, "我不管"),
        ]

    def test_scan_from_a_start_skips_earlier_hits(self) -> None:
        assert [h.pattern for h in index().scan("不关我的事我不管", 3)] == ["我不管"]

    def test_empty_phrase_is_refused(self) -> None:
        try:
            PhraseIndex([("，。", SHIRK)])
        except ValueError as exc:
            assert "empty" in str(exc)
        else:
            raise AssertionError("an empty pattern must be refused")


class TestPhoneticAndPatterns:
    def index(self) -> PhraseIndex:
        return PhraseIndex(
            [
                ("我{也,}不知道", SHIRK),
                ("有意见{0,3}找领导", RUDE),
                ("你问我", Target("situation", "0")),
            ],
            phonetic_kinds=frozenset({"forbidden"}),
        )

    @pytest.mark.parametrize("text", ["我不知到", "我不之道", "我也不知到"])
    def test_homophones_match_by_sound(self, text: str) -> None:
        (hit,) = excused(self.index().scan(normalize(text).text))
        assert hit.phonetic and hit.target == SHIRK

    def test_the_characters_win_over_the_sound(self) -> None:
        (hit,) = excused(self.index().scan("我不知道"))
        assert not hit.phonetic

    def test_short_patterns_and_other_kinds_are_not_phonetic(self) -> None:
        assert self.index().scan("你文我") == []

    @pytest.mark.parametrize(
        ("text", "hits"),
        [
            ("有意见找领导", 1),
            ("有意见你找领导去", 1),
            ("有意见可以去找领导", 1),
            ("有意见的话您可以找领导", 0),
        ],
    )
    def test_gap(self, text: str, hits: int) -> None:
        found = self.index().scan(normalize(text).text)
        assert len(found) == hits
        if hits:
            assert found[0].start == 0 and found[0].pattern == "有意见{0,3}找领导"


def _naive_scan(
    entries: list[tuple[str, Target]], text: str, phonetic_kinds: frozenset[str]
) -> list[tuple[int, int, str, str, bool]]:
    """Every literal and phonetic hit, found by str.find: the reference for PhraseIndex.scan."""
    from app.engine import phonetic
    from app.engine.patterns import expand

    literal: dict[str, list[Target]] = {}
    sounds: dict[str, tuple[str, list[Target]]] = {}
    for phrase, target in entries:
        for pattern in expand(phrase):
            word = pattern.parts[0]
            if target not in literal.setdefault(word, []):
                literal[word].append(target)
            if target.kind in phonetic_kinds and target.sound and len(word) >= 4:
                label, targets = sounds.setdefault(phonetic.key(word), (word, []))
                if target not in targets:
                    targets.append(target)
    found = []
    for word, targets in literal.items():
        at = text.find(word)
        while at >= 0:
            found += [(at, at + len(word), word, t.key, False) for t in targets]
            at = text.find(word, at + 1)
    key = phonetic.key(text)
    for sound, (label, targets) in sounds.items():
        at = key.find(sound)
        while at >= 0:
            found += [(at, at + len(sound), label, t.key, True) for t in targets]
            at = key.find(sound, at + 1)
    return sorted(found)


def test_scan_equals_a_search_for_every_pattern() -> None:
    """Random lexicons of sound-alike and overlapping words, some targets matched by sound and
    some not, the same words for several targets: PhraseIndex.scan finds what str.find finds."""
    rng = random.Random(21)
    alphabet = "不知道到之我你的事关管是时有意见"
    kinds = ("forbidden", "rushing_off", "situation", "greeting_word")
    for _ in range(200):
        entries = []
        for _ in range(rng.randint(1, 12)):
            word = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6)))
            target = Target(
                rng.choice(kinds), str(rng.randint(0, 3)), "agent", sound=rng.random() < 0.8
            )
            entries.append((word, target))
        sound_kinds = frozenset({"forbidden", "rushing_off"})
        index = PhraseIndex(entries, phonetic_kinds=sound_kinds)
        for _ in range(5):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))
            text = normalize(text).text
            got = sorted(
                (h.start, h.end, h.pattern, h.target.key, h.phonetic) for h in index.scan(text)
            )
            assert got == _naive_scan(entries, text, sound_kinds), (entries, text)


def _excused_reference(hits: list[Hit]) -> list[Hit]:
    """excused() without its shortcuts."""
    allows = [h for h in hits if h.target.kind == "allow"]
    kept: list[Hit] = []
    last_end: dict[str, int] = {}
    for hit in sorted(hits, key=lambda h: (h.start, h.start - h.end, h.phonetic)):
        if hit.target.kind == "allow":
            continue
        key = hit.target.key
        if hit.start < last_end.get(key, -1):
            continue
        if any(
            a.target.excuses == key and a.start <= hit.start and hit.end <= a.end for a in allows
        ):
            continue
        kept.append(hit)
        last_end[key] = hit.end
    kept.sort(key=lambda h: h.end)
    return kept


def random_hits(
    rng: random.Random, targets: list[Target], most: int, reach: int, longest: int
) -> list[Hit]:
    """Up to ``most`` hits of ``targets`` starting in ``[0, reach]``, some by sound."""
    hits = []
    for _ in range(rng.randint(0, most)):
        start = rng.randint(0, reach)
        end = start + rng.randint(1, longest)
        hits.append(Hit(start, end, "p", rng.choice(targets), rng.random() < 0.25))
    return hits


def test_excused_shortcuts_keep_what_the_full_rule_keeps() -> None:
    rng = random.Random(5)
    targets = [
        Target("forbidden", "0"),
        Target("forbidden", "1"),
        Target("situation", "2"),
        Target("allow", "a", excuses="forbidden:0"),
    ]
    for _ in range(5_000):
        hits = random_hits(rng, targets, most=5, reach=8, longest=4)
        assert excused(hits) == _excused_reference(hits), hits


class TestRewordings:
    """Phrases of deriving targets heard as agents reword them, and what was slipped in may not
    say something else."""

    def index(self) -> PhraseIndex:
        derive = dict(derive=True)
        shirk = Target("forbidden", "0", "agent", **derive)  # type: ignore[arg-type]
        return PhraseIndex(
            [
                ("我不知道", shirk),
                ("我不清楚", Target("forbidden", "1", "agent", derive=True)),
                ("干嘛还不挂机", Target("forbidden", "2", "agent", derive=True)),
                ("我不知道您是否", Target("allow", "f0", "agent", excuses=shirk.key, derive=True)),
            ],
            phonetic_kinds=frozenset({"forbidden"}),
        )

    @pytest.mark.parametrize(
        ("text", "derived", "phonetic"),
        [
            ("我不知道", False, False),
            ("我真的不知道", True, False),  # two characters slipped in
            ("我们也不知道", True, False),  # two places, three in all
            ("我不晓得", True, False),  # colloquial
            ("干嘛你还不挂鸡", True, True),  # one slipped in, one sound-alike: five and more
        ],
    )
    def test_heard(self, text: str, derived: bool, phonetic: bool) -> None:
        (hit,) = excused(self.index().scan(normalize(text).text))
        assert (hit.derived, hit.phonetic) == (derived, phonetic)

    @pytest.mark.parametrize(
        "text",
        [
            "我们这边都不知道",  # four slipped in: over the budget
            "我也不知到",  # a sound-alike and a word slipped in: too loose in four characters
            "我听不清楚",  # a verb before the negation: cannot hear clearly
            "请您不要挂机",  # a modal after it: do not hang up
            "我不是不知道",  # a negation slipped in
            "我知道",
        ],
    )
    def test_not_heard(self, text: str) -> None:
        hits = excused(self.index().scan(normalize(text).text))
        assert [h for h in hits if h.target.kind == "forbidden"] == [], text

    def test_an_emphatic_word_in_an_allow_phrase_excuses_nothing(self) -> None:
        index = self.index()
        assert excused(index.scan(normalize("我们不知道您是否方便").text)) == []
        (hit,) = excused(index.scan(normalize("我都不知道您是否方便").text))
        assert hit.target.ref == "0"

    def test_an_allow_phrase_across_a_clause_mark_excuses_nothing(self) -> None:
        index = self.index()
        text = normalize("我不知道，您是否方便去营业厅").text
        hits = index.scan(text)
        assert excused(hits) == []  # no clause marks known: the allow stands
        (hit,) = excused(hits, lambda start, end: True)
        assert hit.target.ref == "0"


def test_a_target_hashes_and_compares_as_its_fields() -> None:
    """A target keeps its hash (looked up for every hit a stream keeps): the one the dataclass
    would work out from the fields it compares, so equal targets are one key."""
    made = [
        Target("forbidden", "0", "agent"),
        Target("forbidden", "0", "agent"),
        Target("allow", "f2", "agent", excuses="forbidden:2", derive=True),
        Target("situation", "3", None, at_end=2, sound=False),
    ]
    for target in made:
        fields = (
            target.kind,
            target.ref,
            target.speaker,
            target.at_end,
            target.excuses,
            target.sound,
            target.derive,
        )
        assert hash(target) == hash(fields)
    assert made[0] == made[1] and made[0] is not made[1]
    assert {made[0]: 1}[made[1]] == 1
    assert len(set(made)) == 3
    assert made[0] != made[2] and made[2] != made[3]
