"""late hours: the collector notes hours that receive attempts after they ended

Compaction folds each closed hour of minute rollups into an hourly row once and
re-checks only the last ``compaction_recheck_hours``. Attempts that a device held
back for longer (offline for days, a backfill) would stay out of the hourly rows;
the collector now notes their hours here and compaction rewrites them.

Revision ID: 0005
Revises: 0004
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
        "late_hours",
        sa.Column("hour", sa.BigInteger(), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False, server_default="1"),
    )


def downgrade() -> None:
    op.drop_table("late_hours")
