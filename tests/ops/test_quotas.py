"""Per-tenant bounds: connections, live calls, and a token bucket of messages a second."""

from __future__ import annotations

import time

import pytest

from app.ops.quotas import Quotas, TooMany


def test_connections_are_counted_per_tenant_and_given_back() -> None:
    quotas = Quotas(max_connections=2, max_calls=10, messages_per_s=100)
    quotas.connect("a")
    quotas.connect("a")
    quotas.connect("b")  # another tenant's count is its own
    with pytest.raises(TooMany) as refused:
        quotas.connect("a")
    assert refused.value.status == 429 and refused.value.code == "too_many_connections"
    quotas.disconnect("a")
    quotas.connect("a")


def test_live_calls_past_the_bound_are_refused() -> None:
    quotas = Quotas(max_connections=10, max_calls=3, messages_per_s=100)
    quotas.start_call(None, 2)
    with pytest.raises(TooMany) as refused:
        quotas.start_call(None, 3)
    assert refused.value.code == "too_many_calls"


def test_messages_a_second_refill_as_time_passes() -> None:
    quotas = Quotas(max_connections=10, max_calls=10, messages_per_s=50)
    taken = sum(quotas.message("a") for _ in range(80))
    assert 50 <= taken <= 52  # the burst (a second's worth), and what refilled meanwhile
    assert all(quotas.message("b") for _ in range(50))  # tenants apart
    time.sleep(0.1)
    assert 4 <= sum(quotas.message("a") for _ in range(20)) <= 7  # 0.1 s at 50 a second


def test_library_writes_are_a_minutes_burst_then_refused_per_tenant() -> None:
    quotas = Quotas(max_connections=10, max_calls=10, messages_per_s=50, library_writes_per_min=3)
    for _ in range(3):
        quotas.library_write("a")
    with pytest.raises(TooMany) as refused:
        quotas.library_write("a")
    assert refused.value.status == 429 and refused.value.code == "too_many_writes"
    quotas.library_write("b")  # another tenant's bucket is its own
    assert quotas.message("a")  # and the messages' bucket is apart
