"""Delivery origin: the worker sends only scheduled deliveries; `post` finishes its own.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add deliveries.origin ('schedule' or 'manual'); existing rows count as scheduled."""
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("origin", sa.String(length=16), nullable=False, server_default="schedule")
        )


def downgrade() -> None:
    """Drop deliveries.origin."""
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("origin")
