"""Company attribution the operator can correct: corrections, taught names, split confidence.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add articles.confidence, publisher_corrections and taught_names."""
    # A plain ADD COLUMN (no table rebuild): SQLite's FTS triggers on articles stay in place.
    op.add_column(
        "articles",
        sa.Column("confidence", sa.Float(), server_default=sa.text("1.0"), nullable=False),
    )
    op.create_table(
        "publisher_corrections",
        sa.Column("wrong_key", sa.String(length=200), nullable=False),
        sa.Column("wrong", sa.String(length=200), nullable=False),
        sa.Column("right", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("wrong_key", name=op.f("pk_publisher_corrections")),
    )
    op.create_table(
        "taught_names",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_taught_names_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_taught_names")),
    )


def downgrade() -> None:
    """Drop what upgrade added."""
    op.drop_table("taught_names")
    op.drop_table("publisher_corrections")
    op.drop_column("articles", "confidence")  # SQLite 3.35+ drops a column in place
