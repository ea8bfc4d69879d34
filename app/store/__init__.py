"""The durable store: SQLAlchemy 2 (async) over SQLite (embedded default, a file under
``./data/``) or PostgreSQL (``HUASHU_DATABASE_URL=postgresql+asyncpg://…``), migrated by Alembic.

- ``models``: the tables; ``database``: engines, SQLite's pragmas, migrations at start-up;
- ``writer``: the one background task that group-commits what live calls write (their inputs,
  events and listing), so the engine's output never waits on the database;
- ``repository``: :class:`app.calls.repository.CallRepository` on the database.
"""
