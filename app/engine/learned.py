"""A learned judge of the customer's intent beside the script's hand-written cues.

A logistic regression over the character n-grams of the normalized utterance, one per label
(``complaint``, ``unclear_purpose``), trained offline (``python -m tests.corpus.train_intent``)
on our labelled customer utterances and exported as a JSON file of weights with its provenance.
Inference is pure Python: the utterance's n-grams are looked up in a dictionary of weights and
the sum goes through the logistic function. Every weight is a readable string of the text, so a
judgement is explained by the n-grams that weighed most (:meth:`LinearIntent.explain`).

:func:`features` is the one definition of the features: the trainer calls it too, so the
exported weights mean at run time what they meant in training.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import orjson

#: Where the trained weights ship: package data, read once per process and model.
MODELS = Path(__file__).resolve().parent / "models"

#: Marks the beginning and the end of the utterance, so that an n-gram can say "begins with 喂"
#: or "ends with 一下" (what an utterance that says no purpose looks like).
BEGIN, END = "^", "$"
#: The longest n-gram: three characters hold most Chinese words of service talk (投诉, 凭什么,
#: 什么玩意) without the vocabulary growing past what a few thousand lines can weigh.
MAX_N = 3
#: Utterance lengths (normalized characters) by bucket: the purpose is unclear in short
#: utterances, and a bucket is a feature the model weighs like an n-gram.
LENGTHS = (4, 8, 16, 32)


def features(text: str) -> set[str]:
    """The features of one normalized utterance: its character 1- to ``MAX_N``-grams (with the
    begin and end marks) and its length bucket."""
    padded = BEGIN + text + END
    grams = {padded[i : i + n] for n in range(1, MAX_N + 1) for i in range(len(padded) - n + 1)}
    grams.discard(BEGIN)
    grams.discard(END)
    bucket = next((limit for limit in LENGTHS if len(text) <= limit), 0)
    grams.add(f"#len≤{bucket}" if bucket else f"#len>{LENGTHS[-1]}")
    return grams


@dataclass(frozen=True, slots=True)
class LinearIntent:
    """One label's logistic regression: ``P(label | text) = σ(bias + Σ weights[f])`` over the
    text's :func:`features`."""

    bias: float
    weights: Mapping[str, float]

    def score(self, grams: set[str]) -> float:
        """The decision value (log-odds) for the features ``grams``."""
        weights = self.weights
        return self.bias + sum(weights.get(g, 0.0) for g in grams)

    def probability(self, grams: set[str]) -> float:
        return 1.0 / (1.0 + math.exp(-self.score(grams)))

    def explain(self, grams: set[str], top: int = 3) -> tuple[str, ...]:
        """The n-grams of two or more characters that pushed hardest towards the label,
        heaviest first (single characters and the length say little to a reader)."""
        weighed = sorted(
            ((self.weights[g], g) for g in grams if self.weights.get(g, 0.0) > 0), reverse=True
        )
        words: dict[str, None] = {}  # ^你们 and 你们 read the same to a reader
        for _, g in weighed:
            word = g.strip(BEGIN + END)
            if len(word) > 1 and not g.startswith("#"):
                words[word] = None
        return tuple(words)[:top]


@dataclass(frozen=True, slots=True)
class LearnedIntent:
    """The exported model: one :class:`LinearIntent` per label, and where it came from."""

    labels: Mapping[str, LinearIntent]
    provenance: Mapping[str, object]

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> LearnedIntent:
        """Read the trainer's export; raises ``ValueError`` on a file of another shape or of
        other features (the features are part of the model)."""
        spec = data.get("features")
        if spec != {"max_n": MAX_N, "lengths": list(LENGTHS), "marks": [BEGIN, END]}:
            raise ValueError(f"weights made for other features: {spec!r}")
        labels = data.get("labels")
        if not isinstance(labels, dict) or not labels:
            raise ValueError("no labels in the weights")
        read: dict[str, LinearIntent] = {}
        for name, model in labels.items():
            if not isinstance(model, dict):
                raise ValueError(f"label {name!r}: not a model")
            weights = model.get("weights")
            if not isinstance(weights, dict):
                raise ValueError(f"label {name!r}: no weights")
            read[name] = LinearIntent(
                float(model["bias"]), {str(g): float(w) for g, w in weights.items()}
            )
        provenance = data.get("provenance", {})
        return cls(read, provenance if isinstance(provenance, dict) else {})

    @classmethod
    def load(cls, path: Path) -> LearnedIntent:
        return cls.from_json(orjson.loads(path.read_bytes()))


def packaged_models() -> frozenset[str]:
    """The names of the models shipped with the engine."""
    return frozenset(path.stem for path in MODELS.glob("*.json"))


@cache
def packaged(name: str) -> LearnedIntent:
    """The packaged model ``name`` (``app/engine/models/<name>.json``), read on first use and
    shared by every script that names it."""
    return LearnedIntent.load(MODELS / f"{name}.json")
