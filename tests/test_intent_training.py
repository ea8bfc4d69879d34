"""The packaged intent model is what ``python -m tests.corpus.train_intent`` makes of our files:
the same weights from the same files, the same predictions as scikit-learn's, and the held-out
figures the training script printed (tests/corpus/INTENT.md quotes them)."""

from __future__ import annotations

import json

import pytest

from app.engine.compiled import CompiledScript
from app.engine.learned import features, packaged
from app.engine.normalize import normalize_text
from app.scripts.loader import load_library
from tests.corpus.build import ROOT
from tests.corpus.train_intent import (
    MODEL,
    OURS,
    estimators,
    fit,
    heldout,
    rows_of,
)

UTTERANCES = (
    "你们这样做生意迟早要黄",
    "我不是要投诉，就是问问",
    "喂你好",
    "我想查一下话费",
    "都三天了还没人来修，你们到底管不管",
)


def test_the_same_files_give_the_same_weights() -> None:
    exported = json.loads(MODEL.read_text(encoding="utf-8"))
    assert fit(rows_of(OURS))["labels"] == exported["labels"]


def test_the_weights_predict_what_scikit_learn_predicts() -> None:
    vectorizer, models = estimators(rows_of(OURS))
    model = packaged("intent-zh")
    for text in UTTERANCES:
        grams = features(normalize_text(text))
        x = vectorizer.transform([dict.fromkeys(grams, 1)])
        for label, estimator in models.items():
            expected = estimator.predict_proba(x)[0, 1]
            # the export rounds the weights and drops the lightest
            assert model.labels[label].probability(grams) == pytest.approx(expected, abs=0.03)


def test_the_held_out_figures_are_what_the_training_script_printed() -> None:
    library = load_library(ROOT / "scripts_data")
    script = library.scripts["cmcc-10086"]
    compiled = CompiledScript(script, library.lexicon_for(script))
    assert heldout(compiled) == packaged("intent-zh").provenance["held out"]
