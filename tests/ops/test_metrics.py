from __future__ import annotations

import gc

from app.ops.metrics import Metrics


def test_gc_pauses_are_observed_by_generation() -> None:
    metrics = Metrics()
    gc.callbacks.append(metrics.gc_phase)
    try:
        gc.collect()  # a full collection: generation 2
    finally:
        gc.callbacks.remove(metrics.gc_phase)
    count = metrics.registry.get_sample_value("huashu_gc_pause_seconds_count", {"generation": "2"})
    total = metrics.registry.get_sample_value("huashu_gc_pause_seconds_sum", {"generation": "2"})
    assert count == 1
    assert total is not None and 0 < total < 5
