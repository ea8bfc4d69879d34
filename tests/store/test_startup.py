"""The start-up lock (``app.store.startup``) on each real database: one holder at a time, let go
when its holder leaves, fails, gives up waiting, or dies. Each engine stands for a process of its
own: SQLite's lock is a lock file's ``flock``, which two descriptors of one process contend for
like two processes; PostgreSQL's is a session's, and each engine has its own sessions."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.scripts.loader import load_library
from app.scripts.service import ScriptLibrary
from app.store.database import is_sqlite, make_engine, migrate
from app.store.documents import SqlDocumentRepository
from app.store.startup import startup_lock

ROOT = Path(__file__).resolve().parents[2]
#: Long enough for a waiter that was wrongly let in to have got in (it polls every 50 ms).
SETTLE_S = 0.5
#: A holder that is let go of is followed within this long.
FOLLOW_S = 10.0
#: Three migrations and seeds in turn, on a busy machine.
TOGETHER_S = 90.0


@asynccontextmanager
async def engines(url: str, count: int) -> AsyncIterator[list[AsyncEngine]]:
    made = [make_engine(url) for _ in range(count)]
    try:
        yield made
    finally:
        for engine in made:
            await engine.dispose()


async def hold(engine: AsyncEngine, entered: asyncio.Event, leave: asyncio.Event) -> None:
    async with startup_lock(engine):
        entered.set()
        await leave.wait()


def test_a_second_holder_waits_for_the_first(database_url: str) -> None:
    async def run() -> None:
        async with engines(database_url, 2) as (one, two):
            first_in, first_out = asyncio.Event(), asyncio.Event()
            second_in, second_out = asyncio.Event(), asyncio.Event()
            first = asyncio.create_task(hold(one, first_in, first_out))
            await asyncio.wait_for(first_in.wait(), FOLLOW_S)
            second = asyncio.create_task(hold(two, second_in, second_out))
            await asyncio.sleep(SETTLE_S)
            assert not second_in.is_set()
            first_out.set()
            await asyncio.wait_for(second_in.wait(), FOLLOW_S)
            second_out.set()
            await asyncio.gather(first, second)

    asyncio.run(run())


def test_a_holder_that_fails_lets_go(database_url: str) -> None:
    async def run() -> None:
        async with engines(database_url, 2) as (one, two):
            with pytest.raises(RuntimeError, match="migration failed"):
                async with startup_lock(one):
                    raise RuntimeError("migration failed")
            async with asyncio.timeout(FOLLOW_S), startup_lock(two):
                pass

    asyncio.run(run())


def test_a_waiter_that_gives_up_holds_nothing(database_url: str) -> None:
    async def run() -> None:
        async with engines(database_url, 3) as (one, two, three):
            first_in, first_out = asyncio.Event(), asyncio.Event()
            first = asyncio.create_task(hold(one, first_in, first_out))
            await asyncio.wait_for(first_in.wait(), FOLLOW_S)
            waiter = asyncio.create_task(hold(two, asyncio.Event(), asyncio.Event()))
            await asyncio.sleep(SETTLE_S)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
            first_out.set()
            await first
            async with asyncio.timeout(FOLLOW_S), startup_lock(three):
                pass

    asyncio.run(run())


#: A process that takes the lock, says so, and keeps it until it is killed.
HOLDER = """
import asyncio, sys
from app.store.database import make_engine
from app.store.startup import startup_lock

async def main():
    async with startup_lock(make_engine(sys.argv[1])):
        print("held", flush=True)
        await asyncio.sleep(3600)

asyncio.run(main())
"""


def test_a_holder_that_is_killed_lets_go(database_url: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, database_url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "held\n"

        async def run() -> None:
            async with engines(database_url, 1) as (engine,):
                taken = asyncio.Event()
                waiter = asyncio.create_task(hold(engine, taken, asyncio.Event()))
                await asyncio.sleep(SETTLE_S)
                assert not taken.is_set()
                os.kill(holder.pid, signal.SIGKILL)
                await asyncio.wait_for(taken.wait(), FOLLOW_S)
                waiter.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await waiter

        asyncio.run(run())
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()


def test_sqlites_lock_is_a_file_beside_the_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'huashu.db'}"
    assert is_sqlite(url)

    async def run() -> None:
        async with engines(url, 1) as (engine,), startup_lock(engine):
            assert (tmp_path / "nested" / "huashu.db.lock").is_file()

    asyncio.run(run())


@pytest.mark.parametrize("url", [None, "sqlite+aiosqlite:///:memory:", "sqlite+aiosqlite://"])
def test_a_database_of_one_process_takes_no_lock(
    url: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def run() -> None:
        engine = None if url is None else make_engine(url)
        try:
            # Nested: a lock taken would make the inner one wait for ever.
            async with asyncio.timeout(FOLLOW_S), startup_lock(engine), startup_lock(engine):
                pass
        finally:
            if engine is not None:
                await engine.dispose()

    monkeypatch.chdir(tmp_path)  # a lock file, if one were made, would land here
    asyncio.run(run())
    assert list(tmp_path.iterdir()) == []


def test_starts_together_migrate_and_seed_once(database_url: str) -> None:
    """What the lifespan does under the lock, by three "processes" at once: each migrates and
    seeds; the schema is made once and each document stored once."""
    files = load_library(ROOT / "scripts_data")

    async def start(engine: AsyncEngine) -> int:
        async with startup_lock(engine):
            await migrate(engine)
            return await ScriptLibrary(SqlDocumentRepository(engine)).seed(files)

    async def run() -> tuple[list[int], dict[tuple[str, str], int]]:
        async with engines(database_url, 3) as made:
            # Unguarded, PostgreSQL's migrations can wait on each other for ever: fail instead.
            async with asyncio.timeout(TOGETHER_S):
                seeded = await asyncio.gather(*(start(engine) for engine in made))
            async with made[0].connect() as connection:
                rows = await connection.execute(
                    text("SELECT kind, doc_id, count(*) FROM documents GROUP BY 1, 2")
                )
                return seeded, {(kind, doc_id): n for kind, doc_id, n in rows}

    seeded, versions = asyncio.run(run())
    expected = {("script", i) for i in files.scripts} | {("lexicon", i) for i in files.lexicons}
    assert sorted(seeded) == [0, 0, len(expected)]
    assert versions == dict.fromkeys(expected, 1)
