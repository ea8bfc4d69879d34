"""`python -m bench.permsg [--calls N] [--rounds M] [--profile FILE]`: the server's work for one
received WebSocket text frame, in process and without sockets, deterministically.

The load benchmark (``bench.load``) measures the server's CPU per message from outside, with
uvicorn, uvloop and the kernel's sockets in it, on a machine whose other work moves the figure.
This driver pushes the same message mix through everything ``app/`` does with a frame once
uvicorn has handed it over: the app's ASGI entry (``app.main.Huashu``: the guard, the stream's
route), ``app.calls.stream.serve`` (the decoder's JSON, the quotas, the runner), the engine,
the encoding of the events, the in-memory bus and store, the metrics, and the connection's
replies as far as its ASGI ``send``.

- The app is ``app.main.create_app`` on the in-memory store and bus (``HUASHU_STORE=memory``,
  no API keys, as ``bench.load`` starts it), its lifespan entered as uvicorn enters it.
- N connections (``--calls``, 200) each send ``bench.client``'s start messages (start,
  answered, the agent's greeting, the customer's 你好) and a ping, as the load bench's calls do
  before its window; then M rounds (``--rounds``, 40: ten seconds of the bench's 4 a second),
  in each of which every call's agent sends a final fragment of 10 characters of
  ``bench.client.FILLER``, every 4th one the forbidden phrase ``bench.client.PHRASE`` (an
  alert), as ``bench.client`` makes them (its seeds from ``random.Random(0)``), except that
  every call alerts in the same rounds (``bench.client`` staggers them across calls since
  2026-12-01): the same messages, so the same instructions a message.
- ASGI ``receive`` and ``send`` are a queue per connection and a counter: their own cost is a
  few hundred instructions a message, and the same for any version of the app.
- Time is virtual: ``time.time``, ``time.monotonic`` (so the event loop's clock and timers) and
  ``time.perf_counter`` move only as the driver says — a call's messages 250 ms apart, the
  calls spread over those 250 ms — so the calls' timers fire at the same points of every run,
  and a run does the same work whatever the machine or a profiler does to its speed. With
  ``PYTHONHASHSEED=0`` two runs execute the same instructions, give or take a few hundred.

Printed: the messages of the load phase, the events and replies sent back, the alerts among
them, and the load phase's CPU time per message (a rough figure; cProfile's with ``--profile``,
which writes the load phase's profile to FILE).

Instruction counts, per message (the start-up cancels out of the difference of two runs)::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.8 \\
        .venv/bin/python -m bench.permsg --rounds 8
    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.24 \\
        .venv/bin/python -m bench.permsg --rounds 24
    # (Ir of cg.24 - Ir of cg.8) / (200 × 16); callgrind_annotate each for the functions
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime
import os
import random
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from bench.client import FILLER, PHRASE, _start_messages

#: The load bench's period (4 messages a second per call) and its alert rate.
PERIOD_S = 0.25
ALERT_EVERY = 4
#: Calls whose messages are handed over together (one turn of the event loop, one instant):
#: at 1,000 calls and 4,000 messages a second a turn of uvicorn's loop takes a few.
GROUP = 8
#: The virtual wall clock starts on a working day, mid-morning in Beijing.
WALL_START = datetime.datetime(2026, 11, 24, 2, 0, tzinfo=datetime.UTC).timestamp()


class Clock:
    """``time.time``, ``time.monotonic`` and ``time.perf_counter``, moved by hand."""

    def __init__(self) -> None:
        self.elapsed = 0.0
        # Past every timer armed before the clock took over (the lifespan's background
        # loops): they run once at the first turn of the loop, the same in every run.
        self._monotonic0 = time.monotonic() + 3600.0
        self._saved: dict[str, Callable[[], float]] = {}

    def install(self) -> None:
        for name in ("time", "monotonic", "perf_counter"):
            self._saved[name] = getattr(time, name)
        time.time = lambda: WALL_START + self.elapsed
        time.monotonic = lambda: self._monotonic0 + self.elapsed
        time.perf_counter = lambda: self._monotonic0 + self.elapsed

    def uninstall(self) -> None:
        for name, function in self._saved.items():
            setattr(time, name, function)


class Peer:
    """One connection's ASGI side: frames to receive, what the app sends counted."""

    __slots__ = ("frames", "waiter", "sent", "alerts", "closed", "loop", "kinds")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.frames: collections.deque[MutableMapping[str, Any]] = collections.deque()
        self.waiter: asyncio.Future[MutableMapping[str, Any]] | None = None
        self.sent = 0
        self.alerts = 0
        self.closed: tuple[int, str] | None = None
        #: With ``--kinds``: every message sent, by type.
        self.kinds: collections.Counter[str] | None = None

    def push(self, frame: MutableMapping[str, Any]) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            waiter.set_result(frame)
        else:
            self.frames.append(frame)

    def push_text(self, message: dict[str, Any]) -> None:
        self.push({"type": "websocket.receive", "text": orjson.dumps(message).decode()})

    async def receive(self) -> MutableMapping[str, Any]:
        if self.frames:
            return self.frames.popleft()
        waiter = self.waiter = self.loop.create_future()
        return await waiter

    async def send(self, message: MutableMapping[str, Any]) -> None:
        kind = message["type"]
        if kind == "websocket.send":
            self.sent += 1
            text = message["text"]
            if text.startswith('{"type":"alert"'):
                self.alerts += 1
            if self.kinds is not None:
                self.kinds[orjson.loads(text)["type"]] += 1
        elif kind == "websocket.close":
            self.closed = (message.get("code", 1000), message.get("reason", ""))


def _scope(call_id: str, state: dict[str, Any] | None) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "scheme": "ws",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 40000),
        "root_path": "",
        "path": f"/v1/calls/{call_id}/stream",
        "raw_path": f"/v1/calls/{call_id}/stream".encode(),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000")],
        "subprotocols": [],
    }
    if state is not None:
        scope["state"] = dict(state)
    return scope


def _settings() -> Any:
    """The settings ``bench.load`` starts Huashu with: the in-memory store and bus, no keys."""
    os.environ["HUASHU_STORE"] = "memory"
    os.environ.pop("HUASHU_API_KEYS", None)
    os.environ.pop("HUASHU_DATABASE_URL", None)
    os.environ.pop("HUASHU_REDIS_URL", None)
    from app.config import Settings

    return Settings()


def _load_message(k: int, seed: float) -> dict[str, Any]:
    """Call's ``k``-th message of the load (from 1), as ``bench.client.Job.run`` makes it."""
    if k % ALERT_EVERY == 0:
        text = PHRASE
    else:
        start = int(seed * 997 + k) % (len(FILLER) - 10)
        text = FILLER[start : start + 10]
    return {
        "type": "fragment",
        "speaker": "agent",
        "segment": f"a-{k}",
        "text": text,
        "final": True,
    }


async def _turn() -> None:
    """One turn of the event loop: what was handed over is processed."""
    await asyncio.sleep(0)


async def run(
    calls: int, rounds: int, profile: str | None = None, kinds: bool = False
) -> dict[str, Any]:
    from app.main import create_app

    app = create_app(_settings())
    loop = asyncio.get_running_loop()
    clock = Clock()
    async with app.router.lifespan_context(app) as state:
        clock.install()
        try:
            await _turn()  # the background loops' first (virtual) wake-up
            peers = [Peer(loop) for _ in range(calls)]
            tasks: list[asyncio.Task[None]] = []
            for n, peer in enumerate(peers):
                call: Callable[..., Awaitable[None]] = app
                tasks.append(
                    loop.create_task(call(_scope(f"permsg-{n}", state), peer.receive, peer.send))
                )
                peer.push({"type": "websocket.connect"})
            await _turn()
            for peer in peers:
                for message in _start_messages(False):
                    peer.push_text(message)
                peer.push_text({"type": "ping"})
            for _ in range(4):
                await _turn()
            started = sum(peer.sent for peer in peers)
            refused = [peer.closed for peer in peers if peer.closed is not None]
            if refused:
                raise RuntimeError(f"connections closed: {refused[:3]}")

            rng = random.Random(0)
            seeds = [rng.random() for _ in peers]
            sent0 = sum(peer.sent for peer in peers)
            for peer in peers:
                peer.alerts = 0
                if kinds:
                    peer.kinds = collections.Counter()
            profiler = None
            if profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            cpu0 = time.process_time()
            for k in range(1, rounds + 1):
                for lo in range(0, calls, GROUP):
                    clock.elapsed = (k - 1) * PERIOD_S + PERIOD_S * lo / calls
                    for n in range(lo, min(lo + GROUP, calls)):
                        peers[n].push_text(_load_message(k, seeds[n]))
                    await _turn()
            clock.elapsed = rounds * PERIOD_S
            await _turn()
            cpu = time.process_time() - cpu0
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(profile)
            messages = calls * rounds
            result = {
                "calls": calls,
                "rounds": rounds,
                "messages": messages,
                "start_replies": started,
                "sent": sum(peer.sent for peer in peers) - sent0,
                "alerts": sum(peer.alerts for peer in peers),
                "cpu_us_per_message": round(cpu / messages * 1e6, 1) if messages else None,
            }
            if kinds:
                result["kinds"] = dict(
                    sum(
                        (peer.kinds or collections.Counter() for peer in peers),
                        collections.Counter(),
                    )
                )
            for peer in peers:
                peer.push({"type": "websocket.disconnect", "code": 1000})
            await _turn()
            await asyncio.gather(*tasks)
        finally:
            clock.uninstall()
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.permsg", description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--profile", help="write the load phase's cProfile stats here")
    parser.add_argument(
        "--kinds", action="store_true", help="count what is sent back by type (costs a decode)"
    )
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.calls, args.rounds, args.profile, args.kinds))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    main()
