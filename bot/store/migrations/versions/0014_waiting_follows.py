"""Waiting company follows: followed.name, the name followed before any article of it arrived.

A company followed before the archive holds it has no company id yet; its key is the name's
lookup key (`name:` + company key) and `name` what the person typed, resolved as
/digest company resolves names once articles arrive.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add followed.name (NULL for topics and for companies already in the archive)."""
    with op.batch_alter_table("followed") as batch:
        batch.add_column(sa.Column("name", sa.String(length=200), nullable=True))


def downgrade() -> None:
    """Drop followed.name; follows still waiting for a first article cannot be kept without it."""
    waiting = "SELECT id FROM followed WHERE kind = 'company' AND company_id IS NULL"
    op.execute(f"DELETE FROM follows WHERE followed_id IN ({waiting})")  # noqa: S608  constant
    op.execute("DELETE FROM followed WHERE kind = 'company' AND company_id IS NULL")
    with op.batch_alter_table("followed") as batch:
        batch.drop_column("name")
