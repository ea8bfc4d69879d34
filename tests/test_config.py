"""Settings' bounds: a value out of range is refused naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config import Settings
from app.engine.outbox import KEEP_ALL, Windows


@pytest.mark.parametrize("value", [-1, 601, 1.5, "soon", None])
def test_the_shutdown_timeout_is_whole_seconds_up_to_ten_minutes(value: object) -> None:
    with pytest.raises(ValidationError, match="shutdown_timeout_s"):
        Settings(shutdown_timeout_s=value)


@pytest.mark.parametrize("value", [0, 10, 600])
def test_the_shutdown_timeout_takes_its_range(value: int) -> None:
    assert Settings(shutdown_timeout_s=value).shutdown_timeout_s == value


def test_the_shutdown_timeout_defaults_to_ten_seconds() -> None:
    assert Settings.model_fields["shutdown_timeout_s"].default == 10


@pytest.mark.parametrize("name", ["transcript_window", "alert_window"])
@pytest.mark.parametrize("value", [0, -5, 1_000_001, 2.5, "all", None])
def test_a_window_of_a_call_in_memory_is_a_whole_number_from_one(name: str, value: object) -> None:
    """A window of none would keep nothing to judge with, and no bound is not a choice."""
    with pytest.raises(ValidationError, match=name):
        Settings(**{name: value})


def test_the_windows_of_a_call_in_memory_reach_its_engine(tmp_path: Path) -> None:
    from app.main import build_state

    url = f"sqlite+aiosqlite:///{tmp_path / 'huashu.db'}"
    state = build_state(
        Settings(store="database", transcript_window=7, alert_window=3, database_url=url)
    )
    assert state.calls.windows == Windows(transcript=7, alerts=3)
    memory = build_state(Settings(store="memory", transcript_window=7, alert_window=3))
    assert memory.calls.windows == KEEP_ALL  # the in-memory store is the only copy


@pytest.mark.parametrize("value", [0, 1, -3, 65_537, 2.5, "all", None])
def test_the_intent_bound_is_a_whole_number_from_two(value: object) -> None:
    """Half of it is read from each end of a long final: fewer than two reads nothing."""
    with pytest.raises(ValidationError, match="intent_max_chars"):
        Settings(intent_max_chars=value)


def test_the_intent_bound_reaches_the_engine() -> None:
    from app.main import build_state

    state = build_state(Settings(store="memory", intent_max_chars=64))
    assert state.calls.bounds.intent_chars == 64


@pytest.mark.parametrize("value", [0, -1, 1_000_001, 2.5, "many", None])
def test_the_library_write_rate_is_a_whole_number_from_one(value: object) -> None:
    with pytest.raises(ValidationError, match="max_library_writes_per_min_per_tenant"):
        Settings(max_library_writes_per_min_per_tenant=value)


def test_the_library_write_rate_reaches_the_quotas() -> None:
    from app.main import build_state

    state = build_state(Settings(store="memory", max_library_writes_per_min_per_tenant=7))
    assert state.quotas.library_writes_per_min == 7


@pytest.mark.parametrize("value", [0, 99, -5, 100_000_001, 1.5, "lots", None])
def test_the_unstored_writes_bound_is_a_whole_number_in_range(value: object) -> None:
    with pytest.raises(ValidationError, match="max_unstored_writes"):
        Settings(max_unstored_writes=value)


def test_the_unstored_writes_bound_reaches_the_store(tmp_path: Path) -> None:
    from app.main import build_state

    url = f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"
    state = build_state(Settings(database_url=url, max_unstored_writes=250))
    assert state.repository._max_unstored == 250  # type: ignore[attr-defined]
    assert not state.repository.behind


@pytest.mark.parametrize("value", [0, 99, -700, 1_000_001, 700.5, "often", None])
def test_the_young_gc_threshold_is_a_whole_number_in_range(value: object) -> None:
    """Below 100 the collector would run every few messages; no bound is not a choice."""
    with pytest.raises(ValidationError, match="gc_young_threshold"):
        Settings(gc_young_threshold=value)


def test_the_young_gc_threshold_reaches_the_collector_while_serving() -> None:
    """Set in the lifespan, after the start-up objects are frozen; CPython's own 700 by
    default."""
    import gc

    from app.main import GC_OLDER_THRESHOLDS, create_app
    from tests.serving import served

    assert Settings.model_fields["gc_young_threshold"].default == 700
    before = gc.get_threshold()
    try:
        with served(create_app(Settings(store="memory", gc_young_threshold=20_000))):
            assert gc.get_threshold() == (20_000, *GC_OLDER_THRESHOLDS)
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
