"""The service with a probe of its event loop, for finding where a load's latency goes.

Serve ``bench.loopprobe:app`` instead of ``app.main:app`` (the benches' ``Server`` takes the app
as a string: ``Server("bench.loopprobe:app", ...)``); once a second the probe appends a line to
``BENCH_PROBE_FILE`` (default ``/tmp/loopprobe-<pid>.txt``):

- ``lag``: how late a 5 ms sleep woke (p50 / p99 / max ms): the loop's own stalls;
- ``queued``: how long a received frame waited in uvicorn's per-connection queue before the
  call's task took it (p50 / p90 / max ms): the wait in front of the app;
- ``gc``: the collector's pauses by generation (count, total ms, longest ms).

``BENCH_PROBE_GC`` (``700,10,100``) sets the collector's thresholds once the first connection
arrives (``0`` turns automatic collection off). The probe patches uvicorn's websockets-sansio
protocol class in this process only; it is a measuring tool, never part of the service. Its
once-a-second report is work on the loop too: under load it makes a stall of its own each
second, so read its lag's maximum with that in mind. How it was used: ``BENCHMARKS.md``,
*Load*.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from uvicorn.protocols.websockets import websockets_sansio_impl as sansio

from app.main import app as service

_Protocol = sansio.WebSocketsSansIOProtocol
#: Milliseconds each frame waited in uvicorn's queue, this second.
_queued: list[float] = []
#: (generation, milliseconds) of each collection, this second.
_pauses: list[tuple[int, float]] = []

_data_received = _Protocol.data_received
_receive = _Protocol.receive


def _timed_data_received(self: Any, data: bytes) -> None:
    arrived = time.perf_counter()
    before = self.queue.qsize()
    _data_received(self, data)
    times = self.__dict__.setdefault("_probe_arrivals", deque())
    times.extend([arrived] * (self.queue.qsize() - before))


async def _timed_receive(self: Any) -> Any:
    message = await _receive(self)
    times = self.__dict__.get("_probe_arrivals")
    if times:
        _queued.append((time.perf_counter() - times.popleft()) * 1000)
    return message


_Protocol.data_received = _timed_data_received  # type: ignore[method-assign]
_Protocol.receive = _timed_receive  # type: ignore[method-assign]


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else 0.0


class _Probe:
    def __init__(self) -> None:
        self.started = False
        self.collecting = 0.0
        self.task: asyncio.Task[None] | None = None  # held: the loop keeps only a weak one

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.collecting = time.perf_counter()
        else:
            _pauses.append((info["generation"], (time.perf_counter() - self.collecting) * 1000))

    async def run(self) -> None:
        gc.callbacks.append(self.on_gc)
        path = os.environ.get("BENCH_PROBE_FILE", f"/tmp/loopprobe-{os.getpid()}.txt")
        lags: list[float] = []
        second = time.monotonic()
        with open(path, "a", encoding="utf-8") as out:
            while True:
                asleep = time.perf_counter()
                await asyncio.sleep(0.005)
                lags.append((time.perf_counter() - asleep - 0.005) * 1000)
                if time.monotonic() - second < 1.0:
                    continue
                by_generation = [
                    [ms for generation, ms in _pauses if generation == g] for g in (0, 1, 2)
                ]
                gcs = " ".join(
                    f"{len(p)}/{sum(p):.0f}/{max(p, default=0):.0f}" for p in by_generation
                )
                out.write(
                    f"{time.time():.1f} lag {_pct(lags, 0.5):.2f}/{_pct(lags, 0.99):.2f}/"
                    f"{max(lags):.2f} queued {_pct(_queued, 0.5):.2f}/{_pct(_queued, 0.9):.2f}/"
                    f"{max(_queued, default=0):.2f} gc {gcs}\n"
                )
                out.flush()
                lags.clear()
                _queued.clear()
                _pauses.clear()
                second = time.monotonic()


_probe = _Probe()


async def app(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[Any]],
    send: Callable[[Any], Awaitable[None]],
) -> None:
    if scope["type"] != "lifespan" and not _probe.started:
        _probe.started = True
        thresholds = os.environ.get("BENCH_PROBE_GC")
        if thresholds:
            gc.set_threshold(*(int(n) for n in thresholds.split(",")))
        _probe.task = asyncio.get_running_loop().create_task(_probe.run(), name="loopprobe")
    await service(scope, receive, send)
