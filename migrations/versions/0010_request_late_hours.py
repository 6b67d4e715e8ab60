"""request late hours: the assembler notes hours of request rollups it changed after they ended

Compaction folds closed hours of request rollups into ``hourly_request_rollups``
once, and again only for the hours noted here, instead of comparing every minute
row with its hourly row on every pass.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_late_hours",
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False, server_default="1"),
        sa.PrimaryKeyConstraint("hour", name=op.f("pk_request_late_hours")),
    )


def downgrade() -> None:
    op.drop_table("request_late_hours")
