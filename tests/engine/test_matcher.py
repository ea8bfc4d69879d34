"""One speaker's stream: hits across partials and segments, as a fresh scan would find them."""

from __future__ import annotations

import gc
import random

from app.engine.index import PhraseIndex, Target, excused
from app.engine.matcher import SpeakerStream, joined, judged
from app.engine.normalize import normalize
from app.engine.patterns import CLAUSE_MARKS
from tests.engine.test_index import RUDE, SHIRK, index, random_hits


class TestSpeakerStream:
    def test_span_points_into_the_text_as_sent(self) -> None:
        stream = SpeakerStream(index())
        text = "这个，真不关我的事！"
        (hit,) = stream.scan_segment(normalize(text))
        assert text[hit.span[0] : hit.span[1]] == "不关我的事"

    def test_phrase_split_over_two_segments_is_reported_on_the_later(self) -> None:
        stream = SpeakerStream(index())
        first = normalize("这真不关我")
        assert stream.scan_segment(first) == ()
        stream.close_segment(first)
        (hit,) = stream.scan_segment(normalize("的事"))
        assert hit.span == (0, 2)
        assert hit.hit.pattern == "不关我的事"

    def test_hits_kept_after_a_final_are_nothing_for_the_collector(self) -> None:
        """What a stream keeps between segments (its tail's hits) must become untracked, or
        every call under load gives each young and middle collection objects to walk."""
        stream = SpeakerStream(index())
        final = normalize("这个真的我不管")
        assert len(stream.scan_segment(final)) == 1
        stream.close_segment(final)
        kept = stream._kept  # the hit lies in the tail (the last five characters)
        assert kept and kept[0][2] == "我不管"
        gc.collect()
        gc.collect()  # the outer tuple is untracked once its items are: at most two passes
        assert not gc.is_tracked(kept)
        # and the stream goes on: the same words in the next segment are a hit of their own
        (hit,) = stream.scan_segment(normalize("我不管"))
        assert hit.hit.pattern == "我不管" and hit.span == (0, 3)

    def test_other_speaker_breaks_continuity(self) -> None:
        stream = SpeakerStream(index())
        first = normalize("这真不关我")
        stream.close_segment(first)
        stream.break_continuity()
        assert stream.scan_segment(normalize("的事")) == ()

    def test_allow_phrase_excuses_its_target_only(self) -> None:
        stream = SpeakerStream(index())
        assert stream.scan_segment(normalize("我不管怎样都会帮您")) == ()
        assert len(stream.scan_segment(normalize("这事我不管"))) == 1

    def test_variant_inside_the_full_phrase_is_one_match(self) -> None:
        stream = SpeakerStream(index())
        hits = stream.scan_segment(normalize("你问我，我问谁？"))
        assert [h.hit.pattern for h in hits] == ["你问我问谁"]  # 我我 collapses on both sides

    def test_repeated_words_are_separate_occurrences(self) -> None:
        stream = SpeakerStream(index())
        hits = stream.scan_segment(normalize("不关我的事，真不关我的事"))
        assert [h.identity for h in hits] == [("forbidden:0", 0), ("forbidden:0", 1)]


def test_incremental_scan_equals_a_full_scan() -> None:
    """Random revisions of a hypothesis: the streaming scan finds what a fresh scan finds."""
    rng = random.Random(7)
    alphabet = "不关我的事你问谁管怎样好"
    for _ in range(300):
        stream = SpeakerStream(index())
        text = ""
        for _ in range(8):
            cut = rng.randint(0, len(text))
            text = text[:cut] + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
            got = [(h.identity, h.span) for h in stream.scan_segment(normalize(text))]
            fresh = [
                (h.identity, h.span) for h in SpeakerStream(index()).scan_segment(normalize(text))
            ]
            assert got == fresh, text


def _rich_index() -> PhraseIndex:
    """Literal, phonetic, gapped and excusing patterns, for the streaming property tests."""
    return PhraseIndex(
        [
            ("不关我的事", SHIRK),
            ("我{也,}不知道", SHIRK),
            ("有意见{0,3}找领导", RUDE),
            ("没有{0,3}就是没有", RUDE),  # the first part is also inside the last
            ("我不管", Target("forbidden", "2", "agent")),
            ("我不管怎样", Target("allow", "f2", "agent", excuses="forbidden:2")),
            ("你问我", Target("situation", "0")),
        ],
        phonetic_kinds=frozenset({"forbidden"}),
    )


def _fresh(index: PhraseIndex, tail: str, text: str) -> list[tuple[object, ...]]:
    """What a stream must report: a fresh scan of tail + hypothesis (less a stutter at the
    join), located in the hypothesis."""
    norm = normalize(text)
    base = len(tail)
    skip = joined(tail, norm.text) if tail else 0
    seen: dict[str, int] = {}
    out: list[tuple[object, ...]] = []

    def broken(start: int, end: int) -> bool:  # an allow across a clause mark or the join
        if start < base:
            return True
        raw = norm.raw[norm.offsets[start - base + skip] : norm.offsets[end - base + skip - 1]]
        return any(c in CLAUSE_MARKS for c in raw)

    for hit in excused(index.scan(tail + norm.text[skip:]), broken):
        if hit.end <= base:
            continue
        occurrence = seen.get(hit.target.key, 0)
        seen[hit.target.key] = occurrence + 1
        start = hit.start - base + skip if hit.start >= base else 0
        span = norm.span(start, hit.end - base + skip)
        out.append(((hit.target.key, occurrence), span, hit.pattern, hit.phonetic))
    return out


def test_streaming_equals_a_fresh_scan_over_segments() -> None:
    """Random calls of one speaker: partials that extend the last one (as ASR sends them),
    shrink it or revise it, finals, and the other speaker breaking in. Every hypothesis must
    get exactly the hits a fresh scan of tail + hypothesis finds: a hit straddling the previous
    partial's end, a homophone split over partials, a phrase split over segments."""
    rng = random.Random(11)
    alphabet = "不关我的事也知道到之有意见你找领导管怎样问没有就是，"
    index = _rich_index()
    keep = index.max_len - 1
    for _ in range(150):
        stream = SpeakerStream(index)
        tail = ""
        for _ in range(6):  # segments
            text = ""
            for _ in range(rng.randint(1, 6)):  # partials
                move = rng.random()
                if move < 0.6:  # extend by a few characters
                    text += "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 3)))
                elif move < 0.8:  # shrink
                    text = text[: rng.randint(0, len(text))]
                else:  # revise the end
                    cut = rng.randint(0, len(text))
                    text = text[:cut] + "".join(rng.choice(alphabet) for _ in range(3))
                got = [
                    (h.identity, h.span, h.hit.pattern, h.hit.phonetic)
                    for h in stream.scan_segment(normalize(text))
                ]
                assert got == _fresh(index, tail, text), (tail, text)
            final = normalize(text)
            if rng.random() < 0.8:  # the final usually repeats the last partial
                stream.scan_segment(final)
            stream.close_segment(final)
            tail = (tail + final.text[joined(tail, final.text) if tail else 0 :])[-keep:]
            assert stream.tail == tail
            if rng.random() < 0.2:
                stream.break_continuity()
                tail = ""


def test_a_homophone_split_over_partials() -> None:
    stream = SpeakerStream(_rich_index())
    assert stream.scan_segment(normalize("这个我不")) == ()
    (hit,) = stream.scan_segment(normalize("这个我不之到"))
    assert hit.hit.phonetic and hit.span == (2, 6)


def test_a_phrase_split_over_segments_after_a_scanned_final() -> None:
    stream = SpeakerStream(_rich_index())
    first = normalize("有意见你")
    stream.scan_segment(first)
    stream.close_segment(first)
    (hit,) = stream.scan_segment(normalize("找领导"))
    assert hit.hit.pattern == "有意见{0,3}找领导" and hit.span == (0, 3)


def test_streaming_over_text_of_every_string_width() -> None:
    """ASCII, BMP and beyond-BMP pieces in one stream: the automata go on from one string's
    state into a string of another width (pyahocorasick's iterators could not: its issue #221)."""
    rng = random.Random(12)
    pieces = [
        "10086",
        "ok",
        "不关",
        "我的事",
        "𠀀",
        "不知到",
        "",
        "有意见",
        "找领导",
        "没有",
        "就是",
    ]
    index = _rich_index()
    for _ in range(300):
        stream = SpeakerStream(index)
        tail = ""
        for _ in range(4):
            text = ""
            for _ in range(rng.randint(1, 5)):
                text += rng.choice(pieces)
                if rng.random() < 0.2:
                    text = text[: rng.randint(0, len(text))]
                got = [
                    (h.identity, h.span, h.hit.pattern, h.hit.phonetic)
                    for h in stream.scan_segment(normalize(text))
                ]
                assert got == _fresh(index, tail, text), (tail, text)
            final = normalize(text)
            stream.scan_segment(final)
            stream.close_segment(final)
            skip = joined(tail, final.text) if tail else 0
            tail = (tail + final.text[skip:])[-(index.max_len - 1) :]


def test_judged_is_excused_then_filtered() -> None:
    """What a hypothesis is judged on: the shortcut (excusing only the targets that can matter)
    gives exactly the full rule's hits, on finals and on partials, tail hits and allows mixed."""
    rng = random.Random(8)
    targets = [
        Target("forbidden", "0"),
        Target("forbidden", "1"),
        Target("situation", "2"),
        Target("hold_apology", "3"),
        Target("allow", "a", excuses="forbidden:0"),
        Target("allow", "b", excuses="situation:2"),
    ]
    for _ in range(20_000):
        hits = random_hits(rng, targets, most=6, reach=10, longest=5)
        base = rng.randint(0, 8)
        final = rng.random() < 0.5
        expected = [h for h in excused(hits) if h.end > base and (final or h.target.partial)]
        kept, complete = judged(hits, base, final)
        assert kept == expected, (hits, base, final)
        if complete and not final:
            assert kept == [h for h in excused(hits) if h.end > base], (hits, base)
