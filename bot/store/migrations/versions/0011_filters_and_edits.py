"""Channel filters, per-delivery plans and message fingerprints for corrections in place.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add channel_filters, deliveries.plan/synced_hash, delivery_messages.fingerprint/editing."""
    op.create_table(
        "channel_filters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), server_default="", nullable=False),
        sa.Column("team_id", sa.String(length=32), server_default="", nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("value", sa.String(length=600), nullable=False),
        sa.Column("key", sa.String(length=600), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_filters")),
        sa.UniqueConstraint(
            "enterprise_id",
            "team_id",
            "channel_id",
            "mode",
            "kind",
            "key",
            name=op.f("uq_channel_filters_enterprise_id"),
        ),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("plan", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("synced_hash", sa.String(length=64), nullable=True))
    with op.batch_alter_table("delivery_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fingerprint", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("editing", sa.String(length=64), nullable=True))
    # Threads posted before this revision count as up to date with their issue as it is now:
    # only later corrections edit them.
    op.execute(
        "UPDATE deliveries SET synced_hash = "
        "(SELECT content_hash FROM issues WHERE issues.id = deliveries.issue_id) "
        "WHERE state = 'posted'"
    )


def downgrade() -> None:
    """Drop what upgrade added."""
    with op.batch_alter_table("delivery_messages", schema=None) as batch_op:
        batch_op.drop_column("editing")
        batch_op.drop_column("fingerprint")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("synced_hash")
        batch_op.drop_column("plan")
    op.drop_table("channel_filters")
