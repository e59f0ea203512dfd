"""Per-workspace save emoji: a nullable save_emoji on workspaces (NULL: DIGEST_SAVE_EMOJI).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add workspaces.save_emoji (existing rows keep the deployment default)."""
    with op.batch_alter_table("workspaces") as batch:
        batch.add_column(sa.Column("save_emoji", sa.String(length=100), nullable=True))


def downgrade() -> None:
    """Drop workspaces.save_emoji (every workspace back to DIGEST_SAVE_EMOJI)."""
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_column("save_emoji")
