"""Roll-up schedules: a weekly or monthly roll-up per channel, apart from its subscription;
saves indexed by article, so a roll-up counts a period's saves without reading them all.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add rollup_schedules (one row per workspace and channel) and ix_saves_workspace_article."""
    op.create_table(
        "rollup_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), server_default="", nullable=False),
        sa.Column("team_id", sa.String(length=32), server_default="", nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("minute", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("set_by", sa.String(length=32), nullable=True),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollup_schedules")),
        sa.UniqueConstraint(
            "enterprise_id", "team_id", "channel_id", name=op.f("uq_rollup_schedules_enterprise_id")
        ),
    )
    # A workspace's saves of a period's articles, looked up per article: on a ten-year archive
    # with 25,000 saves the most-saved query of a week took 57 ms on SQLite reading every save
    # of the workspace, 0.1 ms through this index.
    op.create_index(
        "ix_saves_workspace_article", "saves", ["enterprise_id", "team_id", "article_id"]
    )


def downgrade() -> None:
    """Drop rollup_schedules (the roll-up settings are lost) and ix_saves_workspace_article."""
    op.drop_index("ix_saves_workspace_article", table_name="saves")
    op.drop_table("rollup_schedules")
