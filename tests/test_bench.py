"""The benchmark's own parts: the ceiling runs under the service's process settings, and the load
generator loads every call it holds."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from bench.client import Job


def test_the_bench_echo_has_the_service_gc_policy() -> None:
    from app.main import GC_THRESHOLDS
    from bench.echo import GC_THRESHOLDS as ECHO

    assert ECHO == GC_THRESHOLDS


class _Recorder:
    """Stands for a connection: records what the generator sends on it."""

    def __init__(self, name: int, log: Counter[int]) -> None:
        self.name = name
        self.log = log
        self.on_message: Any = None

    def send(self, message: dict[str, Any]) -> None:
        assert message["type"] == "fragment"
        self.log[self.name] += 1


def test_every_call_sends_at_the_rate_not_only_the_last() -> None:
    """Each call gets its own timer chain: 0.5 s at 20 fragments/s is ~10 sends on *every* call
    (the seed's generator sent one on each and all the rest on the last call)."""
    log: Counter[int] = Counter()
    job = Job(
        {
            "kind": "huashu",
            "host": "-",
            "port": 0,
            "first": 0,
            "count": 8,
            "rate": 20.0,
            "seconds": 0.5,
        }
    )
    job.calls = [_Recorder(n, log) for n in range(8)]  # type: ignore[misc]

    async def go() -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        job.run(done)
        await asyncio.wait_for(done, 5)

    asyncio.run(go())
    assert sorted(log) == list(range(8))
    assert all(9 <= sends <= 11 for sends in log.values()), log
    assert job.sent == sum(log.values())
    # every fourth fragment of a call is the alerting phrase, counted as expected once each
    assert job.expected == sum(sends // 4 for sends in log.values())
