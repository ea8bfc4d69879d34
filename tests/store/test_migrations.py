"""Alembic migrations run forward on an empty database and on one made by each earlier
migration, and leave the schema the models describe (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.database import alembic_config, current_revision, make_engine, migrate
from app.store.models import Base

REVISIONS = [
    script.revision
    for script in reversed(list(ScriptDirectory.from_config(alembic_config()).walk_revisions()))
]


async def migrate_down(engine: AsyncEngine, revision: str) -> None:
    def downgrade(connection: Connection) -> None:
        command.downgrade(alembic_config(connection), revision)

    async with engine.begin() as connection:
        await connection.run_sync(downgrade)


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


#: Rows as revision 0003 keeps them: an open service's call (tenant NULL) and a tenant's, each
#: with an input, an event and an alert.
ROWS_0003 = [
    "INSERT INTO calls (call_id, tenant, token, script_id, script_version, agent_id, "
    "created_ms, started_ms, call_type, phase, alerts, ended, setup) VALUES "
    "('c1', NULL, 't1', 's', 1, NULL, 1, 1, 'consult', 'answering', 1, FALSE, '{}'), "
    "('c2', 'a', 't2', 's', 1, 'X', 2, 2, 'consult', 'ended', 1, TRUE, '{}')",
    "INSERT INTO call_inputs (call_id, n, kind, body, wall_ms, client_seq) VALUES "
    "('c1', 1, 'tick', NULL, 5, NULL), ('c2', 1, 'tick', NULL, 6, 7)",
    "INSERT INTO call_events (call_id, seq, type, body) VALUES "
    "('c1', 1, 'alert', '{}'), ('c2', 1, 'alert', '{}')",
    "INSERT INTO alerts (call_id, alert_id, seq, rule, category, severity, state) VALUES "
    "('c1', 'al-1', 1, 'forbidden.shirk', 'forbidden', 'critical', 'confirmed'), "
    "('c2', 'al-1', 1, 'forbidden.shirk', 'forbidden', 'critical', 'provisional')",
]


def _rows(connection: Connection, table: str) -> list[tuple[object, ...]]:
    columns = "tenant, call_id" if table == "calls" else "call_id"
    if table != "calls":
        has_tenant = "tenant" in {c["name"] for c in sa.inspect(connection).get_columns(table)}
        columns = "tenant, call_id" if has_tenant else columns
    return sorted(
        tuple(row) for row in connection.execute(sa.text(f"SELECT {columns} FROM {table}"))
    )


def test_0004_keys_calls_by_tenant_and_keeps_every_row(database_url: str) -> None:
    """Revision 0004 gives every call and row its tenant ("" for the open service's), lets two
    tenants have calls of the same id, deletes a call's rows with it and not another tenant's,
    and goes back down while no id is shared."""
    tables = ("calls", "call_inputs", "call_events", "alerts")

    async def main() -> dict[str, object]:
        seen: dict[str, object] = {}
        engine = make_engine(database_url)
        try:
            await migrate(engine, "0003")
            async with engine.begin() as connection:
                for statement in ROWS_0003:
                    await connection.execute(sa.text(statement))
            await migrate(engine, "0004")
            async with engine.begin() as connection:
                seen["up"] = {t: await connection.run_sync(_rows, t) for t in tables}
                await connection.execute(
                    sa.text(
                        "INSERT INTO calls (tenant, call_id, token, script_id, script_version, "
                        "created_ms, started_ms, call_type, phase, alerts, ended, setup) VALUES "
                        "('b', 'c2', 't3', 's', 1, 3, 3, 'consult', 'ringing', 0, FALSE, '{}')"
                    )
                )
                await connection.execute(
                    sa.text(
                        "INSERT INTO call_events (tenant, call_id, seq, type, body) "
                        "VALUES ('b', 'c2', 1, 'phase', '{}')"
                    )
                )
            async with engine.begin() as connection:
                await connection.execute(
                    sa.text("DELETE FROM calls WHERE tenant = 'a' AND call_id = 'c2'")
                )
                seen["deleted"] = {t: await connection.run_sync(_rows, t) for t in tables}
                await connection.execute(sa.text("DELETE FROM calls WHERE tenant = 'b'"))
            await migrate_down(engine, "0003")
            async with engine.connect() as connection:
                seen["down"] = {t: await connection.run_sync(_rows, t) for t in tables}
        finally:
            await engine.dispose()
        return seen

    seen = asyncio.run(main())
    assert seen["up"] == {
        "calls": [("", "c1"), ("a", "c2")],
        "call_inputs": [("", "c1"), ("a", "c2")],
        "call_events": [("", "c1"), ("a", "c2")],
        "alerts": [("", "c1"), ("a", "c2")],
    }
    # Tenant b's c2 lives beside a's; deleting a's took a's rows only.
    assert seen["deleted"] == {
        "calls": [("", "c1"), ("b", "c2")],
        "call_inputs": [("", "c1")],
        "call_events": [("", "c1"), ("b", "c2")],
        "alerts": [("", "c1")],
    }
    assert seen["down"] == {
        "calls": [(None, "c1")],
        "call_inputs": [("c1",)],
        "call_events": [("c1",)],
        "alerts": [("c1",)],
    }


def test_0005_adds_the_lines_that_left_memory_deleted_with_their_call(database_url: str) -> None:
    """Revision 0005 adds ``call_lines`` to a database revision 0004 made (its calls kept); a
    call's lines go with it and not another tenant's; down again, the table goes."""

    async def main() -> dict[str, object]:
        seen: dict[str, object] = {}
        engine = make_engine(database_url)
        try:
            await migrate(engine, "0004")
            async with engine.begin() as connection:
                await connection.execute(
                    sa.text(
                        "INSERT INTO calls (tenant, call_id, token, script_id, script_version, "
                        "created_ms, started_ms, call_type, phase, alerts, ended, setup) VALUES "
                        "('a', 'c1', 't1', 's', 1, 1, 1, 'consult', 'answering', 0, FALSE, '{}'), "
                        "('b', 'c1', 't2', 's', 1, 1, 1, 'consult', 'answering', 0, FALSE, '{}')"
                    )
                )
            await migrate(engine, "0005")
            async with engine.begin() as connection:
                await connection.execute(
                    sa.text(
                        "INSERT INTO call_lines (tenant, call_id, n, speaker, segment, text, "
                        "start_ms, end_ms) VALUES ('a', 'c1', 1, 'agent', 'a-1', '您好', 0, 9), "
                        "('a', 'c1', 2, 'customer', 'c-1', '你好', NULL, NULL), "
                        "('b', 'c1', 1, 'agent', 'a-1', '您好', 0, 9)"
                    )
                )
            async with engine.begin() as connection:
                seen["calls"] = await connection.run_sync(_rows, "calls")
                seen["up"] = await connection.run_sync(_rows, "call_lines")
                await connection.execute(
                    sa.text("DELETE FROM calls WHERE tenant = 'a' AND call_id = 'c1'")
                )
                seen["deleted"] = await connection.run_sync(_rows, "call_lines")
            await migrate_down(engine, "0004")
            async with engine.connect() as connection:
                seen["down"] = await connection.run_sync(
                    lambda sync: sa.inspect(sync).get_table_names()
                )
        finally:
            await engine.dispose()
        return seen

    seen = asyncio.run(main())
    assert seen["calls"] == [("a", "c1"), ("b", "c1")]
    assert seen["up"] == [("a", "c1"), ("a", "c1"), ("b", "c1")]
    assert seen["deleted"] == [("b", "c1")]
    assert "call_lines" not in seen["down"]  # type: ignore[operator]
