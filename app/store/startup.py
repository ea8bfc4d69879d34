"""One process at a time through start-up's writes: the migrations and the script library's seed.

Several processes may start at once on one database (``huashu serve --workers N``, the instances
of a deployment started together). Unguarded, each would run Alembic's upgrade (two creating the
same table: one fails to start) and each would store ``scripts_data/`` as a new version of every
shared document (the second finding its version taken stores the next one: two versions of one
text). :func:`startup_lock` makes them take turns: the first migrates and seeds, the others then
find the schema at head and the documents stored, and change nothing.

PostgreSQL: a session advisory lock on its own connection (released by the server if the process
dies). SQLite: an exclusive ``flock`` on ``<database file>.lock`` beside the database (released by
the kernel if the process dies); SQLite's own locks cannot serve, as Alembic commits as it goes.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.store.database import is_sqlite

log = logging.getLogger(__name__)

#: The advisory lock's key: the same in every Huashu process, so that they exclude each other;
#: the bytes of "huashu", so that it does not collide with the small integers other applications
#: sharing the server tend to pick.
ADVISORY_KEY = int.from_bytes(b"huashu", "big")
#: How often a process waiting for SQLite's lock file tries again: a wait is one start-up's
#: migrations and seed, a second or two; polling keeps the wait cancellable (a thread blocked
#: in ``flock`` is not).
POLL_S = 0.05
#: What a process waiting for another's start-up says once (at info: it is why it is slow).
WAITING = "waiting for another process to finish migrating and seeding the store"


@asynccontextmanager
async def startup_lock(engine: AsyncEngine | None) -> AsyncIterator[None]:
    """Hold the store's start-up lock for the body (the migrations and the seed): wait while
    another process holds it. ``engine`` None (the memory store) or an in-memory SQLite
    database is one process's own: nothing to take."""
    if engine is None:
        yield
        return
    url = engine.url.render_as_string(hide_password=False)
    if is_sqlite(url):
        database = make_url(url).database
        if not database or database == ":memory:":
            yield
            return
        async with _file_lock(Path(f"{database}.lock")):
            yield
        return
    async with _advisory_lock(engine):
        yield


@asynccontextmanager
async def _file_lock(path: Path) -> AsyncIterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    log.info(WAITING)
                    waited = True
                await asyncio.sleep(POLL_S)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)  # would release the lock too


@asynccontextmanager
async def _advisory_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    async with engine.connect() as pooled:
        # Autocommit: the lock is the session's, and no transaction stays open while it is held.
        connection = await pooled.execution_options(isolation_level="AUTOCOMMIT")
        try:
            if not await _scalar(connection, func.pg_try_advisory_lock(ADVISORY_KEY)):
                log.info(WAITING)
                await _scalar(connection, func.pg_advisory_lock(ADVISORY_KEY))
        except BaseException:
            # Cancelled or failed while waiting: the lock may have been granted as the wait was
            # given up; closing the session is the one sure way to let it go.
            await connection.invalidate()
            raise
        try:
            yield
        finally:
            try:
                await _scalar(connection, func.pg_advisory_unlock(ADVISORY_KEY))
            except BaseException:
                await connection.invalidate()
                raise


async def _scalar(connection: AsyncConnection, call: ColumnElement[Any]) -> Any:
    return (await connection.execute(select(call))).scalar_one()
