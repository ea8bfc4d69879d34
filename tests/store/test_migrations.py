"""Alembic migrations run forward on an empty database and on one made by each earlier
migration, and leave the schema the models describe (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from app.store.database import alembic_config, current_revision, make_engine, migrate
from app.store.models import Base

REVISIONS = [
    script.revision
    for script in reversed(list(ScriptDirectory.from_config(alembic_config()).walk_revisions()))
]


def differences(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


def test_every_migration_runs_forward_to_the_models_schema(database_url: str) -> None:
    async def main() -> list[tuple[str | None, list[object]]]:
        seen = []
        engine = make_engine(database_url)
        try:
            assert await current_revision(engine) is None  # empty
            for revision in REVISIONS:  # each on the database the one before it made
                await migrate(engine, revision)
                seen.append((await current_revision(engine), []))
            await migrate(engine)  # again at the head: nothing to do
            async with engine.connect() as connection:
                seen.append(
                    (await current_revision(engine), await connection.run_sync(differences))
                )
        finally:
            await engine.dispose()
        return seen

    seen = asyncio.run(main())
    assert [revision for revision, _ in seen] == [*REVISIONS, REVISIONS[-1]]
    assert seen[-1][1] == []  # the tables are what app/store/models.py says
