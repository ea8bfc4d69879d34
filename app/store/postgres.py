"""The store writer's batches on PostgreSQL, through asyncpg itself.

The driver runs on the event loop every live call shares, so what a batch costs there is added
to alerts' latency. Through SQLAlchemy's async engine a batch also paid for the engine around
the driver: a pool checkout, a greenlet hand-off for every statement, the adapted cursor and
transaction. Here a batch is a transaction on a connection of the writer's own (one, as the
writer's engine had) and an ``executemany`` of a statement prepared once on that connection for
each run of writes of one statement: the same SQL and the same rows (``CompiledWrite``) as
before, so what is stored does not change. ``python -m bench.pgbatch`` measures the two.

Not used: binary ``COPY``. Every insert a live call makes but its call's row is ``ON CONFLICT DO
NOTHING`` (a batch tried again after a commit whose answer was lost writes nothing twice), which
``COPY`` cannot do; and for batches of the writer's size it cost no less CPU than
``executemany`` anyway.

Errors are told apart as :func:`app.store.writer._unreachable` expects: a database that cannot
be reached (cannot connect, the connection lost or closed by the server, the server shutting
down) raises :class:`app.store.writer.Unreachable` and the batch is tried again on a new
connection; anything else (a constraint, a value the database or the driver refuses) is raised
as it is, a refused write.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from asyncpg.exceptions import (
    AdminShutdownError,
    CannotConnectNowError,
    CrashShutdownError,
    InvalidCachedStatementError,
    OutdatedSchemaCacheError,
    PostgresConnectionError,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.writer import Statements, Unreachable, Write

log = logging.getLogger(__name__)

#: Errors that say the connection, not the batch, failed: the server cannot be reached or
#: reached no more (SQLSTATE class 08, its shutting down: 57P01-03). A prepared statement the
#: server or asyncpg finds stale (the schema changed under it) is one to prepare again.
_LOST = (
    OSError,  # TimeoutError too
    PostgresConnectionError,
    AdminShutdownError,
    CrashShutdownError,
    CannotConnectNowError,
)
_STALE = (InvalidCachedStatementError, OutdatedSchemaCacheError)
#: URL parameters that are SQLAlchemy's, not asyncpg's.
_SQLALCHEMY_ONLY = ("prepared_statement_cache_size", "prepared_statement_name_func")
#: How long closing the connection may wait for the server.
CLOSE_TIMEOUT_S = 2.0


class PostgresBatches:
    """A batch in one transaction on an asyncpg connection of its own, made from ``engine``'s
    URL as the engine makes its connections (its query parameters too). ``engine`` (the
    repository's) compiles the statements; its connections are not used.

    With ``prepared_statement_cache_size=0`` (SQLAlchemy's setting for a pgbouncer in
    transaction mode) or asyncpg's ``statement_cache_size=0`` in the URL, no statement is
    prepared by name: asyncpg's statement cache is off too, and each ``executemany`` prepares
    its statement unnamed (a round trip more each)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._statements = Statements(engine.dialect)
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        if "statement_cache_size" in kwargs:  # asyncpg's own, given in the URL: a string
            kwargs["statement_cache_size"] = int(kwargs["statement_cache_size"])
        self._prepare = (
            int(kwargs.get("prepared_statement_cache_size", 100)) > 0
            and kwargs.get("statement_cache_size", 100) > 0
        )
        for key in _SQLALCHEMY_ONLY:
            kwargs.pop(key, None)
        if not self._prepare:
            kwargs["statement_cache_size"] = 0
        self._args: list[Any] = list(args)
        self._kwargs: dict[str, Any] = dict(kwargs)
        self._connection: asyncpg.Connection | None = None
        #: The connection's prepared statements, by SQL.
        self._prepared: dict[str, Any] = {}

    async def __call__(self, batch: list[Write]) -> None:
        connection = await self._connect()
        try:
            async with connection.transaction():
                for sql, rows in self._statements.groups(batch):
                    if self._prepare:
                        statement = self._prepared.get(sql)
                        if statement is None:
                            statement = self._prepared[sql] = await connection.prepare(sql)
                        await statement.executemany(rows)
                    else:
                        await connection.executemany(sql, rows)
        except Exception as exc:
            if _lost(connection, exc):
                self._drop()
                raise Unreachable(f"the database connection failed: {exc!r}") from exc
            if isinstance(exc, _STALE):
                self._prepared.clear()
                raise Unreachable(f"prepared statements went stale: {exc!r}") from exc
            raise
        except BaseException:
            # Cancelled mid-batch: where the connection stands is unknown.
            self._drop()
            raise

    async def _connect(self) -> asyncpg.Connection:
        connection = self._connection
        if connection is not None and not connection.is_closed():
            return connection
        # Closed by the server while idle (asyncpg saw it go): a new one at once.
        self._drop()
        try:
            connection = await asyncpg.connect(*self._args, **self._kwargs)
        except Exception as exc:  # noqa: BLE001 - whatever stops a connection, try again later
            raise Unreachable(f"cannot connect to the database: {exc!r}") from exc
        self._connection = connection
        return connection

    def _drop(self) -> None:
        """Let the connection go, without waiting on the server."""
        connection, self._connection = self._connection, None
        self._prepared = {}
        if connection is not None:
            connection.terminate()

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        self._prepared = {}
        if connection is None:
            return
        try:
            await connection.close(timeout=CLOSE_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - the server gone already: nothing left to close
            log.warning("the store writer's connection did not close cleanly", exc_info=True)
            connection.terminate()
        except BaseException:
            connection.terminate()
            raise


def _lost(connection: asyncpg.Connection, exc: Exception) -> bool:
    """The batch failed because of its connection: closed now (asyncpg's ``InterfaceError``
    "connection is closed" among others), or an error that says it failed. Any other error on
    a connection still open is the batch's: a refused write (asyncpg's own ``DataError`` too,
    a value it cannot encode, although an ``InterfaceError``)."""
    return connection.is_closed() or isinstance(exc, _LOST)
