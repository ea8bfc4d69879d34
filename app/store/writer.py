"""Group commit: what live calls write is queued in line with the engine and committed in
batches by one background task, so an alert never waits on the database.

Writes are plain statements with their parameters; consecutive ones of the same statement go
to the database as one ``executemany``. Each statement is compiled once for the database
(:class:`CompiledWrite`) and its rows go to the driver as plain tuples: SQLAlchemy's execution of a
statement (cache lookup, parameters processed row by row) cost more than the database's own
work for the small batches a live call makes. On PostgreSQL a batch goes to asyncpg itself, not
through SQLAlchemy's async engine (:mod:`app.store.postgres`); on SQLite to the synchronous
driver in a thread of its own (:class:`ThreadBatches`).

:meth:`Writer.when_durable` runs a callback once everything queued before it is committed: the
stream sends its ``ack`` and ``pong`` through it (PROTOCOL: an ack means durable; a pong is a
durability barrier).

A batch that fails to commit is kept and tried again (the database may be restarting); its
callbacks wait with it, so nothing is acknowledged that is not stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from operator import itemgetter
from typing import Any, Protocol

from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler

log = logging.getLogger(__name__)

#: One queued write: a statement and its parameters.
Write = tuple[Executable, dict[str, Any]]


class Batches(Protocol):
    """Commits a batch of writes in one transaction (raising the driver's errors, or
    :class:`Unreachable`)."""

    async def __call__(self, batch: list[Write]) -> None: ...

    async def close(self) -> None: ...


class Unreachable(Exception):
    """A batch did not reach the database, or its connection failed under it: try it again
    (raised by a :class:`Batches` that tells its driver's errors apart itself)."""


class Writer:
    def __init__(
        self,
        batches: Batches,
        *,
        retry_s: float = 0.5,
        linger_s: float = 0.01,
        order: Sequence[Executable] = (),
    ) -> None:
        """``linger_s``: how long a batch waits for more writes once the first has come (a
        commit costs about the same for one row as for a hundred; acknowledgements wait that
        much longer, alerts do not). ``order``: statements whose writes may be committed in
        this order whatever order they were queued in (each statement's own writes keep
        theirs) — a batch of them goes as one ``executemany`` a statement instead of one
        round trip for every change of statement; a batch with any other statement keeps its
        queued order."""
        self._batches = batches
        self._rank = {id(statement): n for n, statement in enumerate(order)}
        self._retry_s = retry_s
        self._linger_s = linger_s
        self._pending: list[Write] = []
        #: Writes of the batch being committed (tried again while the database is down).
        self._in_flight = 0
        self._callbacks: list[Callable[[], None]] = []
        self._wake = asyncio.Event()
        self._busy = False
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        #: Batches committed, and writes in them (for tests and metrics).
        self.batches = 0
        self.written = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="huashu-writer")

    @property
    def backlog(self) -> int:
        """Writes not committed yet: queued, and the batch being committed."""
        return len(self._pending) + self._in_flight

    def put(self, statement: Executable, params: dict[str, Any]) -> None:
        """Queue one write; it is committed with the next batch."""
        self._pending.append((statement, params))
        self._wake.set()

    def when_durable(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once everything queued so far is committed (now, if it is)."""
        if not self._pending and not self._busy:
            callback()
            return
        self._callbacks.append(callback)
        self._wake.set()

    async def durable(self) -> None:
        """Until everything queued so far is committed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def release() -> None:
            if not done.done():
                done.set_result(None)

        self.when_durable(release)
        await done

    async def close(self) -> None:
        """Commit what is queued, then stop."""
        if self._task is None:
            return
        await self.durable()
        self._closing = True
        self._wake.set()
        await self._task
        self._task = None
        await self._batches.close()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._pending and not self._callbacks:
                if self._closing:
                    return
                continue
            if self._linger_s and not self._closing:
                await asyncio.sleep(self._linger_s)
            batch, self._pending = self._pending, []
            callbacks, self._callbacks = self._callbacks, []
            self._busy = True
            self._in_flight = len(batch)
            try:
                while not await self._commit(batch):
                    await asyncio.sleep(self._retry_s)
            finally:
                self._busy = False
                self._in_flight = 0
            # Let the committed writes go now, not when the next batch replaces them: a batch
            # made while the writer lagged holds thousands of inputs' texts.
            del batch
            for callback in callbacks:
                try:
                    callback()
                except Exception:  # noqa: BLE001 - one connection's reply must not stop writes
                    log.exception("a durability callback failed")

    async def _commit(self, batch: list[Write]) -> bool:
        """Commit ``batch`` in one transaction. False when the database cannot be reached (try
        again later). A write the database refuses (a bug: a broken constraint) must not hold
        every other call back: the batch is then committed write by write, and the refused
        ones are logged and left out."""
        if not batch:
            return True
        try:
            await self._execute(batch)
        except Exception as exc:  # noqa: BLE001 - a write that cannot be made must not stop the rest
            if _unreachable(exc):
                log.exception("the store could not commit %d writes; trying again", len(batch))
                return False
            log.exception("the store refused a batch of %d writes; writing one by one", len(batch))
            for write in batch:
                try:
                    await self._execute([write])
                except Exception as exc:  # noqa: BLE001 - as above, one write at a time
                    if _unreachable(exc):
                        return False  # the rest of the batch, written ones included, again
                    log.error("the store refused a write to %s (%s)", write[0], type(exc).__name__)
        self.batches += 1
        self.written += len(batch)
        return True

    async def _execute(self, batch: list[Write]) -> None:
        await self._batches(self._ordered(batch))

    def _ordered(self, batch: list[Write]) -> list[Write]:
        """``batch`` by the statements' ``order`` (a stable sort: each statement's writes keep
        their order), when every write's statement has a place in it."""
        rank = self._rank
        if not rank or len(batch) < 2 or any(id(w[0]) not in rank for w in batch):
            return batch
        return sorted(batch, key=lambda write: rank[id(write[0])])


def _unreachable(exc: Exception) -> bool:
    """The database could not be reached (try again later), not a write it refused: also a
    pooled connection found dead (the writer does not ping before each batch). Any other error
    (a write the database refuses, or one that cannot even be made: a parameter missing, a
    value the driver cannot send) is a refused write."""
    if isinstance(exc, (Unreachable, OperationalError, InterfaceError, OSError)):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


class CompiledWrite:
    """A statement compiled once for a dialect: its SQL, and how a write's parameters become
    the driver's row (the values in the SQL's order, each through its type's bind processor,
    as SQLAlchemy's own execution would: a JSON column's value encoded by the engine's
    ``json_serializer``, a boolean made an integer for SQLite). Values the statement fixes
    itself (``.values(ended=True)``) are the statement's."""

    def __init__(self, statement: Executable, dialect: Dialect, keys: list[str]) -> None:
        assert isinstance(statement, ClauseElement)
        # With the keys given, as SQLAlchemy executes it: an INSERT of those columns only.
        compiled = statement.compile(dialect=dialect, column_keys=keys)
        assert isinstance(compiled, SQLCompiler)
        names = list(compiled.positiontup or ())
        binds = compiled.binds
        self.sql = compiled.string
        self._fixed = {name: binds[name].value for name in names if not binds[name].required}
        self._get: Callable[[dict[str, Any]], tuple[Any, ...]] = (
            itemgetter(*names) if len(names) > 1 else lambda params: tuple(params[n] for n in names)
        )
        self._processors = [
            (i, processor)
            for i, name in enumerate(names)
            if (processor := binds[name].type.dialect_impl(dialect).bind_processor(dialect))
        ]

    def rows(self, group: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        get = self._get
        if self._fixed:
            group = [self._fixed | params for params in group]
        if not self._processors:
            return [get(params) for params in group]
        rows = []
        for params in group:
            row = list(get(params))
            for i, processor in self._processors:
                row[i] = processor(row[i])
            rows.append(tuple(row))
        return rows


class Statements:
    """Each statement written compiled once for each set of keys it is given (the
    repository's are made once, at its start, and always given the same)."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._compiled: dict[tuple[int, tuple[str, ...]], tuple[Executable, CompiledWrite]] = {}

    def groups(self, batch: list[Write]) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
        """Consecutive writes of the same statement: its SQL and its rows, one
        ``executemany`` each."""
        for statement, group in _groups(batch):
            keys = tuple(group[0])
            known = self._compiled.get((id(statement), keys))
            if known is None or known[0] is not statement:
                compiled = CompiledWrite(statement, self._dialect, list(keys))
                known = self._compiled[(id(statement), keys)] = (statement, compiled)
            yield known[1].sql, known[1].rows(group)


def _groups(batch: list[Write]) -> Iterator[tuple[Executable, list[dict[str, Any]]]]:
    """Consecutive writes of the same statement, with their parameters."""
    group: list[dict[str, Any]] = []
    statement = batch[0][0]
    for next_statement, params in batch:
        if next_statement is not statement:
            yield statement, group
            statement, group = next_statement, []
        group.append(params)
    yield statement, group


class ThreadBatches:
    """A batch in one transaction on a synchronous engine, in a thread of its own (SQLite: its
    async driver hands every statement to a thread and back, and under load those hand-offs
    and the lock they contend for cost more than the writes; here a batch crosses once)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._statements = Statements(engine.dialect)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="huashu-store")

    async def __call__(self, batch: list[Write]) -> None:
        await asyncio.get_running_loop().run_in_executor(self._pool, self._commit, batch)

    def _commit(self, batch: list[Write]) -> None:
        with self._engine.begin() as connection:
            for sql, rows in self._statements.groups(batch):
                connection.exec_driver_sql(sql, rows)

    async def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._engine.dispose()
