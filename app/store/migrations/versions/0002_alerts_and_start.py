"""The call's own start time (for listing by time) and every alert a call raised.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("started_ms", sa.BigInteger, nullable=True))
    op.execute("UPDATE calls SET started_ms = created_ms")
    with op.batch_alter_table("calls") as batch:
        batch.alter_column("started_ms", existing_type=sa.BigInteger, nullable=False)
        batch.create_index("ix_calls_started_ms", ["started_ms", "call_id"])
    op.create_table(
        "alerts",
        sa.Column(
            "call_id",
            sa.String(128),
            sa.ForeignKey("calls.call_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("alert_id", sa.String(32), primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
    )
    op.create_index("ix_alerts_rule", "alerts", ["rule"])


def downgrade() -> None:
    op.drop_index("ix_alerts_rule", "alerts")
    op.drop_table("alerts")
    with op.batch_alter_table("calls") as batch:
        batch.drop_index("ix_calls_started_ms")
        batch.drop_column("started_ms")
