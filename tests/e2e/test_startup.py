"""Several ``huashu serve`` processes started at the same moment on one new database: every one
starts, the schema is migrated once and the script library is stored once (``app.store.startup``
makes them take turns)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from app.scripts.loader import load_library
from app.store.database import make_engine
from tests.databases import postgres_database
from tests.e2e.conftest import ROOT, START_TIMEOUT_S, Server

INSTANCES = 3


@pytest.fixture(params=["sqlite", "postgresql"])
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    else:
        yield from postgres_database()


async def stored(url: str) -> tuple[dict[tuple[str, str, str], int], list[str]]:
    """Versions stored of each document, and the schema's revision rows."""
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT kind, tenant, doc_id, count(*) FROM documents GROUP BY 1, 2, 3")
            )
            versions = {(kind, tenant, doc_id): n for kind, tenant, doc_id, n in rows}
            revisions = list(
                (await connection.execute(text("SELECT * FROM alembic_version"))).scalars()
            )
    finally:
        await engine.dispose()
    return versions, revisions


def test_instances_started_together_migrate_and_seed_once(
    new_database: str, tmp_path: Path
) -> None:
    servers = [
        Server(tmp_path / f"server-{n}.log", env={"HUASHU_DATABASE_URL": new_database})
        for n in range(INSTANCES)
    ]
    try:
        for server in servers:
            # Started together on two cores, they import, migrate and warm up in turn.
            server.wait_ready(timeout=START_TIMEOUT_S * INSTANCES)
            assert httpx.get(f"{server.base}/healthz", timeout=5).status_code == 200
    finally:
        for server in servers:
            server.stop()
    versions, revisions = asyncio.run(stored(new_database))

    library = load_library(ROOT / "scripts_data")
    expected = {("script", "", doc_id) for doc_id in library.scripts}
    expected |= {("lexicon", "", doc_id) for doc_id in library.lexicons}
    assert versions == dict.fromkeys(expected, 1)
    assert len(revisions) == 1
    # Each process started on the library as the first one stored it, and said so only once.
    seeded = [server.log for server in servers if "scripts and lexicons from" in server.log]
    assert len(seeded) == 1, [server.log for server in servers]
    # Each compiled the shared scripts before it said it was ready (not at its first call).
    warmed = f"{len(library.scripts)} scripts compiled in"
    assert all(warmed in server.log for server in servers), [server.log for server in servers]
