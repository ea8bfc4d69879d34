"""Holds the matching at its measured quality so no later change can quietly lower it.

The labelled corpus is tests/corpus (built by `make corpus`); the real text by others is read in
place from ../shared/data/real and this test fails, not skips, when it is absent; so is the
independent set, tests/independent (frozen: its figures are held, its sentences never shown).
"""

from __future__ import annotations

import pytest

from app.engine.compiled import CompiledScript
from app.scripts.loader import load_library
from tests.corpus.build import ROOT
from tests.corpus.evaluate import (
    CORPUS,
    INDEPENDENT,
    REAL,
    Figures,
    IndependentFigures,
    evaluate_corpus,
    evaluate_independent,
    evaluate_real,
    read_tsv,
)


@pytest.fixture(scope="module")
def compiled() -> CompiledScript:
    library = load_library(ROOT / "scripts_data")
    script = library.scripts["cmcc-10086"]
    return CompiledScript(script, library.lexicon_for(script))


@pytest.fixture(scope="module")
def figures(compiled: CompiledScript) -> Figures:
    return evaluate_corpus(compiled)


def test_corpus_size() -> None:
    positives = read_tsv(CORPUS / "positives.tsv", 3)
    compliant = read_tsv(CORPUS / "compliant.tsv", 2)
    assert len(positives) >= 400 and len(compliant) >= 1500
    assert {form for _, form, _ in positives} == {"exact", "noisy", "reworded"}


def test_exact_recall_is_total(figures: Figures) -> None:
    assert figures.recall["exact"].value == 1.0, figures.missed


def test_noisy_and_reworded_recall(figures: Figures) -> None:
    # 0.9787 before issue 13, 0.9867 after: held there
    assert figures.recall["noisy_and_reworded"].value >= 0.985, figures.missed


def test_false_alarms_on_compliant_speech(figures: Figures) -> None:
    assert figures.false_alarms["compliant"].value <= 0.005, figures.alerted["compliant"]


def test_false_alarms_on_real_text(compiled: CompiledScript) -> None:
    assert REAL.is_dir(), f"the real text by others is expected at {REAL} (shared/data/real)"
    real = evaluate_real(compiled)
    for name in ("seretod_agent", "stc3_helpdesk"):
        rate = real.false_alarms[name]
        assert rate.total > 0, name
        assert rate.value <= 0.01, (name, real.alerted[name][:20])


#: What the independent set (tests/independent, frozen; written from the norms by someone who
#: never saw the matcher) gave when issue 13 closed: caught rows per kind. A change may raise
#: these, never lower them (tests/corpus/NOTES.md has the figures before and after).
INDEPENDENT_CAUGHT = {
    "exact": 81,
    "unpunctuated": 41,
    "inserted": 77,
    "dropped": 47,
    "reordered": 24,
    "homophone": 57,
    "traditional": 34,
    "filler": 37,
    "split": 35,
}


@pytest.fixture(scope="module")
def independent(compiled: CompiledScript) -> IndependentFigures:
    assert INDEPENDENT.is_dir(), f"the independent set is expected at {INDEPENDENT}"
    return evaluate_independent(compiled)


def test_independent_recall_holds_per_kind(independent: IndependentFigures) -> None:
    """Aggregates only: which rows are missed is not shown (they are not to be tuned to)."""
    caught = {kind: independent.recall[kind].hits for kind in INDEPENDENT_CAUGHT}
    assert all(caught[kind] >= n for kind, n in INDEPENDENT_CAUGHT.items()), caught


def test_independent_recall_over_all_kinds_but_paraphrase(
    independent: IndependentFigures,
) -> None:
    assert independent.recall["target"].value >= 0.95, str(independent.recall["target"])


def test_independent_false_alarms_and_customer_speech(independent: IndependentFigures) -> None:
    assert independent.false_alarms["all"].value <= 0.005, str(independent.false_alarms["all"])
    assert independent.customer.hits == 0, str(independent.customer)
