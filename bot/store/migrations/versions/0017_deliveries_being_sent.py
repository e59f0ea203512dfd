"""An index to find the deliveries being sent, and by whom, in one workspace.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Index deliveries (state, enterprise_id, team_id)."""
    op.create_index(
        "ix_deliveries_state_workspace", "deliveries", ["state", "enterprise_id", "team_id"]
    )


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_deliveries_state_workspace", table_name="deliveries")
