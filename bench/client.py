"""The load generator's client process: many WebSocket calls on one uvloop, as lean as a client
can be, so the clients are not what a benchmark measures.

Each connection is an ``asyncio.Protocol`` speaking RFC 6455 by hand (no task, no queue, no
library object per call); sends are ``call_at`` timers at absolute times, so a late loop shows
as *send lag* instead of silently lowering the load. The same code and load shape drive Huashu
and the bare echo. The orchestrator (``bench.load``) starts one or more of these with a JSON job
on the command line and talks over stdin/stdout, one JSON line each way:

- the process connects its calls (and, for Huashu, starts them), prints ``{"ready": …}``;
- ``go`` on stdin: run the load for ``seconds``, print ``{"result": …}``;
- ``close`` on stdin (idle jobs): close every connection, print ``{"closed": …}`` and exit.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import resource
import sys
import time
from typing import Any

import orjson

PHRASE = "这个真不关我的事"  # a 禁语 of 002: every call says it at the known rate
FILLER = "您好请问有什么可以帮您的我帮您查询一下这个月的话费套餐流量"
#: The client masks with a zero key: RFC 6455 wants masking, the server unmasks all the same.
_MASK = b"\x00\x00\x00\x00"


def _frame(payload: bytes, opcode: int = 0x1) -> bytes:
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    return head + _MASK + payload


class Call(asyncio.Protocol):
    """One WebSocket connection: handshake, frame parsing, a callback per text message."""

    __slots__ = ("path", "host", "transport", "buffer", "open", "opened", "closed", "on_message")

    def __init__(self, host: str, path: str) -> None:
        self.host = host
        self.path = path
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.open = False
        self.opened: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.closed = False
        self.on_message: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        if not self.open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            ok = buf.startswith(b"HTTP/1.1 101")
            del buf[: end + 4]
            self.open = ok
            if not self.opened.done():
                self.opened.set_result(ok)
            if not ok:
                assert self.transport is not None
                self.transport.close()
                return
        while len(buf) >= 2:
            b1 = buf[1] & 0x7F
            pos = 2
            if b1 == 126:
                if len(buf) < 4:
                    return
                b1 = int.from_bytes(buf[2:4], "big")
                pos = 4
            elif b1 == 127:
                if len(buf) < 10:
                    return
                b1 = int.from_bytes(buf[2:10], "big")
                pos = 10
            if len(buf) < pos + b1:
                return
            opcode = buf[0] & 0x0F
            payload = bytes(buf[pos : pos + b1])
            del buf[: pos + b1]
            if opcode == 0x1 or opcode == 0x2 or opcode == 0x0:
                if self.on_message is not None:
                    self.on_message(payload)
            elif opcode == 0x9:  # ping → pong
                self.send_raw(_frame(payload, 0xA))
            elif opcode == 0x8:  # close → close back
                self.send_raw(_frame(payload[:2], 0x8))
                self.closed = True
                assert self.transport is not None
                self.transport.close()
                return

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.opened.done():
            self.opened.set_result(False)

    def send_raw(self, frame: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(frame)

    def send(self, message: dict[str, Any]) -> None:
        self.send_raw(_frame(orjson.dumps(message)))

    def close(self) -> None:
        if not self.closed:
            self.send_raw(_frame(b"\x03\xe8", 0x8))
            self.closed = True
        if self.transport is not None:
            self.transport.close()


def _start_messages(idle: bool) -> list[dict[str, Any]]:
    """A call under way: started, answered and (under load) the customer has spoken. An idle
    call is started and answered, nothing said."""
    messages = [
        {
            "type": "start",
            "script": "cmcc-10086",
            "call_type": "consult",
            "agent": {"id": "A1", "work_no": "1001"},
        },
        {"type": "event", "name": "answered"},
    ]
    if not idle:
        # Under way before the load starts: the agent has greeted and the customer spoken, so
        # the load is the steady state of calls in progress, not thousands of calls all saying
        # their first words (greeting checks, the move to answering) in the same 250 ms.
        for speaker, segment, text in (
            ("agent", "a-0", "您好，中国移动，很高兴为您服务"),
            ("customer", "c-0", "你好"),
        ):
            messages.append(
                {
                    "type": "fragment",
                    "speaker": speaker,
                    "segment": segment,
                    "text": text,
                    "final": True,
                }
            )
    return messages


class Job:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.kind: str = spec["kind"]  # huashu | echo
        self.host: str = spec["host"]
        self.port: int = spec["port"]
        self.first: int = spec["first"]
        self.count: int = spec["count"]
        self.rate: float = spec.get("rate", 4.0)
        self.seconds: float = spec.get("seconds", 10.0)
        self.alert_every: int = spec.get("alert_every", 4)
        self.tag: str = spec.get("tag", "load")
        self.idle: bool = spec.get("idle", False)
        self.calls: list[Call] = []
        self.failed = 0
        # results
        self.sent = 0
        self.expected = 0
        self.latencies: list[float] = []
        self.lags: list[float] = []
        self.errors = 0
        self.pending: list[dict[bytes, float]] = []

    def _path(self, n: int) -> str:
        if self.kind == "echo":
            return "/echo"
        return f"/v1/calls/{self.tag}-{n}-{os.getpid()}/stream"

    async def _connect_one(self, n: int) -> Call | None:
        loop = asyncio.get_running_loop()
        host = f"{self.host}:{self.port}"
        for _attempt in range(5):
            try:
                _, call = await loop.create_connection(
                    lambda: Call(host, self._path(n)), self.host, self.port
                )
            except OSError:
                await asyncio.sleep(0.2)
                continue
            if await call.opened:
                return call
            await asyncio.sleep(0.2)
        return None

    async def _sync(self, call: Call) -> None:
        """Start the call (Huashu) and wait for the pong: the call exists and is answered."""
        if self.kind != "huashu":
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_message(payload: bytes) -> None:
            if b'"pong"' in payload and not done.done():
                done.set_result(None)

        call.on_message = on_message
        for message in _start_messages(self.idle):
            call.send(message)
        call.send({"type": "ping"})
        await asyncio.wait_for(done, timeout=60)
        call.on_message = None

    async def connect(self, batch: int = 100) -> None:
        for lo in range(self.first, self.first + self.count, batch):
            hi = min(lo + batch, self.first + self.count)
            calls = await asyncio.gather(*(self._connect_one(n) for n in range(lo, hi)))
            opened = [c for c in calls if c is not None]
            self.failed += len(calls) - len(opened)
            await asyncio.gather(*(self._sync(c) for c in opened))
            self.calls.extend(opened)

    def run(self, done: asyncio.Future[None]) -> None:
        """Schedule every call's sends from now for ``seconds``; ``done`` when the last is due."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        end = now + self.seconds
        period = 1.0 / self.rate
        perf = time.perf_counter
        latencies = self.latencies
        lags = self.lags
        rng = random.Random(self.first)
        alert_every = self.alert_every
        echo = self.kind == "echo"
        remaining = [len(self.calls)]

        def schedule(call: Call, first: float, seed: float, shift: int) -> None:
            """One call's sends: a timer that sends and sets the call's next timer. Its own
            scope: a timer must set *this* call's next tick, not whichever ``tick`` a loop
            variable last held (the seed's generator did that: every call after its first
            send rescheduled the last call's timer, so a client's whole load went to one
            connection; fixed 2026-12-01).

            ``shift`` staggers the call's alerting fragments: its sends ``k`` with
            ``(k + shift) % alert_every == 0`` say the phrase. With every call's counter
            starting together, one shift for all made every call alert in the same period —
            all of a second's alerts in one quarter of it, a burst no real centre makes
            (fixed 2026-12-01 16:10 UTC)."""
            pending: dict[str, float] = {}
            counter = 0

            def on_message(payload: bytes) -> None:
                event = orjson.loads(payload)
                kind = event.get("type")
                if kind == "alert" or echo:
                    sent = pending.pop(event.get("segment"), None)
                    if sent is not None:
                        latencies.append((perf() - sent) * 1000)
                elif kind == "error":
                    self.errors += 1

            def tick(due: float) -> None:
                nonlocal counter
                lags.append(loop.time() - due)
                counter += 1
                k = counter
                segment = f"a-{k}"
                if echo or (k + shift) % alert_every == 0:
                    text = FILLER[k % 20 : k % 20 + 10] if echo else PHRASE
                    self.expected += 1
                    pending[segment] = perf()
                else:
                    start = int(seed * 997 + k) % (len(FILLER) - 10)
                    text = FILLER[start : start + 10]
                call.send(
                    {
                        "type": "fragment",
                        "speaker": "agent",
                        "segment": segment,
                        "text": text,
                        "final": True,
                    }
                )
                self.sent += 1
                nxt = due + period
                if nxt < end:
                    loop.call_at(nxt, tick, nxt)
                else:
                    remaining[0] -= 1
                    if remaining[0] == 0 and not done.done():
                        done.set_result(None)

            call.on_message = on_message
            loop.call_at(first, tick, first)

        for index, call in enumerate(self.calls):
            seed = rng.random()
            # Spread over the first period: call i at (i/n + seed) of a period, wrapped.
            first = now + period * ((index / max(len(self.calls), 1) + seed) % 1.0)
            schedule(call, first, seed, index % alert_every)
        if not self.calls and not done.done():
            done.set_result(None)

    def result(self, window: float, cpu: float) -> dict[str, Any]:
        lags = sorted(self.lags)

        def pct(p: float) -> float:
            return round(lags[min(len(lags) - 1, int(len(lags) * p))] * 1000, 2) if lags else 0.0

        return {
            "calls": len(self.calls),
            "failed": self.failed,
            "sent": self.sent,
            "expected": self.expected,
            "latencies_ms": [round(x, 3) for x in self.latencies],
            "errors": self.errors,
            "window_s": round(window, 3),
            "cpu_s": round(cpu, 3),
            "send_lag_p50_ms": pct(0.5),
            "send_lag_p99_ms": pct(0.99),
        }


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _emit(body: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(body).decode() + "\n")
    sys.stdout.flush()


async def main(spec: dict[str, Any]) -> None:
    job = Job(spec)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await job.connect()
    _emit({"ready": {"calls": len(job.calls), "failed": job.failed}})
    while line := (await reader.readline()).decode().strip():
        if line == "go":
            done: asyncio.Future[None] = loop.create_future()
            cpu0, t0 = _cpu(), time.perf_counter()
            job.run(done)
            await done
            await asyncio.sleep(spec.get("drain", 1.0))  # the last replies
            window = time.perf_counter() - t0
            _emit({"result": job.result(window, _cpu() - cpu0)})
        elif line == "close":
            for call in job.calls:
                call.close()
            await asyncio.sleep(0.5)
            _emit({"closed": len(job.calls)})
            return


if __name__ == "__main__":
    import uvloop

    uvloop.run(main(orjson.loads(sys.argv[1])))
