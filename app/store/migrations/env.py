"""Alembic's environment: migrations run on the connection ``app.store.database.migrate`` hands
in (the service's own engine, SQLite or PostgreSQL)."""

from __future__ import annotations

from alembic import context

from app.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through app.store.database.migrate (huashu serve does)")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite alters a table by copying it: batch mode does that for later migrations.
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
