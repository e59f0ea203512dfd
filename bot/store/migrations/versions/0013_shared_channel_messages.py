"""An index to find a posted message by channel and ts in any workspace (Slack Connect reactions).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Index delivery_messages (channel_id, ts)."""
    op.create_index("ix_delivery_messages_channel_ts", "delivery_messages", ["channel_id", "ts"])


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_delivery_messages_channel_ts", table_name="delivery_messages")
