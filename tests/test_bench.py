"""The benchmark's own parts: the ceiling runs under the service's process settings, and the load
generator loads every call it holds."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from bench.client import Job


def test_the_bench_echo_has_the_service_gc_policy() -> None:
    from app.config import Settings
    from app.main import GC_OLDER_THRESHOLDS
    from bench.echo import GC_THRESHOLDS as ECHO

    assert ECHO == (Settings().gc_young_threshold, *GC_OLDER_THRESHOLDS)


class _Recorder:
    """Stands for a connection: records what the generator sends on it."""

    def __init__(self, name: int, log: Counter[int]) -> None:
        self.name = name
        self.log = log
        self.on_message: Any = None

    def send(self, message: dict[str, Any]) -> None:
        assert message["type"] == "fragment"
        self.log[self.name] += 1


def _run(calls: list[Any]) -> Job:
    """The generator's job for ``calls`` (recorders), 0.5 s at 20 fragments/s, run to its end."""
    job = Job(
        {
            "kind": "huashu",
            "host": "-",
            "port": 0,
            "first": 0,
            "count": len(calls),
            "rate": 20.0,
            "seconds": 0.5,
        }
    )
    job.calls = calls

    async def go() -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        job.run(done)
        await asyncio.wait_for(done, 5)

    asyncio.run(go())
    return job


def test_every_call_sends_at_the_rate_not_only_the_last() -> None:
    """Each call gets its own timer chain: 0.5 s at 20 fragments/s is ~10 sends on *every* call
    (the seed's generator sent one on each and all the rest on the last call)."""
    log: Counter[int] = Counter()
    job = _run([_Recorder(n, log) for n in range(8)])
    assert sorted(log) == list(range(8))
    assert all(9 <= sends <= 11 for sends in log.values()), log
    assert job.sent == sum(log.values())
    # every fourth fragment of a call is the alerting phrase (call n's shifted by n % 4),
    # counted as expected once each
    assert job.expected == sum((sends + n % 4) // 4 for n, sends in log.items())


class _Texts(_Recorder):
    """Records the texts each call sends, in order."""

    def __init__(self, name: int, log: Counter[int], texts: dict[int, list[str]]) -> None:
        super().__init__(name, log)
        self.texts = texts

    def send(self, message: dict[str, Any]) -> None:
        super().send(message)
        self.texts.setdefault(self.name, []).append(message["text"])


def test_the_calls_alerts_are_staggered_not_all_in_one_period() -> None:
    """Every call says the phrase one fragment in four, but not the same fourth: the calls'
    first alerting sends fall on each of the four positions (with one shared position, every
    call alerted in the same quarter second and the service met all of a second's alerts at
    once)."""
    from bench.client import PHRASE

    log: Counter[int] = Counter()
    texts: dict[int, list[str]] = {}
    _run([_Texts(n, log, texts) for n in range(8)])
    first_alert = Counter(sent.index(PHRASE) for sent in texts.values())
    assert sorted(first_alert) == [0, 1, 2, 3] and set(first_alert.values()) == {2}, first_alert
    for sent in texts.values():  # still one in four on each call
        alerts = [n for n, text in enumerate(sent) if text == PHRASE]
        assert all(b - a == 4 for a, b in zip(alerts, alerts[1:], strict=False)), sent
