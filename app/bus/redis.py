"""The bus shared by several instances: Redis Streams, one stream per call.

A call is published by one instance at a time, its owner (``app.calls.ownership``). The owner
hands each event to its own subscribers at once, in line with the engine, exactly as the
in-process bus does (it keeps one, :class:`app.bus.memory.MemoryBus`, for that), and appends it
to the call's stream in the background: publishing never waits for Redis. The script that
appends also pushes each event appended on the call's channel (Redis pub/sub): every other
instance with subscribers to the call listens to that channel on a connection of its own and
hands each event to its subscribers as it comes. The stream is what makes that exact: what an
instance may have missed (before its subscription was confirmed, or while its connection was
lost and made again) it reads from the stream, found by the seqs, which have no gaps.

An event's stream entry id is ``0-<seq>``. The script that appends refuses an id at or below the
stream's last one, so an event published twice — by a call rebuilt after its owner died, which
publishes again what the old owner had — is in the stream once, and each subscriber, which
never takes a seq at or below the last it had, gets each seq once. The same script refuses an
append from an owner whose lease was taken over (its fencing token is no longer the call's).

A stream is trimmed to about ``maxlen`` entries while the call is live (the store keeps them
all: ``resume`` further back reads it) and expires ``ended_ttl_s`` after the call's report.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any, NamedTuple

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import PubSub
from redis.asyncio.connection import Connection
from redis.exceptions import RedisError

from app.bus import Sink
from app.bus.memory import MemoryBus

log = logging.getLogger(__name__)

#: Appends a run of events, of one call or several, in one script call, and pushes each one
#: appended on its call's channel as ``<seq> <message>``. KEYS: per event, its call's stream
#: and fence counter. ARGV: per event, its seq, message, fence ('' for none) and channel; then
#: maxlen. Returns, per event: 1 appended, 0 already there (a seq at or below the stream's
#: last), -1 fenced off.
APPEND = """
local maxlen = ARGV[#ARGV]
local results = {}
for i = 1, #KEYS / 2 do
  local stream, seq, fence = KEYS[2 * i - 1], ARGV[4 * i - 3], ARGV[4 * i - 1]
  local result = 1
  if fence ~= '' then
    local current = redis.call('GET', KEYS[2 * i])
    if current and current ~= fence then result = -1 end
  end
  if result == 1 then
    local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]
    if last and tonumber(string.match(last[1], '%-(%d+)$')) >= tonumber(seq) then
      result = 0
    end
  end
  if result == 1 then
    redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '0-' .. seq, 'm', ARGV[4 * i - 2])
    redis.call('PUBLISH', ARGV[4 * i], seq .. ' ' .. ARGV[4 * i - 2])
  end
  results[i] = result
end
return results
"""
#: Events one script call appends at most (Redis runs a script alone: it is kept short).
APPEND_RUN = 128

#: Connections an instance opens to Redis for commands, at most (the writer and the listener
#: have one each of their own besides).
POOL_SIZE = 32


class Outgoing(NamedTuple):
    """What waits to be sent to Redis: an event to append, or (``seq`` 0) a call's end."""

    call_id: str
    seq: int
    message: str = ""
    fence: str = ""


def _seq_of(entry_id: bytes) -> int:
    return int(entry_id.split(b"-", 1)[1])


def _entries(answer: Any) -> list[tuple[int, str]]:
    """A stream range's entries (redis-py's answer) as (seq, message)."""
    return [(_seq_of(entry_id), fields[b"m"].decode()) for entry_id, fields in answer or ()]


class RedisBus:
    """The :class:`app.bus.Bus` of several instances sharing one Redis."""

    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "huashu:",
        window: int | None = 256,
        maxlen: int = 4096,
        ended_ttl_s: int = 600,
        max_unsent: int = 1_000_000,
    ) -> None:
        """``window``: events of a call published here kept in memory for ``resume`` (None:
        all); ``maxlen``: entries a live call's stream keeps, about; ``ended_ttl_s``: how long a
        stream outlives its call's end; ``max_unsent``: appends that may wait for Redis (it is
        down) before the oldest are dropped — the store keeps every event all the same."""
        self._redis: Redis = Redis(connection_pool=pool(url))
        #: Where the events of the calls followed are pushed (a connection of its own, named
        #: for ``CLIENT LIST``).
        self._reader: Redis = Redis.from_url(url, client_name=f"{prefix}bus-listen")
        self._prefix = prefix
        self._maxlen = maxlen
        self._ended_ttl_s = ended_ttl_s
        self._max_unsent = max_unsent
        #: The writer's connection comes from here (named for ``CLIENT LIST``).
        self._appender: Redis = Redis.from_url(url, client_name=f"{prefix}bus-append")
        #: This instance's subscribers, and the events of the calls it publishes.
        self._local = MemoryBus(keep_ended=0, window=window)
        #: The calls this instance publishes, with the fencing token of its lease on each.
        self._owned: dict[str, str] = {}
        #: The calls this instance follows from their stream: the last seq read of each.
        self._following: dict[str, int] = {}
        #: Appends and expiries waiting to be sent, in order.
        self._unsent: list[Outgoing] = []
        #: Sent and not answered yet, in order; and how many of them each command on its way
        #: is for.
        self._in_flight: deque[Outgoing] = deque()
        self._answers: deque[int] = deque()
        self._wake_writer = asyncio.Event()
        self._wake_reader = asyncio.Event()
        self._wake_listening = asyncio.Event()
        #: Calls followed since the connection was last subscribed to their channels.
        self._fresh: set[str] = set()
        self._writer: asyncio.Task[None] | None = None
        self._reading: asyncio.Task[None] | None = None
        self._closed = False

    # -- keys ------------------------------------------------------------------------------

    def _stream(self, call_id: str) -> str:
        return f"{self._prefix}stream:{call_id}"

    def _fence(self, call_id: str) -> str:
        return f"{self._prefix}fence:{call_id}"

    def _live(self, call_id: str) -> str:
        """The channel the call's events are pushed on as they are appended."""
        return f"{self._prefix}live:{call_id}"

    # -- the Bus ---------------------------------------------------------------------------

    def own(self, call_id: str, fence: str = "") -> None:
        """This instance publishes the call from now on (its lease's fencing token: ``fence``);
        it stops listening to the call's channel."""
        self._owned[call_id] = fence
        if self._following.pop(call_id, None) is not None:
            self._changed()

    def release(self, call_id: str) -> None:
        """This instance no longer publishes the call (it was handed off): its subscribers
        here follow the stream from the last seq they were handed."""
        if self._owned.pop(call_id, None) is None:
            return
        channel = self._local.channel(call_id)
        if channel is not None and channel.sinks:
            self._follow(call_id, channel.last_seq())

    def publish(self, call_id: str, seq: int, message: str) -> None:
        if call_id not in self._owned:
            self._owned[call_id] = ""
            if self._following.pop(call_id, None) is not None:
                self._changed()
        self._local.publish(call_id, seq, message)
        self._queue(Outgoing(call_id, seq, message, self._owned[call_id]))

    async def subscribe(self, call_id: str, sink: Sink, after_seq: int | None = None) -> None:
        if call_id in self._owned:
            await self._local.subscribe(call_id, sink, after_seq)
            return
        self._start()
        stream = self._stream(call_id)
        if after_seq is None:
            newest = _entries(await self._redis.xrevrange(stream, "+", "-", count=1))
            last = max(newest[0][0] if newest else 0, self._following.get(call_id, 0))
            handed: list[str] = []
        else:
            last = after_seq
            handed = []
            while True:  # until what was read is as far as this instance has read the call
                for seq, message in _entries(
                    await self._redis.xrange(stream, f"({_id(last)}", "+")
                ):
                    handed.append(message)
                    last = seq
                if call_id in self._owned or self._following.get(call_id, 0) <= last:
                    break
        if call_id in self._owned:  # became this instance's while reading: the local log
            await self._local.subscribe(call_id, sink, after_seq)
            return
        for message in handed:
            sink.put(message)
        self._local.attach(call_id, sink, last)
        if call_id not in self._following:  # else the read goes on from where it is
            self._follow(call_id, last)

    def unsubscribe(self, call_id: str, sink: Sink) -> None:
        self._local.unsubscribe(call_id, sink)
        channel = self._local.channel(call_id)
        if call_id not in self._owned and (channel is None or not channel.sinks):
            # Followed from elsewhere, by nobody now: nothing of it is kept here.
            if self._following.pop(call_id, None) is not None:
                self._changed()
            self._local.forget(call_id)

    async def oldest(self, call_id: str) -> int | None:
        if call_id in self._owned:
            return await self._local.oldest(call_id)
        first = _entries(await self._redis.xrange(self._stream(call_id), "-", "+", count=1))
        return first[0][0] if first else None

    async def replay(self, call_id: str, after_seq: int = 0) -> list[str]:
        if call_id in self._owned:
            return await self._local.replay(call_id, after_seq)
        answer = await self._redis.xrange(self._stream(call_id), f"({_id(after_seq)}", "+")
        return [message for _, message in _entries(answer)]

    def ended(self, call_id: str) -> None:
        self._local.ended(call_id)
        self._owned.pop(call_id, None)
        self._queue(Outgoing(call_id, 0))

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait until every event published so far is in Redis, ``timeout`` seconds at most
        (Redis may be down: what is not sent by then is logged, and the store has it)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while (self._unsent or self._in_flight) and not self._closed:
            if asyncio.get_running_loop().time() > deadline:
                waiting = len(self._unsent) + len(self._in_flight)
                log.error("bus: %d events not sent to Redis in %.0f s", waiting, timeout)
                return
            self._start()
            self._wake_writer.set()
            await asyncio.sleep(0.002)

    async def close(self) -> None:
        await self.flush()
        self._closed = True
        # redis-py may swallow a cancellation that comes while it sends: the loops also end on
        # seeing the bus closed, and each task is cancelled until it ends.
        for event in (self._wake_writer, self._wake_reader, self._wake_listening):
            event.set()
        for task in (self._writer, self._reading):
            while task is not None and not task.done():
                task.cancel()
                await asyncio.wait([task], timeout=1.0)
        await self._local.close()
        await self._reader.aclose()
        await self._appender.aclose(close_connection_pool=True)
        await self._redis.aclose(close_connection_pool=True)

    # -- writing ---------------------------------------------------------------------------

    def _queue(self, item: Outgoing) -> None:
        unsent = self._unsent
        if len(unsent) >= self._max_unsent:
            log.error("bus: Redis is behind by %d events; the oldest is dropped", len(unsent))
            del unsent[0]
        unsent.append(item)
        self._start()
        self._wake_writer.set()

    def _start(self) -> None:
        if self._closed:
            return
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write(), name="bus-w")
        if self._reading is None or self._reading.done():
            self._reading = asyncio.get_running_loop().create_task(self._read(), name="bus-r")

    async def _write(self) -> None:
        """Send what waits to Redis, in order, on a connection of the writer's own, without
        waiting for one command's answer before the next is sent (an event published while
        another is on its way goes at once). An item is let go once its answer came. On an
        error the connection is dropped and what was not answered is sent again on a new one
        after a pause: Redis ran a prefix of what was sent, and appends are idempotent by seq,
        so nothing is lost or doubled."""
        backoff = Backoff("write")
        while not self._closed:
            if not self._unsent:
                self._wake_writer.clear()
                await self._wake_writer.wait()
                continue
            pool = self._appender.connection_pool
            connection: Connection | None = None
            try:
                connection = await pool.get_connection()  # type: ignore[no-untyped-call]
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(self._send_all(connection))
                    tasks.create_task(self._take_answers(connection, backoff))
            except* (RedisError, OSError) as failed:
                if connection is not None:
                    await connection.disconnect()
                self._unsent[:0] = self._in_flight
                self._in_flight.clear()
                self._answers.clear()
                await backoff.wait(failed.exceptions[0])
            finally:
                if connection is not None:
                    await pool.release(connection)

    async def _send_all(self, connection: Connection) -> None:
        while not self._closed:
            if not self._unsent:
                self._wake_writer.clear()
                await self._wake_writer.wait()
                continue
            batch = self._unsent[:1024]
            del self._unsent[: len(batch)]
            self._in_flight.extend(batch)
            commands = self._commands(batch)
            self._answers.extend(len(items) for items, _ in commands)
            packed = connection.pack_commands(command for _, command in commands)
            await connection.send_packed_command(packed, check_health=False)

    async def _take_answers(self, connection: Connection, backoff: Backoff) -> None:
        while True:
            answer = await connection.read_response()
            backoff.reset()
            for _ in range(self._answers.popleft()):
                self._in_flight.popleft()
            if isinstance(answer, list) and -1 in answer:
                log.error("bus: events were refused: this instance lost a call's lease")

    def _commands(self, batch: list[Outgoing]) -> list[tuple[list[Outgoing], list[Any]]]:
        """What to send for ``batch``: the appends in runs of at most :data:`APPEND_RUN`, one
        script call each (a command a run, not an event), and each call's end where it comes,
        in order; each command with the items it is for.

        The script goes whole (``EVAL``, which Redis caches by its digest), not by digest: a
        Redis that lost its scripts would refuse every command on the way after the first,
        and one loaded again meanwhile by another instance would take some of them, out of
        order."""
        commands: list[tuple[list[Outgoing], list[Any]]] = []
        run: list[Outgoing] = []
        for item in batch:
            if item.seq == 0:
                if run:
                    commands.append((run, self._append_command(run)))
                    run = []
                expire = ["EXPIRE", self._stream(item.call_id), self._ended_ttl_s]
                commands.append(([item], expire))
                continue
            run.append(item)
            if len(run) == APPEND_RUN:
                commands.append((run, self._append_command(run)))
                run = []
        if run:
            commands.append((run, self._append_command(run)))
        return commands

    def _append_command(self, run: list[Outgoing]) -> list[Any]:
        keys: list[str] = []
        args: list[str | int] = []
        for call_id, seq, message, fence in run:
            keys += (self._stream(call_id), self._fence(call_id))
            args += (seq, message, fence, self._live(call_id))
        return ["EVAL", APPEND, len(keys), *keys, *args, self._maxlen]

    # -- reading ---------------------------------------------------------------------------

    def _follow(self, call_id: str, last: int) -> None:
        new = call_id not in self._following
        self._following[call_id] = last
        if new:
            # Subscribed to again even if the connection still is: its confirmation is what
            # makes the reading catch up with what came before (see _hear).
            self._fresh.add(call_id)
            self._start()
            self._changed()

    def _changed(self) -> None:
        """The calls followed changed: the channels listened to are brought in line."""
        self._wake_reader.set()
        self._wake_listening.set()

    async def _read(self) -> None:
        """Hand the events of every followed call to its subscribers here, as Redis pushes
        them; on a new connection (at the start, after a failure), again."""
        backoff = Backoff("read")
        while not self._closed:
            if not self._following:
                self._wake_reader.clear()
                await self._wake_reader.wait()
                continue
            try:
                async with self._reader.pubsub() as pubsub:
                    listening: set[str] = set()
                    await self._listen(pubsub, listening)  # connects it, before it is read
                    async with asyncio.TaskGroup() as tasks:
                        tasks.create_task(self._keep_listening(pubsub, listening))
                        tasks.create_task(self._hear(pubsub, backoff))
            except* (RedisError, OSError) as failed:
                await backoff.wait(failed.exceptions[0])

    async def _keep_listening(self, pubsub: PubSub, listening: set[str]) -> None:
        """The task of the connection's writing: on each change, :meth:`_listen`."""
        while not self._closed:
            await self._wake_listening.wait()
            await self._listen(pubsub, listening)

    async def _listen(self, pubsub: PubSub, listening: set[str]) -> None:
        """Subscribe the connection to the channel of each call followed, and only those
        (``listening``: what it is subscribed to, kept up to date)."""
        self._wake_listening.clear()
        wanted = set(self._following)
        added, dropped = (wanted - listening) | (self._fresh & wanted), listening - wanted
        self._fresh.clear()
        if added:
            await pubsub.subscribe(*(self._live(call_id) for call_id in added))
        if dropped:
            await pubsub.unsubscribe(*(self._live(call_id) for call_id in dropped))
        listening.clear()
        listening.update(wanted)

    async def _hear(self, pubsub: PubSub, backoff: Backoff) -> None:
        """Hand each event pushed to its call's subscribers here, the connection's reading.

        A channel's subscription is confirmed before anything published on it comes: what the
        stream got before that is read from it then. An event past the next one expected says
        that some were missed (the connection was lost and made again): they are read from
        the stream too. Nothing is handed twice: a seq at or below the last handed is not."""
        skip = len(self._live(""))
        while not self._closed:
            pushed = await pubsub.get_message(timeout=None)
            if pushed is None:
                continue
            backoff.reset()
            kind, data = pushed["type"], pushed["data"]
            call_id = pushed["channel"][skip:].decode()
            last = self._following.get(call_id)
            if last is None:  # no longer followed: what was on its way is dropped
                continue
            if kind == "subscribe":
                await self._catch_up(call_id, last)
            elif kind == "message":
                head, _, body = data.partition(b" ")
                if not head.isdigit():  # not the script's: the stream says what there is
                    log.warning("bus: a message on a call's channel that is not an event")
                    await self._catch_up(call_id, last)
                    continue
                seq = int(head)
                if seq == last + 1:
                    self._following[call_id] = seq
                    self._local.deliver(call_id, seq, body.decode())
                elif seq > last:
                    await self._catch_up(call_id, last)

    async def _catch_up(self, call_id: str, last: int) -> None:
        """Hand the call's subscribers here what its stream has after ``last``."""
        answer = await self._redis.xrange(self._stream(call_id), f"({_id(last)}", "+")
        for seq, message in _entries(answer):
            if self._following.get(call_id, seq) < seq:
                self._following[call_id] = seq
                self._local.deliver(call_id, seq, message)


class Backoff:
    """How long to wait before trying Redis again: doubling from 50 ms to 2 s, logged."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._pause = 0.05

    async def wait(self, error: BaseException) -> None:
        log.warning("bus: Redis %s failed (%s); again in %.2f s", self._what, error, self._pause)
        await asyncio.sleep(self._pause)
        self._pause = min(self._pause * 2, 2.0)

    def reset(self) -> None:
        self._pause = 0.05


def pool(url: str) -> BlockingConnectionPool:
    """Connections to Redis: a bounded pool whose users wait for a free connection (redis-py's
    default pool refuses the 101st concurrent command instead)."""
    return BlockingConnectionPool.from_url(url, max_connections=POOL_SIZE, timeout=30)


def _id(seq: int) -> str:
    return f"0-{max(seq, 0)}"
