"""Call ids are each tenant's own: a call's key is (tenant, call id), in every table of calls.

Until now a call id was unique across the store, so a tenant creating a call of an id another
tenant had used was told ``call_exists`` — which told it that the other tenant's call existed.
The calls, their inputs, events and alerts get the tenant in their key; the open service's calls
(no API keys, tenant NULL) get the tenant ``""``, as a key column cannot be NULL.

A primary key cannot be altered in place on SQLite, so each table is made anew beside the old
one, filled from it, and takes its name once the old ones are dropped (children first: dropping
a parent first would cascade into them). The same steps run on PostgreSQL. Constraints are
named, so that a new table's names never meet the old one's while both exist.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: Where the tables are made before they take their names.
NEW = "_new"
#: The tables of a call's rows (each deleted with its call).
CHILDREN = ("call_inputs", "call_events", "alerts")
#: The columns of a call besides its key.
CALL_COLUMNS = [
    "token",
    "script_id",
    "script_version",
    "agent_id",
    "created_ms",
    "started_ms",
    "call_type",
    "phase",
    "alerts",
    "ended",
    "setup",
    "snapshot",
    "report",
    "pins",
]


def _calls(name: str, key: list[str], names: str) -> None:
    tenant_nullable = "tenant" not in key
    op.create_table(
        name,
        sa.Column("tenant", sa.String(128), nullable=tenant_nullable),
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("script_id", sa.String(64), nullable=False),
        sa.Column("script_version", sa.Integer, nullable=False),
        sa.Column("agent_id", sa.String(128), nullable=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("started_ms", sa.BigInteger, nullable=False),
        sa.Column("call_type", sa.String(16), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("alerts", sa.Integer, nullable=False),
        sa.Column("ended", sa.Boolean, nullable=False),
        sa.Column("setup", sa.JSON, nullable=False),
        sa.Column("snapshot", sa.LargeBinary, nullable=True),
        sa.Column("report", sa.LargeBinary, nullable=True),
        sa.Column("pins", sa.JSON, nullable=True),
        sa.PrimaryKeyConstraint(*key, name=f"pk_calls{names}"),
        sa.UniqueConstraint("token", name=f"uq_calls_token{names}"),
    )


def _own_columns(table: str) -> list[sa.Column[Any]]:
    """The columns of a call's ``table`` besides the call's key, as revision 0003 has them."""
    if table == "call_inputs":
        return [
            sa.Column("n", sa.Integer, nullable=False),
            sa.Column("kind", sa.String(8), nullable=False),
            sa.Column("body", sa.JSON, nullable=True),
            sa.Column("wall_ms", sa.BigInteger, nullable=False),
            sa.Column("client_seq", sa.BigInteger, nullable=True),
        ]
    if table == "call_events":
        return [
            sa.Column("seq", sa.Integer, nullable=False),
            sa.Column("type", sa.String(16), nullable=False),
            sa.Column("body", sa.Text, nullable=False),
        ]
    return [
        sa.Column("alert_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
    ]


def _child(table: str, name: str, key: list[str], parent: str, names: str) -> None:
    """``table``'s columns, made as ``name``, keyed by ``key`` plus its own, and deleted with
    its call in ``parent``."""
    own = _own_columns(table)
    keyed = [sa.Column(column, sa.String(128), nullable=False) for column in key]
    op.create_table(
        name,
        *keyed,
        *own,
        sa.PrimaryKeyConstraint(*key, own[0].name, name=f"pk_{table}{names}"),
        sa.ForeignKeyConstraint(
            key,
            [f"{parent}.{column}" for column in key],
            ondelete="CASCADE",
            name=f"fk_{table}_call{names}",
        ),
    )


def _rebuild(key: list[str], tenant_of: Callable[[str], str], names: str = "") -> None:
    """Every table of calls made anew keyed by ``key`` and filled from the old one
    (``tenant_of``: the new tenant column, as an SQL expression of the old one; ``names``:
    what the new constraints' names end with, so they never meet the old ones')."""
    _calls("calls" + NEW, key, names)
    columns = ", ".join(CALL_COLUMNS)
    op.execute(
        f"INSERT INTO calls{NEW} (tenant, call_id, {columns}) "
        f"SELECT {tenant_of('tenant')}, call_id, {columns} FROM calls"
    )
    for table in CHILDREN:
        _child(table, table + NEW, key, "calls" + NEW, names)
        own = [column.name for column in _own_columns(table)]
        columns = ", ".join(f"t.{column}" for column in own)
        named = ", ".join(own)
        if "tenant" in key:
            op.execute(
                f"INSERT INTO {table}{NEW} (tenant, call_id, {named}) "
                f"SELECT {tenant_of('c.tenant')}, t.call_id, {columns} "
                f"FROM {table} t JOIN calls c ON c.call_id = t.call_id"
            )
        else:
            op.execute(
                f"INSERT INTO {table}{NEW} (call_id, {named}) "
                f"SELECT t.call_id, {columns} FROM {table} t"
            )
    for table in CHILDREN:
        op.drop_table(table)
    op.drop_table("calls")
    op.rename_table("calls" + NEW, "calls")
    for table in CHILDREN:
        op.rename_table(table + NEW, table)
    op.create_index("ix_calls_agent_id", "calls", ["agent_id"])
    op.create_index("ix_calls_created_ms", "calls", ["created_ms"])
    op.create_index("ix_calls_ended", "calls", ["ended"])
    op.create_index("ix_alerts_rule", "alerts", ["rule"])


def upgrade() -> None:
    _rebuild(["tenant", "call_id"], lambda column: f"COALESCE({column}, '')")
    op.create_index("ix_calls_tenant_started_ms", "calls", ["tenant", "started_ms", "call_id"])


def downgrade() -> None:
    """Back to ids unique across tenants: fails (the key is broken) while two tenants have a
    call of the same id."""
    _rebuild(["call_id"], lambda column: f"NULLIF({column}, '')", names="_by_id")
    op.create_index("ix_calls_tenant", "calls", ["tenant"])
    op.create_index("ix_calls_started_ms", "calls", ["started_ms", "call_id"])
