"""The writer's batches on PostgreSQL through asyncpg itself (``PostgresBatches``): the rows it
stores are those the SQLAlchemy path stored; a batch the database refuses is rolled back whole
and reported refused; a database that cannot be reached, or a connection lost under a batch,
is a batch tried again, never a lost one."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy import insert, update
from sqlalchemy.engine import make_url

from app.calls.repository import CallKey, CallRecord
from app.engine.messages import Listing
from app.store.database import make_engine, migrate
from app.store.postgres import PostgresBatches
from app.store.repository import CALLS, EVENTS, SqlCallRepository
from app.store.writer import Unreachable, Writer, _unreachable
from bench.pgbatch import SqlAlchemyBatches, old_engine
from tests.databases import postgres_database
from tests.store.test_writer import CALL, event

T = TypeVar("T")
TABLES = ("calls", "call_inputs", "call_events", "alerts", "call_lines")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from postgres_database()


def dsn(url: str) -> dict[str, Any]:
    """asyncpg's connection arguments for ``url``."""
    parsed = make_url(url)
    return {
        "host": parsed.host,
        "port": parsed.port,
        "user": parsed.username,
        "password": parsed.password,
        "database": parsed.database,
    }


async def stored(url: str) -> dict[str, list[str]]:
    """Every row of the call tables as the server holds it (``row_to_json``: JSON columns as
    stored, byte for byte; binary ones in hex)."""
    connection = await asyncpg.connect(**dsn(url))
    try:
        return {
            table: [
                row[0]
                for row in await connection.fetch(
                    f"SELECT row_to_json(t)::text FROM {table} t ORDER BY row_to_json(t)::text"
                )
            ]
            for table in TABLES
        }
    finally:
        await connection.close()


async def migrated(url: str) -> None:
    engine = make_engine(url)
    await migrate(engine)
    await engine.dispose()


def run(body: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(body())


async def a_call_end_to_end(repository: SqlCallRepository) -> None:
    """Every write the repository queues: a call made, its inputs (a fragment with digits to
    mask, a tick, an event), events, an alert and its update, lines that left memory, its
    progress and its end; a second call still live with its lines kept."""
    for call_id in ("c-1", "c-2"):
        await repository.add(
            CallRecord(
                call_id=call_id,
                tenant="t" if call_id == "c-1" else None,
                token=f"tok-{call_id}",
                script_id="cmcc-10086",
                script_version=2,
                agent_id="工号 7" if call_id == "c-1" else None,
                created_ms=1_795_312_804_000,
                started_ms=1_795_312_803_000,
                call_type="consult",
                phase="ringing",
                setup={"call_id": call_id, "timezone": "Asia/Shanghai", "n": [1, None, 2.5]},
                pins={"script": 2, "lexicon": {"base": 3}},
            )
        )
        key = CallKey("t" if call_id == "c-1" else None, call_id)
        text = '您好，我的手机号是13800138000 "引号" \\ 结束'
        fragment = {"speaker": "customer", "segment": "s1", "text": text, "final": True}
        repository.record_input(key, 1, "fragment", fragment, 1_795_312_805_000, 7)
        repository.record_input(key, 2, "tick", None, 1_795_312_806_000, None)
        repository.record_input(key, 3, "event", {"type": "hold", "at": None}, 1, None)
        transcript = {"type": "transcript", "text": "你好 138001380000"}
        alert = {"type": "alert", "id": "a-1", "rule": "r", "category": "c", "severity": "high"}
        alert_update = {"type": "alert_update", "id": "a-1", "state": "confirmed"}
        repository.record_event(key, 1, "transcript", json.dumps(transcript, ensure_ascii=False))
        repository.record_event(key, 2, "alert", json.dumps(alert | {"state": "raised"}))
        repository.record_event(key, 3, "alert_update", json.dumps(alert_update))
        lines = [(1, ("customer", "s1", text, 0, 900)), (2, ("agent", "s2", "好的", None, None))]
        repository.record_lines(key, lines)
        repository.progress(key, Listing("cmcc-10086", 2, "complaint", "answering", 1))
        if call_id == "c-1":
            ending = Listing("cmcc-10086", 2, "complaint", "closing", 1)
            repository.finish(key, ending, b'{"s":1}', '{"r":"报告 \\u0000 13800138000"}'.encode())
    await repository.durable()


@pytest.fixture
def three_databases() -> Iterator[list[str]]:
    with ExitStack() as stack:
        yield [stack.enter_context(contextmanager(postgres_database)()) for _ in range(3)]


def test_the_rows_stored_are_those_the_sqlalchemy_path_stored(three_databases: list[str]) -> None:
    """The same writes through the old path (SQLAlchemy's engine) into one database and through
    ``PostgresBatches`` (also without named statements: pgbouncer's setting) into others: the
    same rows, byte for byte."""
    old, new, unnamed = three_databases
    unnamed_url = (
        make_url(unnamed)
        .update_query_dict({"prepared_statement_cache_size": "0"})
        .render_as_string(hide_password=False)
    )

    async def write(url: str, sqlalchemy: bool) -> dict[str, list[str]]:
        repository = SqlCallRepository(make_engine(url))
        if sqlalchemy:
            # The writer's batches as they were: its own engine of one connection.
            repository._writer._batches = SqlAlchemyBatches(old_engine(url))
        await repository.start()
        try:
            await a_call_end_to_end(repository)
        finally:
            await repository.close()
        return await stored(url)

    before = run(lambda: write(old, True))
    assert all(before[table] for table in TABLES)
    assert len(before["call_lines"]) == 2  # the ended call's went with its end
    assert run(lambda: write(new, False)) == before
    assert run(lambda: write(unnamed_url, False)) == before


def test_a_refused_batch_is_rolled_back_whole_and_reported_refused(postgres_url: str) -> None:
    async def main() -> tuple[Exception, list[int]]:
        await migrated(postgres_url)
        engine = make_engine(postgres_url)
        batches = PostgresBatches(engine)
        try:
            await batches([(insert(CALLS), CALL), (insert(EVENTS), event(1))])
            try:
                await batches(
                    [
                        (insert(EVENTS), event(2)),
                        (insert(EVENTS), {**event(3), "call_id": "no-such-call"}),
                    ]
                )
            except Exception as exc:  # noqa: BLE001 - the one expected
                refused = exc
            else:
                raise AssertionError("the batch was committed")
            await batches([(insert(EVENTS), event(4))])  # the same connection goes on
        finally:
            await batches.close()
            await engine.dispose()
        return refused, await seqs(postgres_url)

    refused, stored_seqs = run(main)
    assert isinstance(refused, asyncpg.ForeignKeyViolationError)
    assert not _unreachable(refused)
    assert stored_seqs == [1, 4]  # not 2: its batch was refused whole


def test_refused_writes_are_left_out_and_the_rest_is_written(postgres_url: str) -> None:
    """Through the writer: a write the server refuses (a duplicate, a missing call) or that
    asyncpg cannot even encode (a text for an integer) is left out; the rest is written."""

    async def main() -> list[int]:
        await migrated(postgres_url)
        engine = make_engine(postgres_url)
        writer = Writer(PostgresBatches(engine), retry_s=0.05)
        writer.start()
        writer.put(insert(CALLS), CALL)
        writer.put(insert(EVENTS), event(1))
        writer.put(insert(EVENTS), event(1))  # a bug: the same event twice
        writer.put(insert(EVENTS), {**event(2), "call_id": "no-such-call"})
        writer.put(insert(EVENTS), {**event(3), "seq": "three"})  # no integer
        writer.put(insert(EVENTS), event(4))
        await asyncio.wait_for(writer.durable(), 10)
        writer.put(insert(EVENTS), event(5))
        await asyncio.wait_for(writer.close(), 10)
        await engine.dispose()
        return await seqs(postgres_url)

    assert run(main) == [1, 4, 5]


async def seqs(url: str) -> list[int]:
    connection = await asyncpg.connect(**dsn(url))
    try:
        return [
            row[0] for row in await connection.fetch("SELECT seq FROM call_events ORDER BY seq")
        ]
    finally:
        await connection.close()


class Proxy:
    """A TCP forwarder to the PostgreSQL server on a port of its own, listening only while
    started: stopped, the port refuses connections."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self._target = (parsed.host or "127.0.0.1", parsed.port or 5432)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = parsed.set(host="127.0.0.1", port=self.port).render_as_string(
            hide_password=False
        )
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._forward, "127.0.0.1", self.port, reuse_address=True
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
            await asyncio.gather(
                _pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True
            )
        finally:
            writer.close()
            self._tasks.discard(task)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


def test_a_database_that_cannot_be_reached_is_waited_for_and_nothing_is_lost(
    postgres_url: str,
) -> None:
    async def main() -> tuple[bool, bool, int, list[int]]:
        await migrated(postgres_url)
        proxy = Proxy(postgres_url)  # not listening: connections refused
        engine = make_engine(proxy.url)
        batches = PostgresBatches(engine)
        try:
            await batches([(insert(CALLS), CALL)])
        except Unreachable as exc:
            assert _unreachable(exc) and isinstance(exc.__cause__, OSError)
        else:
            raise AssertionError("connected to a closed port")
        writer = Writer(batches, retry_s=0.05)
        writer.start()
        done: list[bool] = []
        writer.put(insert(CALLS), CALL)
        writer.put(insert(EVENTS), event(1))
        writer.when_durable(lambda: done.append(True))
        await asyncio.sleep(0.3)  # tried several times meanwhile
        waited = not done and writer.batches == 0
        await proxy.start()
        try:
            await asyncio.wait_for(writer.durable(), 10)
            written = bool(done)
            await writer.close()
        finally:
            await proxy.stop()
            await engine.dispose()
        return waited, written, writer.batches, await seqs(postgres_url)

    assert run(main) == (True, True, 1, [1])


async def terminate(url: str, where: str) -> int:
    """Terminate the other sessions on ``url``'s database that match ``where``."""
    connection = await asyncpg.connect(**dsn(url))
    try:
        return len(
            await connection.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname ="
                f" current_database() AND pid <> pg_backend_pid() AND {where}"
            )
        )
    finally:
        await connection.close()


def test_a_connection_terminated_under_a_batch_is_a_batch_tried_again(postgres_url: str) -> None:
    """The server ends the writer's session (``pg_terminate_backend``) while a batch waits on
    a lock, after its first write: the batch is tried again whole on a new connection, every
    write in it is stored once, and its callback waits for that commit."""

    async def main() -> tuple[bool, int, list[int], str]:
        await migrated(postgres_url)
        engine = make_engine(postgres_url)
        writer = Writer(PostgresBatches(engine), retry_s=0.05)
        writer.start()
        writer.put(insert(CALLS), CALL)
        writer.put(insert(EVENTS), event(1))
        await asyncio.wait_for(writer.durable(), 10)
        locker = await asyncio.wait_for(asyncpg.connect(**dsn(postgres_url)), 10)
        try:
            async with locker.transaction():
                await locker.execute("SELECT 1 FROM calls WHERE call_id = 'c-1' FOR UPDATE")
                done: list[bool] = []
                writer.put(insert(EVENTS), event(2))
                writer.put(update(CALLS).values(phase="talking"), {})  # waits on the lock
                writer.when_durable(lambda: done.append(True))
                for _ in range(200):
                    await asyncio.sleep(0.02)
                    if await terminate(postgres_url, "wait_event_type = 'Lock'"):
                        break
                else:
                    raise AssertionError("the batch never waited on the lock")
                await asyncio.sleep(0.2)
                early = bool(done)
        finally:
            await locker.close()
        await asyncio.wait_for(writer.durable(), 10)
        await writer.close()
        await engine.dispose()
        rows = await stored(postgres_url)
        return early, len(rows["call_events"]), await seqs(postgres_url), rows["calls"][0]

    early, events, stored_seqs, call = run(main)
    assert not early
    assert (events, stored_seqs) == (2, [1, 2])
    assert '"phase":"talking"' in call


def test_a_connection_closed_while_idle_is_replaced(postgres_url: str) -> None:
    async def main() -> list[int]:
        await migrated(postgres_url)
        engine = make_engine(postgres_url)
        writer = Writer(PostgresBatches(engine), retry_s=0.05)
        writer.start()
        writer.put(insert(CALLS), CALL)
        await asyncio.wait_for(writer.durable(), 10)
        assert await terminate(postgres_url, "TRUE") >= 1
        for seq in (1, 2):
            writer.put(insert(EVENTS), event(seq))
            await asyncio.wait_for(writer.durable(), 10)
        await writer.close()
        await engine.dispose()
        return await seqs(postgres_url)

    assert run(main) == [1, 2]


def test_a_connection_the_server_refuses_is_unreachable_not_a_refused_write(
    postgres_url: str,
) -> None:
    """The server answers but will not take the connection (here: no such database; also while
    it starts up, or at its connection limit): a batch to try again. Through SQLAlchemy's engine
    it was a plain ``DBAPIError``, a refused write, and the batch was lost."""

    async def main() -> BaseException | None:
        missing = make_url(postgres_url).set(database="huashu_no_such_database")
        engine = make_engine(missing.render_as_string(hide_password=False))
        batches = PostgresBatches(engine)
        try:
            await batches([(insert(CALLS), CALL)])
        except Unreachable as exc:
            assert _unreachable(exc)
            return exc.__cause__
        finally:
            await batches.close()
            await engine.dispose()
        raise AssertionError("connected to a database that does not exist")

    assert isinstance(run(main), asyncpg.InvalidCatalogNameError)
