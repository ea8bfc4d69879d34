"""MemoryCallStore keeps at most ``keep_ended`` ended calls, dropping the oldest first."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from app.calls.registry import CallRecord, MemoryCallStore


@dataclass
class _Runner:
    ended: bool = False


def record(call_id: str) -> CallRecord:
    runner: Any = _Runner()
    return CallRecord(call_id, None, f"t-{call_id}", "s", None, 0, runner)


def test_ended_calls_beyond_the_limit_are_dropped_oldest_first() -> None:
    async def main() -> list[str]:
        store = MemoryCallStore(keep_ended=2)
        records = [record(f"c{n}") for n in range(4)]
        for r in records:
            await store.add(r)
        for r in records[:3]:
            r.runner.ended = True  # type: ignore[misc]
        await store.add(record("c4"))
        return [r.call_id for r in await store.list(None)]

    assert asyncio.run(main()) == ["c1", "c2", "c3", "c4"]


def test_live_calls_are_never_dropped() -> None:
    async def main() -> int:
        store = MemoryCallStore(keep_ended=1)
        for n in range(5):
            await store.add(record(f"c{n}"))
        return len(await store.list(None))

    assert asyncio.run(main()) == 5
