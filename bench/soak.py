"""``python -m bench soak``: the load at 1,000-odd well-behaved calls, once alone and once beside
bad clients — listeners that never read (a raw socket after the handshake) on calls fed with
long alerts, and senders of malformed, oversize and out-of-range messages — for a minute each.
What counts: the server's RSS stays under a stated ceiling, the well-behaved calls' alert p99
within ×2 of the run without bad clients, and no well-behaved call loses an alert.

Run as a module with a JSON spec, it is the bad clients' process (``bench.load.load_once``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import socket
import sys
from typing import Any

import orjson
from websockets.asyncio.client import connect

from bench import load

GARBAGE = [
    '{"type": "fragment", ',
    "[1, 2, 3]",
    '{"type": "dance"}',
    '{"type": "fragment", "speaker": "robot", "segment": "x", "text": "你好"}',
    '{"type": "fragment", "speaker": "agent", "segment": "x", "text": "你", "end_ms": 1e30}',
    '{"type": "event", "name": "hold", "at": "9999-12-31T00:00:00Z"}',
    '{"type": "fragment", "speaker": "agent", "segment": "x", "text": "你", "seq": true}',
    json.dumps({"type": "ping", "pad": "x" * 100_000}),
]
START = {"type": "start", "script": "cmcc-10086", "call_type": "consult"}
ANSWERED = {"type": "event", "name": "answered"}


def _silent(port: int, call_id: str) -> socket.socket:
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    raw.sendall(
        (
            f"GET /v1/calls/{call_id}/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += raw.recv(1)
    payload = json.dumps({"type": "resume", "last_event_seq": 0}).encode()
    mask = os.urandom(4)
    raw.sendall(
        bytes([0x81, 0x80 | len(payload)])
        + mask
        + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    )
    return raw


async def _noisy(port: int, n: int, seconds: float, ready: asyncio.Event) -> None:
    """A call of its own, fed like the well-behaved ones (4 fragments a second, each raising an
    alert), with a listener attached that never reads."""
    call_id = f"soak-noisy-{n}-{os.getpid()}"
    async with connect(f"ws://127.0.0.1:{port}/v1/calls/{call_id}/stream", max_size=None) as ws:
        await ws.send(json.dumps(START))
        await ws.send(json.dumps(ANSWERED))
        silent = _silent(port, call_id)
        ready.set()
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        k = 0
        reader = asyncio.create_task(_drain(ws))
        due = loop.time() + random.Random(n).uniform(0, 0.5)  # see _hostile
        while loop.time() < end:
            await asyncio.sleep(max(due - loop.time(), 0))
            due += 0.5
            k += 1
            text = "这个不关我的事" + "，" * 2000
            await ws.send(
                json.dumps(
                    {
                        "type": "fragment",
                        "speaker": "agent",
                        "segment": f"a{k}",
                        "text": text,
                        "final": True,
                    }
                )
            )
        reader.cancel()
        silent.close()


async def _malformed(port: int, n: int, seconds: float, ready: asyncio.Event) -> None:
    call_id = f"soak-bad-{n}-{os.getpid()}"
    rng = random.Random(n)
    async with connect(f"ws://127.0.0.1:{port}/v1/calls/{call_id}/stream", max_size=None) as ws:
        await ws.send(json.dumps(START))
        ready.set()
        reader = asyncio.create_task(_drain(ws))
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        due = loop.time() + rng.uniform(0, 0.25)  # see _hostile
        while loop.time() < end:
            await asyncio.sleep(max(due - loop.time(), 0))
            due += 0.25
            await ws.send(rng.choice(GARBAGE))
        reader.cancel()


async def _drain(ws: Any) -> None:
    async for _ in ws:
        pass


async def _hostile(spec: dict[str, Any]) -> None:
    """The bad clients, each at its own moment of its period and on absolute times, as
    independent clients are (the well-behaved ones too: ``bench.client``). A client that sleeps
    a period after each send falls in step with the others: a send held up by the server's
    work goes out when that work ends, with every other one held up by it, and within seconds
    all 100 land on the server in the same millisecond every period — ~40 ms of work (as 100
    well-behaved messages would be) that every other call queues behind: a measure of the
    clients' lockstep, not of the server's handling of bad input."""
    port, seconds = spec["port"], spec["seconds"]
    readies = []
    tasks = []
    for n in range(spec["stuck"]):
        readies.append(asyncio.Event())
        tasks.append(asyncio.create_task(_noisy(port, n, seconds, readies[-1])))
    for n in range(spec["malformed"]):
        readies.append(asyncio.Event())
        tasks.append(asyncio.create_task(_malformed(port, n, seconds, readies[-1])))
    await asyncio.gather(*(r.wait() for r in readies))
    print("ready", flush=True)
    await asyncio.gather(*tasks, return_exceptions=True)


def run_soak(
    calls: int, seconds: float, procs: int, ceiling_mb: float, rate: float = 0.5
) -> dict[str, Any]:
    """The load alone, then beside bad clients (5 % stuck listeners, 5 % malformed senders).

    The well-behaved calls send ``rate`` fragments a second each: at the load bench's 4 a
    second, 1,800 calls saturate one process on 2 cores (its capacity is ~1,000–1,500), and the
    comparison would measure the saturation, not whether bad clients hurt the others. At 1 a
    second the server is ~70 % busy and the bad clients' own ~10 % of a core (their messages,
    no more) leaves a collector's pause a backlog that drains slowly: BENCHMARKS.md has both."""
    bad = max(1, calls // 20)
    good = calls - 2 * bad
    alone = load.load_once("huashu", good, seconds, procs, rate=rate)
    beside = load.load_once(
        "huashu", good, seconds, procs, rate=rate, hostile={"stuck": bad, "malformed": bad}
    )
    ratio = None
    if alone["p99_ms"] and beside["p99_ms"]:
        ratio = round(beside["p99_ms"] / alone["p99_ms"], 2)
    return {
        "well_behaved_calls": good,
        "stuck_listeners": bad,
        "malformed_senders": bad,
        "seconds": seconds,
        "fragments_per_s_per_call": rate,
        "alone": {k: alone[k] for k in ("lost", "p50_ms", "p99_ms", "server_rss_mb", "server_gc")},
        "beside_bad_clients": {
            k: beside[k] for k in ("lost", "p50_ms", "p99_ms", "server_rss_mb", "server_gc")
        },
        "p99_ratio": ratio,
        "rss_ceiling_mb": ceiling_mb,
        "rss_under_ceiling": beside["server_rss_mb"] <= ceiling_mb,
    }


if __name__ == "__main__":
    asyncio.run(_hostile(orjson.loads(sys.argv[1])))
