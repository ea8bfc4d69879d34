"""The benchmark's ceiling runs under the service's process settings."""

from __future__ import annotations


def test_the_bench_echo_has_the_service_gc_policy() -> None:
    from app.main import GC_THRESHOLDS
    from bench.echo import GC_THRESHOLDS as ECHO

    assert ECHO == GC_THRESHOLDS
