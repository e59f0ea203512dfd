"""Roll-up deliveries: a roll-up is a `deliveries` row with no issue and the period it covers.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLLUP_KEY = "ux_deliveries_rollup"


def upgrade() -> None:
    """deliveries.issue_id nullable, deliveries.period, one roll-up per channel and period."""
    with _messages_kept(), op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("issue_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("period", sa.String(length=16), nullable=True))
    op.create_index(
        ROLLUP_KEY, "deliveries", ["enterprise_id", "team_id", "channel_id", "period"], unique=True
    )


def downgrade() -> None:
    """Drop the roll-up deliveries (their messages go with them) and the period column."""
    op.drop_index(ROLLUP_KEY, table_name="deliveries")
    rollups = "SELECT id FROM deliveries WHERE issue_id IS NULL"
    op.execute(f"DELETE FROM delivery_messages WHERE delivery_id IN ({rollups})")  # noqa: S608
    op.execute(f"DELETE FROM deliveries WHERE id IN ({rollups})")  # noqa: S608
    with _messages_kept(), op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("period")
        batch_op.alter_column("issue_id", existing_type=sa.Integer(), nullable=False)


@contextmanager
def _messages_kept() -> Iterator[None]:
    """On SQLite a batch alter copies `deliveries` into a new table and drops the old one; with
    foreign keys on (every connection of the bot) that drop deletes every row of
    delivery_messages through ON DELETE CASCADE. They are set aside and put back."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("CREATE TEMP TABLE delivery_messages_kept AS SELECT * FROM delivery_messages")
    yield
    if sqlite:
        op.execute("DELETE FROM delivery_messages")
        op.execute("INSERT INTO delivery_messages SELECT * FROM delivery_messages_kept")
        op.execute("DROP TABLE delivery_messages_kept")
