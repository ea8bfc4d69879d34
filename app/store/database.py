"""Database engines and migrations.

SQLite (the embedded default) runs in WAL mode with ``synchronous=NORMAL``: a commit is on disk
once the process has handed it to the operating system, so it survives the process being killed
(``kill -9``), which is the durability PROTOCOL promises; an operating-system crash may lose the
last commits (use PostgreSQL where that matters). Foreign keys are switched on per connection.
Migrations (``app/store/migrations``) run forward to the newest on every start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def json_text(value: Any) -> str:
    """A JSON column's value as stored (orjson: every input a call stores has a JSON body;
    keys that are not strings are written as strings, as the standard library does)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


#: JSON columns in and out through orjson.
JSON_CODEC: dict[str, Any] = {"json_serializer": json_text, "json_deserializer": orjson.loads}


def make_engine(url: str, *, timeout_s: float = 30) -> AsyncEngine:
    """An engine for ``url``; for an SQLite file, its folder is made if missing."""
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": timeout_s}, **JSON_CODEC)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # One prepared statement per INSERT, run by the driver's executemany: a multi-row INSERT
    # would be rendered and prepared anew for every batch size.
    return create_async_engine(url, pool_pre_ping=True, use_insertmanyvalues=False, **JSON_CODEC)


def sync_sqlite_engine(url: str, *, timeout_s: float = 30) -> Engine:
    """The same SQLite database through the synchronous driver (the store's writer thread)."""
    engine = create_engine(
        make_url(url).set(drivername="sqlite"), connect_args={"timeout": timeout_s}, **JSON_CODEC
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Run the migrations forward to ``revision`` (the newest by default)."""

    def upgrade(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), revision)

    async with engine.begin() as connection:
        await connection.run_sync(upgrade)


async def current_revision(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(read)
