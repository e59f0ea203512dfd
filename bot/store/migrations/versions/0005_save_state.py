"""Saves keep the newest reaction event's time and a removed flag; event ids of any length.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add saves.removed / saves.event_us, widen processed_events.event_id, index its age."""
    with op.batch_alter_table("saves") as batch:
        batch.add_column(
            sa.Column("removed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        # Microseconds of the Slack event_ts that set this state (NULL: saved before 0005).
        batch.add_column(sa.Column("event_us", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("processed_events") as batch:
        batch.alter_column(
            "event_id", existing_type=sa.String(64), type_=sa.Text(), existing_nullable=False
        )
    op.create_index(
        "ix_processed_events_received_at", "processed_events", ["received_at"], unique=False
    )


def downgrade() -> None:
    """Back to 0004 (tombstones of removed saves are dropped)."""
    op.drop_index("ix_processed_events_received_at", table_name="processed_events")
    op.execute(sa.text("DELETE FROM saves WHERE removed"))
    with op.batch_alter_table("processed_events") as batch:
        batch.alter_column(
            "event_id", existing_type=sa.Text(), type_=sa.String(64), existing_nullable=False
        )
    with op.batch_alter_table("saves") as batch:
        batch.drop_column("event_us")
        batch.drop_column("removed")
