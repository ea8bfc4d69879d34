"""A long call's transcript lines that left memory: the engine keeps the last
``HUASHU_TRANSCRIPT_WINDOW`` lines of a live call; older ones wait here, keyed by the call and
their number, for the call's report (and go with the call, or once its report is stored).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_lines",
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("speaker", sa.String(16), nullable=False),
        sa.Column("segment", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("start_ms", sa.BigInteger, nullable=True),
        sa.Column("end_ms", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("tenant", "call_id", "n", name="pk_call_lines"),
        sa.ForeignKeyConstraint(
            ["tenant", "call_id"],
            ["calls.tenant", "calls.call_id"],
            ondelete="CASCADE",
            name="fk_call_lines_call",
        ),
    )


def downgrade() -> None:
    op.drop_table("call_lines")
