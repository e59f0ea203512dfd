"""Publisher names stated unambiguously by ingested issues (the parser's knowledge).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create stated_publishers."""
    op.create_table(
        "stated_publishers",
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("from_sources", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("name", "from_sources", name=op.f("pk_stated_publishers")),
    )


def downgrade() -> None:
    """Drop stated_publishers."""
    op.drop_table("stated_publishers")
