"""The plain series expose what prometheus-client's own counters and histograms would, given
the same increments and observations (less the ``_created`` series)."""

from __future__ import annotations

import random

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from app.ops.series import Counts, PlainSeries, Spreads

BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


def _lines(registry: CollectorRegistry) -> list[str]:
    text = generate_latest(registry).decode()
    return sorted(line for line in text.splitlines() if line and "_created" not in line)


def test_the_same_exposition_as_prometheus_clients_own() -> None:
    rng = random.Random(7)
    ours = CollectorRegistry()
    plain = PlainSeries(ours)
    counts = Counts("x_messages", "Messages by type", ["type"])
    spreads = Spreads("x_latency_seconds", "Latency by format", ["format"], buckets=BUCKETS)
    single = Spreads("x_handling_seconds", "Handling", buckets=BUCKETS)
    for family in (counts, spreads, single):
        plain.add(family)
    plain.register()
    theirs = CollectorRegistry()
    counter = Counter("x_messages", "Messages by type", ["type"], registry=theirs)
    histogram = Histogram(
        "x_latency_seconds", "Latency by format", ["format"], buckets=BUCKETS, registry=theirs
    )
    handling = Histogram("x_handling_seconds", "Handling", buckets=BUCKETS, registry=theirs)
    for _ in range(2_000):
        kind = rng.choice(["fragment", "event", "ping"])
        amount = rng.choice([1, 1, 2, 0.5])
        counts.labels(kind).inc(amount)
        counter.labels(kind).inc(amount)
        fmt = rng.choice(["json", "tencent"])
        # on the bounds too: a value equal to a bound is in that bound's bucket
        value = rng.choice([*BUCKETS, rng.uniform(0, 2), rng.expovariate(500)])
        spreads.labels(fmt).observe(value)
        histogram.labels(fmt).observe(value)
        single.labels().observe(value)
        handling.observe(value)
    assert _lines(ours) == _lines(theirs)


def test_a_family_without_series_exposes_what_prometheus_clients_own_does() -> None:
    ours = CollectorRegistry()
    plain = PlainSeries(ours)
    plain.add(Counts("x_events", "Events", ["type"]))
    plain.add(Spreads("x_seconds", "Seconds", ["format"], buckets=BUCKETS))
    plain.register()
    theirs = CollectorRegistry()
    Counter("x_events", "Events", ["type"], registry=theirs)
    Histogram("x_seconds", "Seconds", ["format"], buckets=BUCKETS, registry=theirs)
    assert _lines(ours) == _lines(theirs)
    assert "x_events_total{" not in generate_latest(ours).decode()


@pytest.mark.parametrize("values", [(), ("a", "b")])
def test_label_values_must_match_the_label_names(values: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="1 label values expected"):
        Counts("x_events", "Events", ["type"]).labels(*values)
    with pytest.raises(ValueError, match="1 label values expected"):
        Spreads("x_seconds", "S", ["format"], buckets=BUCKETS).labels(*values)
