"""Calls, the inputs that rebuild them, and the events they published.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("call_id", sa.String(128), primary_key=True),
        sa.Column("tenant", sa.String(128), nullable=True),
        sa.Column("token", sa.String(64), nullable=False, unique=True),
        sa.Column("script_id", sa.String(64), nullable=False),
        sa.Column("script_version", sa.Integer, nullable=False),
        sa.Column("agent_id", sa.String(128), nullable=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("call_type", sa.String(16), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("alerts", sa.Integer, nullable=False),
        sa.Column("ended", sa.Boolean, nullable=False),
        sa.Column("setup", sa.JSON, nullable=False),
        sa.Column("snapshot", sa.LargeBinary, nullable=True),
        sa.Column("report", sa.LargeBinary, nullable=True),
    )
    op.create_index("ix_calls_tenant", "calls", ["tenant"])
    op.create_index("ix_calls_agent_id", "calls", ["agent_id"])
    op.create_index("ix_calls_created_ms", "calls", ["created_ms"])
    op.create_index("ix_calls_ended", "calls", ["ended"])
    op.create_table(
        "call_inputs",
        sa.Column(
            "call_id",
            sa.String(128),
            sa.ForeignKey("calls.call_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("n", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("body", sa.JSON, nullable=True),
        sa.Column("wall_ms", sa.BigInteger, nullable=False),
        sa.Column("client_seq", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "call_events",
        sa.Column(
            "call_id",
            sa.String(128),
            sa.ForeignKey("calls.call_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("call_events")
    op.drop_table("call_inputs")
    op.drop_index("ix_calls_ended", "calls")
    op.drop_index("ix_calls_created_ms", "calls")
    op.drop_index("ix_calls_agent_id", "calls")
    op.drop_index("ix_calls_tenant", "calls")
    op.drop_table("calls")
