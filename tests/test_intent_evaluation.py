"""Holds the customer-intent recognition at its measured quality (``make evaluate`` prints it).

Ours (tests/corpus/intent.tsv, tuned on: 0.95) and ours held out (intent_dev.tsv, and
intent_fresh.tsv, written with other wording before the recogniser was reworked: 0.9), and the
third round's intent_dev2.tsv and probes (designed on after being measured once) must keep
their precision and recall for both labels, on every script; the independent set (never tuned
to) is held at the floor it was measured at, so that no change quietly lowers it.
"""

from __future__ import annotations

import pytest

from app.engine.compiled import CompiledScript
from app.scripts.loader import load_library
from tests.corpus.build import ROOT
from tests.corpus.evaluate_intent import (
    DEV,
    DEV2,
    DEV3,
    DEV4,
    DEV5,
    DEV6,
    DEV7,
    DEV8,
    DEV9,
    DEV10,
    DEV11,
    DEV12,
    DEV13,
    FRESH,
    INDEPENDENT,
    INDEPENDENT_B,
    INDEPENDENT_C,
    INDEPENDENT_D,
    INDEPENDENT_E,
    OURS,
    PROBE,
    PROBE2,
    PROBE3,
    PROBE4,
    PROBE5,
    PROBE6,
    PROBE7,
    PROBE8,
    PROBE9,
    PROBE10,
    PROBE11,
    PROBE12,
    PROBE13,
    evaluate_intents,
    read_intents,
)

SCRIPTS = ("cmcc-10086", "cmcc-12580", "ct-10000")
#: (set, label) → (precision, recall) it must keep.
FLOORS = {
    (OURS, "complaint"): (0.95, 0.95),
    (OURS, "unclear_purpose"): (0.95, 0.95),
    (DEV, "complaint"): (0.9, 0.9),
    (DEV, "unclear_purpose"): (0.9, 0.9),
    # measured 0.986 / 0.958 and 1.000 / 1.000 after the rework (before: 0.806 / 0.403 and
    # 1.000 / 0.560; tests/corpus/INTENT.md)
    (FRESH, "complaint"): (0.9, 0.9),
    (FRESH, "unclear_purpose"): (0.9, 0.9),
    # Third round (tests/corpus/INTENT.md): intent_dev2 was written before any code changed and
    # measured 0.953 / 0.844 and 1.000 / 0.889 then; the probes, each written after the one
    # before was designed on, measured 0.923 / 0.600 and 1.000 / 0.750, then 0.929 / 0.500 and
    # 1.000 / 0.833, before being designed on. All three measure 0.96 or more after.
    (DEV2, "complaint"): (0.97, 0.97),
    (DEV2, "unclear_purpose"): (0.97, 0.97),
    (PROBE, "complaint"): (0.95, 0.95),
    (PROBE, "unclear_purpose"): (0.95, 0.95),
    (PROBE2, "complaint"): (0.95, 0.95),
    (PROBE2, "unclear_purpose"): (0.95, 0.95),
    # Fifth round (tests/corpus/INTENT.md): intent_dev3, on the purpose question, measured
    # 0.846 / 1.000 and 1.000 / 0.609 before anything was tuned on it; after, trained on,
    # 0.880 / 1.000 and 1.000 / 0.967. Its complaint false positives are purpose lines
    # (销号, 携号转网怎么弄, 能找个真人跟我说吗) the complaint cues read as leaving.
    (DEV3, "complaint"): (0.85, 0.95),
    (DEV3, "unclear_purpose"): (0.95, 0.95),
    # intent_probe3, every fourth line written for intent_dev3, split off before anything was
    # measured and measured once at the end: 0.800 / 1.000 and 0.938 / 0.500 on the rules of
    # 55e7d99, 0.800 / 1.000 and 0.957 / 0.733 after. The floors are what was measured.
    # Sixth round: 0.889 / 1.000 and 0.960 / 0.800 (its lines never read, only its figures).
    # Seventh round (a purpose not said): 1.000 / 1.000 and 0.966 / 0.933 (which lines, not
    # looked at).
    (PROBE3, "complaint"): (1.0, 1.0),
    (PROBE3, "unclear_purpose"): (0.96, 0.93),
    # Sixth round (tests/corpus/INTENT.md): intent_dev4, on the purpose question, written before
    # the round changed any code and without reading the recogniser, measured 0.778 / 0.840 and
    # 0.953 / 0.737 first; after, designed and trained on, 0.920 / 0.920 and 0.985 / 0.985 (its
    # two unclear false positives are 卡的问题 lines it labels a purpose said, the older sets
    # unclear).
    (DEV4, "complaint"): (0.92, 0.92),
    (DEV4, "unclear_purpose"): (0.98, 0.98),
    # intent_probe4, every third line written for intent_dev4, split off before anything was
    # measured and measured at the round's start and end only (figures, no line): 0.579 / 0.917
    # and 0.945 / 0.765 on the rules of 7ff024e, 0.647 / 0.917 and 0.968 / 0.897 after. Its
    # complaint precision is the weak figure: the floors are what was measured. Seventh round
    # (never designed on, its lines never printed): 0.688 / 0.917 and 0.970 / 0.956.
    (PROBE4, "complaint"): (0.68, 0.91),
    (PROBE4, "unclear_purpose"): (0.97, 0.95),
    # Seventh round (tests/corpus/INTENT.md): intent_dev5, written by someone who never read the
    # recogniser, its cues or any earlier corpus line, measured 0.611 / 1.000 and 0.986 / 0.514
    # first; after, designed and trained on, 0.892 / 1.000 and 0.993 / 0.986 (trained on the files
    # before it, the honest fold: 0.767 / 1.000 and 0.992 / 0.923).
    (DEV5, "complaint"): (0.89, 1.0),
    (DEV5, "unclear_purpose"): (0.99, 0.98),
    # intent_probe5, every third line written with intent_dev5, split off before anything was
    # measured, never designed on (figures only, no line printed): 0.762 / 0.941 and 1.000 /
    # 0.721 before the purpose model gated the words (unsaid_purpose), 0.762 / 0.941 and 1.000 /
    # 0.706 after (tests/corpus/INTENT.md, seventh round: why it was measured twice).
    (PROBE5, "complaint"): (0.76, 0.94),
    # Eighth round: intent_probe5 unclear 1.000 / 0.794, the model retrained with intent_dev6.
    (PROBE5, "unclear_purpose"): (1.0, 0.79),
    # Eighth round (tests/corpus/INTENT.md): intent_dev6, written from the norms alone by someone
    # who never read the recogniser or any earlier corpus line, measured 0.848 / 0.930 and 0.983 /
    # 0.624 first; after, designed and trained on, 0.933 / 0.974 and 1.000 / 0.796 (trained on the
    # files before it, the honest fold: 0.906 / 0.930 and 0.984 / 0.677).
    (DEV6, "complaint"): (0.93, 0.97),
    (DEV6, "unclear_purpose"): (1.0, 0.79),
    # intent_probe6, every third line written with intent_dev6, split off before anything was
    # measured, never designed on (figures only): 0.877 / 0.893 and 0.969 / 0.660 at the start,
    # 0.877 / 0.893 and 0.971 / 0.702 at the end.
    (PROBE6, "complaint"): (0.87, 0.89),
    (PROBE6, "unclear_purpose"): (0.97, 0.70),
    # Ninth round (tests/corpus/INTENT.md): intent_dev7, written from the norms alone by someone
    # who never read the recogniser or any corpus line, measured 0.815 / 0.917 and 0.973 / 0.811
    # before the round changed any code; after, designed on (its cues) but not trained on (the
    # model that ships is its fold's), 0.960 / 1.000 and 0.988 / 0.889. intent_probe7, written
    # with it, never designed on (figures only): 0.850 / 0.879 and 0.971 / 0.773 at the start,
    # 0.895 / 0.879 and 1.000 / 0.773 at the end.
    (DEV7, "complaint"): (0.96, 1.0),
    (DEV7, "unclear_purpose"): (0.98, 0.88),
    (PROBE7, "complaint"): (0.89, 0.87),
    (PROBE7, "unclear_purpose"): (1.0, 0.77),
    # Tenth round: intent_dev8, written from the norms alone by caller persona (rambling,
    # hesitating, confused callers; returned calls), measured 0.850 / 0.873 and 0.965 / 0.755
    # before the round changed any code; intent_probe8, written with it, never designed on:
    # 0.862 / 0.909 and 1.000 / 0.691. After the round with its "no need said" rule on:
    # 0.991 / 0.982 and 0.982 / 0.973, intent_probe8 0.893 / 0.909 and 0.979 / 0.836, but
    # intent_probe7 under two floors (0.893 / 0.862, 0.951 / 0.886) and the frozen sets' unclear
    # precision 9-12 points lower: the rule is off in the scripts (tests/corpus/INTENT.md, tenth
    # round). With it off: intent_dev8 0.956 / 0.982 and 0.978 / 0.827, intent_probe8 as at the
    # start.
    (DEV8, "complaint"): (0.95, 0.98),
    (DEV8, "unclear_purpose"): (0.97, 0.82),
    (PROBE8, "complaint"): (0.86, 0.90),
    (PROBE8, "unclear_purpose"): (1.0, 0.69),
    # Eleventh round (tests/corpus/INTENT.md): intent_dev9, written from the norms alone (how
    # first turns sound: cut off, fillers, callers acting for others, after a transfer or a missed
    # call, enterprise callers), measured 0.872 / 0.927 and 0.942 / 0.736 before the round changed
    # any code; after, designed on (its cues; the model not retrained), 0.981 / 0.955 and 0.980 /
    # 0.900. intent_probe9, written with it, never designed on (figures only): 0.911 / 0.850 and
    # 1.000 / 0.767 at the start, 0.911 / 0.850 and 1.000 / 0.783 at the end.
    (DEV9, "complaint"): (0.98, 0.95),
    (DEV9, "unclear_purpose"): (0.98, 0.90),
    (PROBE9, "complaint"): (0.91, 0.85),
    (PROBE9, "unclear_purpose"): (1.0, 0.78),
    # intent_dev10 and intent_probe10, written from the norms alone (returned calls, messages,
    # voicemail, bills and letters; rambling and elderly callers; unmarked sarcasm; hedged
    # complaints; dialect and ASR errors), held at what main does on them (0.869 / 0.856 and
    # 0.950 / 0.667; 0.841 / 0.806 and 1.000 / 0.469). The twelfth round designed on dev10 was
    # not merged: it failed this file's floors on the independent sets (tests/corpus/INTENT.md).
    # Thirteenth round (designed on dev11 and dev10; the model not retrained): dev10 0.939 /
    # 0.939 and 0.956 / 0.754; probe10, never designed on, 0.859 / 0.847 and 1.000 / 0.562 (its
    # floors left as they were).
    (DEV10, "complaint"): (0.93, 0.93),
    (DEV10, "unclear_purpose"): (0.95, 0.75),
    (PROBE10, "complaint"): (0.84, 0.80),
    (PROBE10, "unclear_purpose"): (1.0, 0.46),
    # intent_dev11 and intent_probe11, written from the norms alone (returned contacts whose
    # purpose is clear enough, not, or a grievance; hedged, polite, sarcastic and rambling
    # complaints and their near misses), held at what main does on them before any round
    # designed on dev11 (0.901 / 0.722 and 0.953 / 0.774; 0.977 / 0.656 and 0.960 / 0.800).
    # Thirteenth round (designed on dev11): 0.959 / 0.937 and 1.000 / 0.943; probe11, never
    # designed on, 0.977 / 0.656 and 0.962 / 0.833 (its floors left as they were).
    (DEV11, "complaint"): (0.95, 0.93),
    (DEV11, "unclear_purpose"): (1.0, 0.94),
    (PROBE11, "complaint"): (0.97, 0.65),
    (PROBE11, "unclear_purpose"): (0.96, 0.80),
    # intent_dev12 and intent_probe12, written from the norms alone (complaints with no marked
    # word: deadpan, unmarked sarcasm, hedged reports, told through relatives; someone else to
    # blame; indirect openings), held at what main does on them before any round designed on
    # dev12 (0.913 / 0.553 and 0.909 / 0.746; 0.947 / 0.537 and 0.939 / 0.838).
    (DEV12, "complaint"): (0.91, 0.55),
    (DEV12, "unclear_purpose"): (0.90, 0.74),
    (PROBE12, "complaint"): (0.94, 0.53),
    (PROBE12, "unclear_purpose"): (0.93, 0.83),
    # intent_dev13 and intent_probe13, written from the norms alone (stories with no need,
    # someone else to blame with a plain request, plain or brisk purposes, and the complaints
    # that are their twins), held at what main does on them before any round designed on dev13
    # (0.889 / 0.643 and 0.946 / 0.625; 0.878 / 0.600 and 1.000 / 0.567).
    (DEV13, "complaint"): (0.88, 0.64),
    (DEV13, "unclear_purpose"): (0.94, 0.62),
    (PROBE13, "complaint"): (0.87, 0.60),
    (PROBE13, "unclear_purpose"): (1.0, 0.56),
    # Independent sets, never tuned to, measured once after the word-class rework (before it:
    # 0.924 / 0.760 and 1.000 / 0.500; 0.865 / 0.792 and 1.000 / 0.484); after: 0.955 / 0.849
    # and 0.978 / 0.733; 0.952 / 0.876 and 1.000 / 0.656 (tests/corpus/INTENT.md)
    # After the third round (intent_dev2): 0.951 / 0.858 and 0.979 / 0.783; 0.947 / 0.881 and
    # 1.000 / 0.688. independent_b's complaint precision fell by one false positive (178/188,
    # 9 before): its floor is 0.94 where it was 0.95 (tests/corpus/INTENT.md, third round).
    # Fourth round (a learned model beside the cues, for complaints; its threshold chosen on
    # our own replayed batches, never on these): complaint recall rose by 10–12 points on each
    # independent set and precision fell by 1–2.5 (0.951 / 0.858 → 0.940 / 0.978; 0.947 / 0.881
    # → 0.929 / 0.965; 0.920 / 0.797 → 0.894 / 0.911); one unclear purpose of intent_c is now a
    # complaint (30 → 29 of 62). The floors are what was measured then, in their own commit.
    (INDEPENDENT, "complaint"): (0.93, 0.97),
    # Seventh round: independent_b 0.951 / 0.955 (three complaints fewer; floor moved in its own
    # commit, tests/corpus/INTENT.md).
    # Ninth round (anger aimed elsewhere, praise; measured once after the merge): 0.956 / 0.960.
    # Tenth round (its "no need said" rule off; measured after the rule's own measurement, see
    # INDEPENDENT_E): 0.956 / 0.965.
    (INDEPENDENT_B, "complaint"): (0.95, 0.96),
    # Fifth round (the learned model judges the unclear purpose too, vetoed where a business
    # topic is said; retrained with intent_dev3): unclear-purpose recall 0.783 → 0.917, 0.688
    # → 0.891 and 0.468 → 0.694 at precision 0.98 or more; complaint on independent_c 0.894 /
    # 0.911 → 0.905 / 0.905, on independent_b 0.929 / 0.965 → 0.938 / 0.965.
    # Seventh round (a purpose not said, gated by the purpose model): independent 0.983 / 0.983
    # -> 0.937 / 0.983, independent_c 1.000 / 0.758 -> 0.949 / 0.903 (figures only): precision
    # under 0.95 on two sets, recorded as measured (tests/corpus/INTENT.md, seventh round).
    # Eighth round (returned calls, dev6; measured once after the merge): 0.937 -> 0.922 / 0.983.
    (INDEPENDENT, "unclear_purpose"): (0.92, 0.98),
    # Seventh round: independent_b 1.000 / 0.938 -> 0.924 / 0.953.
    # Tenth round: 0.938 / 0.953.
    (INDEPENDENT_B, "unclear_purpose"): (0.93, 0.95),
    # A third independent set (tests/independent/INTENT_C.md), written from norm 002 alone and
    # measured once on the rules as they stood (2026-11-30, before the fourth round): 0.920 /
    # 0.797 and 1.000 / 0.484.
    # Eighth round (measured once after the merge): complaint 0.905 / 0.905 -> 0.928 / 0.892
    # (two complaints fewer, three false ones fewer), unclear purpose 0.949 / 0.903 -> 0.950 / 0.919.
    # Ninth round (measured once after the merge): complaint 0.928 -> 0.953 / 0.892.
    # Tenth round: complaint 0.966 / 0.899.
    (INDEPENDENT_C, "complaint"): (0.96, 0.89),
    (INDEPENDENT_C, "unclear_purpose"): (0.94, 0.90),
    # A fourth (tests/independent/INTENT_D.md), written from the norms alone after the third had
    # been looked at, measured once on the rules as they stood (2026-12-01, a04fef2): complaint
    # 0.855 / 0.907, unclear purpose 0.989 / 0.711 (136/159, 136/150; 86/87, 86/121).
    # Eighth round (measured once after the merge): complaint 0.871 / 0.900, unclear purpose
    # 0.969 / 0.785 (95/98, 95/121).
    # Ninth round (measured once after the merge): complaint 0.895 / 0.907 (136/152, 136/150),
    # unclear purpose 0.980 / 0.793 (96/98, 96/121).
    # Tenth round: complaint 0.901 / 0.913 (137/152, 137/150), unclear purpose unchanged.
    (INDEPENDENT_D, "complaint"): (0.90, 0.91),
    (INDEPENDENT_D, "unclear_purpose"): (0.97, 0.79),
    # A fifth (tests/independent/INTENT_E.md), written from the norms alone after the fourth had
    # been looked at, measured once on the rules as they stood (2026-12-01, e424fb9): complaint
    # 0.856 / 0.895 (137/160, 137/153), unclear purpose 0.978 / 0.725 (87/89, 87/120).
    # Ninth round (measured once after the merge): complaint 0.885 / 0.908 (139/157, 139/153),
    # unclear purpose unchanged.
    # Tenth round, measured twice after its merge: with its "no need said" rule on, complaint
    # 0.895 / 0.889 and unclear purpose 0.950 / 0.792 here, and on the three oldest sets unclear
    # precision 0.922 -> 0.831, 0.924 -> 0.836, 0.950 -> 0.826 (complaint recall -0.02 on two);
    # the rule was turned off in the scripts (intent_probe7 had fallen under two floors too), and
    # with it off: complaint 0.897 / 0.908 (139/155, 139/153), unclear purpose 0.978 / 0.742.
    # Eleventh round (intent_dev9), measured once after its merge: complaint 0.914 / 0.908
    # (139/152, 139/153), unclear purpose 0.978 / 0.750 (90/92, 90/120); the other four
    # independent sets unchanged on both labels.
    (INDEPENDENT_E, "complaint"): (0.91, 0.90),
    (INDEPENDENT_E, "unclear_purpose"): (0.97, 0.75),
}


@pytest.fixture(scope="module", params=SCRIPTS)
def compiled(request: pytest.FixtureRequest) -> CompiledScript:
    library = load_library(ROOT / "scripts_data")
    script = library.scripts[request.param]
    return CompiledScript(script, library.lexicon_for(script))


def test_our_sets_are_big_enough_and_labelled() -> None:
    ours = read_intents(OURS)
    labels = {label for label, _, _ in ours}
    assert labels == {"complaint", "not_complaint", "unclear_purpose"}
    assert len(ours) >= 1000 and len(read_intents(DEV)) >= 100 and len(read_intents(FRESH)) >= 150
    dev2 = read_intents(DEV2)
    assert len(dev2) >= 300
    assert {label for label, _, _ in dev2} == {"complaint", "not_complaint", "unclear_purpose"}
    kinds = {kind for label, kind, _ in dev2 if label == "complaint"}
    assert kinds == {
        "explicit",
        "explain",
        "compensate",
        "threat",
        "dissatisfaction",
        "repeated",
        "sarcasm",
    }
    kinds = {kind for label, kind, _ in ours if label == "complaint"}
    assert kinds == {"explicit", "demand", "threat", "dissatisfaction"}
    # each later development set (the least lines it holds) and the probe written with it
    for dev, least, probe, probe_least in (
        (DEV3, 200, None, 0),
        (DEV4, 250, PROBE4, 100),
        (DEV5, 250, PROBE5, 120),
        (DEV6, 300, PROBE6, 150),
        (DEV7, 300, PROBE7, 150),
        (DEV8, 300, PROBE8, 150),
        (DEV9, 300, PROBE9, 150),
        (DEV10, 300, PROBE10, 150),
        (DEV11, 300, PROBE11, 150),
        (DEV12, 290, PROBE12, 150),
        (DEV13, 280, PROBE13, 150),
    ):
        rows = read_intents(dev)
        assert len(rows) >= least, dev.name
        if probe is not None:
            assert len(read_intents(probe)) >= probe_least, probe.name
        assert {label for label, _, _ in rows} == {
            "complaint",
            "not_complaint",
            "unclear_purpose",
        }, dev.name


@pytest.mark.parametrize(
    "path",
    [
        OURS,
        DEV,
        FRESH,
        DEV2,
        PROBE,
        PROBE2,
        DEV3,
        PROBE3,
        DEV4,
        PROBE4,
        DEV5,
        PROBE5,
        DEV6,
        PROBE6,
        DEV7,
        PROBE7,
        DEV8,
        PROBE8,
        DEV9,
        PROBE9,
        DEV10,
        PROBE10,
        DEV11,
        PROBE11,
        DEV12,
        PROBE12,
        DEV13,
        PROBE13,
        INDEPENDENT,
        INDEPENDENT_B,
        INDEPENDENT_C,
        INDEPENDENT_D,
        INDEPENDENT_E,
    ],
    ids=[
        "ours",
        "dev",
        "fresh",
        "dev2",
        "probe",
        "probe2",
        "dev3",
        "probe3",
        "dev4",
        "probe4",
        "dev5",
        "probe5",
        "dev6",
        "probe6",
        "dev7",
        "probe7",
        "dev8",
        "probe8",
        "dev9",
        "probe9",
        "dev10",
        "probe10",
        "dev11",
        "probe11",
        "dev12",
        "probe12",
        "dev13",
        "probe13",
        "independent",
        "independent_b",
        "independent_c",
        "independent_d",
        "independent_e",
    ],
)
def test_precision_and_recall_hold(compiled: CompiledScript, path: object) -> None:
    figures = evaluate_intents(compiled, path)  # type: ignore[arg-type]
    for (where, label), (precision, recall) in FLOORS.items():
        if where != path:
            continue
        score = figures.scores[label]
        assert score.precision >= precision, (label, str(score))
        assert score.recall >= recall, (label, str(score))
