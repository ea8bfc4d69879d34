"""`python -m bench.pgbatch`: the CPU one batch of the store's writer costs this process on
PostgreSQL, by each way of committing it (the event loop's time every live call shares).

Process CPU time (``time.process_time``), not wall time: the figure does not move with the
server's or the machine's other work as latency does. Each repetition commits ``BENCH_BATCHES``
new batches one after the other by each way in turn; the best repetition of each way is
reported, in µs a batch, a row and a fragment (the service bench's "server CPU a message" is
per fragment), beside the wall time of that repetition (for information).
A batch is shaped as the live writer's under load (``bench store``'s 1,000 calls at 4 fragments
a second and a 10 ms linger): ``BENCH_FRAGMENTS`` fragments of as many calls, each an input, an
event and the call's progress, ``BENCH_ALERTS`` of them with an alert (its event and its row)
and one alert update, queued by the repository's own methods and ordered as the writer orders
them. Building the batches is not timed; encoding their rows (``CompiledWrite``) is.

Ways:
- ``sqlalchemy``: ``SqlAlchemyBatches`` (below) on an engine as the writer had before (pool of one
  connection, no pre-ping), ``exec_driver_sql`` a statement group;
- ``asyncpg``: ``PostgresBatches`` (the writer's now): a connection of its own, statements
  prepared once, ``executemany``;
- ``asyncpg-unnamed``: the same with ``prepared_statement_cache_size=0`` in the URL (the
  setting for a pgbouncer in transaction mode: no named statements);
- ``asyncpg-copy``: as ``asyncpg``, but the inserts by binary ``COPY`` (``copy_records_to_table``)
  — not a way the writer can take: ``COPY`` has no ``ON CONFLICT DO NOTHING``, which all the
  inserts of a live call but its call's row have (the bench's rows never conflict). Kept to show
  that for batches of this size it does not cost less CPU than a prepared ``executemany``.

Environment (defaults in brackets): BENCH_POSTGRES_URL
[postgresql+asyncpg://postgres@127.0.0.1:5432/huashu_bench] (its server: a database of the
bench's own is made, then dropped), BENCH_BATCHES [200], BENCH_REPEATS [9], BENCH_FRAGMENTS [40],
BENCH_ALERTS [3], BENCH_WAYS [sqlalchemy,asyncpg,asyncpg-unnamed,asyncpg-copy], BENCH_LOOP
[uvloop, as the service; or asyncio].
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import Insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.calls.repository import CallKey, CallRecord
from app.engine.messages import Listing
from app.store.database import JSON_CODEC, make_engine, migrate
from app.store.postgres import PostgresBatches
from app.store.repository import SqlCallRepository, _call_params
from app.store.writer import Batches, Statements, Write, _groups

URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/huashu_bench"
)
BATCHES = int(os.environ.get("BENCH_BATCHES", "200"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "9"))
FRAGMENTS = int(os.environ.get("BENCH_FRAGMENTS", "40"))
ALERTS = int(os.environ.get("BENCH_ALERTS", "3"))
WAYS = os.environ.get("BENCH_WAYS", "sqlalchemy,asyncpg,asyncpg-unnamed,asyncpg-copy").split(",")
LOOP = os.environ.get("BENCH_LOOP", "uvloop")

TEXT = "您好，我想问一下我这个月的套餐费用为什么多扣了三十块钱，能帮我查一下吗"


class SqlAlchemyBatches:
    """The writer's PostgreSQL batches before ``PostgresBatches``: one transaction on an async
    engine of the writer's own (disposed of when it closes), each run of one statement's
    writes an ``executemany`` through SQLAlchemy's adapted asyncpg cursor. The reference the
    tests compare what ``PostgresBatches`` stores against."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._statements = Statements(engine.dialect)

    async def __call__(self, batch: list[Write]) -> None:
        async with self._engine.begin() as connection:
            for sql, rows in self._statements.groups(batch):
                await connection.exec_driver_sql(sql, rows)

    async def close(self) -> None:
        await self._engine.dispose()


def old_engine(url: str) -> AsyncEngine:
    """The writer's own engine before ``PostgresBatches``."""
    return create_async_engine(
        url, pool_size=1, max_overflow=0, use_insertmanyvalues=False, **JSON_CODEC
    )


def make_ways(
    url: str, engine: AsyncEngine, unnamed: AsyncEngine
) -> dict[str, Callable[[], Batches]]:
    """``unnamed``: an engine of the URL with ``prepared_statement_cache_size=0``."""
    return {
        "sqlalchemy": lambda: SqlAlchemyBatches(old_engine(url)),
        "asyncpg": lambda: PostgresBatches(engine),
        "asyncpg-unnamed": lambda: PostgresBatches(unnamed),
        "asyncpg-copy": lambda: CopyBatches(engine),
    }


class CopyBatches(PostgresBatches):
    """``PostgresBatches`` with its inserts by binary ``COPY`` (their ``ON CONFLICT`` left
    out)."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self._dialect = engine.dialect
        self._columns: dict[str, list[str]] = {}

    async def __call__(self, batch: list[Write]) -> None:
        connection = await self._connect()
        async with connection.transaction():
            for statement, group in _groups(batch):
                writes = [(statement, params) for params in group]
                sql, rows = next(self._statements.groups(writes))
                if isinstance(statement, Insert):
                    columns = self._columns.get(sql)
                    if columns is None:
                        compiled = statement.compile(
                            dialect=self._dialect, column_keys=list(group[0])
                        )
                        columns = self._columns[sql] = list(compiled.positiontup or ())
                    table = statement.table.name  # type: ignore[attr-defined]
                    await connection.copy_records_to_table(table, records=rows, columns=columns)
                    continue
                prepared = self._prepared.get(sql)
                if prepared is None:
                    prepared = self._prepared[sql] = await connection.prepare(sql)
                await prepared.executemany(rows)


class Shaper:
    """Batches as the live writer makes them, from the repository's own methods."""

    def __init__(self, repository: SqlCallRepository) -> None:
        self._repository = repository
        # The writer's queue and its ordering: a bench may look inside.
        self._writer = repository._writer
        self._n = 0

    def batch(self) -> list[Write]:
        self._n += 1
        n = self._n
        repository = self._repository
        for c in range(FRAGMENTS):
            key = CallKey(None, f"call-{c}")
            final = n % 3 == 0
            body = {
                "speaker": "customer",
                "segment": f"seg-{n // 3}",
                "text": TEXT,
                "final": final,
                "start_ms": 1000 * n,
                "end_ms": 1000 * n + 900,
                "volume": None,
            }
            repository.record_input(key, n, "fragment", body, 1_795_312_804_000 + 250 * n, n)
            event = {"type": "transcript", "seq": 3 * n, "at_ms": 250 * n, "speaker": "customer"}
            event |= {"segment": f"seg-{n // 3}", "text": TEXT, "final": final}
            repository.record_event(key, 3 * n, "transcript", orjson.dumps(event).decode())
            if c < ALERTS:
                alert = {"type": "alert", "seq": 3 * n + 1, "at_ms": 250 * n, "id": f"a-{n}"}
                alert |= {"rule": "refund_promise", "category": "compliance"}
                alert |= {"severity": "high", "state": "raised", "context": TEXT[:24]}
                repository.record_event(key, 3 * n + 1, "alert", orjson.dumps(alert).decode())
            if c == 0:
                update = {"type": "alert_update", "seq": 3 * n + 2, "at_ms": 250 * n}
                update |= {"id": f"a-{n}", "state": "confirmed"}
                repository.record_event(
                    key, 3 * n + 2, "alert_update", orjson.dumps(update).decode()
                )
            repository.progress(key, Listing("s", 1, "consult", "talking", c % 4))
        batch, self._writer._pending = self._writer._ordered(self._writer._pending), []
        return batch


async def calls(repository: SqlCallRepository) -> None:
    """The calls' rows."""
    batches = PostgresBatches(repository.engine)
    rows: list[Write] = []
    for c in range(FRAGMENTS):
        record = CallRecord(f"call-{c}", None, f"t-{c}", "s", 1, None, 0, "consult", "ringing")
        record.setup = {}
        rows.append((repository._insert_call, _call_params(record)))
    await batches(rows)
    await batches.close()


async def measure(url: str) -> dict[str, dict[str, float]]:
    engine = make_engine(url)
    await migrate(engine)
    repository = SqlCallRepository(engine)
    await calls(repository)
    shaper = Shaper(repository)
    unnamed = make_engine(
        make_url(url)
        .update_query_dict({"prepared_statement_cache_size": "0"})
        .render_as_string(hide_password=False)
    )
    made = make_ways(url, engine, unnamed)
    ways = {name: made[name]() for name in WAYS}
    for batches in ways.values():  # connect, prepare
        for _ in range(3):
            await batches(shaper.batch())
    rows = len(shaper.batch())
    best: dict[str, tuple[float, float]] = {name: (float("inf"), 0.0) for name in ways}
    for _ in range(REPEATS):
        for name, batches in ways.items():
            batch = [shaper.batch() for _ in range(BATCHES)]
            gc.collect()
            cpu, wall = time.process_time(), time.perf_counter()
            for one in batch:
                await batches(one)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            if cpu < best[name][0]:
                best[name] = (cpu, wall)
    for batches in ways.values():
        await batches.close()
    await repository.close()
    await unnamed.dispose()
    return {
        name: {
            "cpu_us_per_batch": cpu / BATCHES * 1e6,
            "cpu_us_per_row": cpu / BATCHES / rows * 1e6,
            "cpu_us_per_fragment": cpu / BATCHES / FRAGMENTS * 1e6,
            "wall_us_per_batch": wall / BATCHES * 1e6,
            "rows_per_batch": rows,
        }
        for name, (cpu, wall) in best.items()
    }


async def admin(statement: str) -> None:
    engine = create_async_engine(
        make_url(URL).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def run() -> dict[str, Any]:
    name = f"huashu_pgbatch_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(URL).set(database=name).render_as_string(hide_password=False)
        if LOOP == "uvloop":
            import uvloop

            results = uvloop.run(measure(url))
        else:
            results = asyncio.run(measure(url))
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return results


def main() -> None:
    results = run()
    print(
        f"PostgreSQL batches: {FRAGMENTS} fragments, {ALERTS} alerts; best of {REPEATS} x "
        f"{BATCHES} batches, {LOOP}"
    )
    print(
        f"{'way':<16} {'rows':>5} {'CPU µs/batch':>13} {'CPU µs/row':>11} "
        f"{'CPU µs/fragment':>16} {'wall µs/batch':>14}"
    )
    for name, row in results.items():
        print(
            f"{name:<16} {row['rows_per_batch']:>5} {row['cpu_us_per_batch']:>13.0f} "
            f"{row['cpu_us_per_row']:>11.2f} {row['cpu_us_per_fragment']:>16.1f} "
            f"{row['wall_us_per_batch']:>14.0f}"
        )
    base = results.get("sqlalchemy")
    if base:
        for name, row in results.items():
            if name != "sqlalchemy":
                saved = 1 - row["cpu_us_per_batch"] / base["cpu_us_per_batch"]
                print(f"{name}: {saved:.0%} less CPU a batch than sqlalchemy")


if __name__ == "__main__":
    main()
