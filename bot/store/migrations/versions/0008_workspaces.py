"""Per-workspace rows: enterprise_id/team_id on every per-workspace table, keys per workspace.

Existing rows get '' for both (not yet assigned): the first start in single-workspace mode
asks Slack (auth.test) whose token it has and assigns them to that workspace
(bot.core.workspaces.adopt). A migration cannot call Slack reliably, so it does not try.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> (old unique constraint, its columns after the workspace columns)
KEYED = {
    "subscriptions": ("uq_subscriptions_channel_id", ["channel_id"]),
    "deliveries": ("uq_deliveries_channel_id", ["channel_id", "issue_id"]),
    "delivery_messages": ("uq_delivery_messages_channel_id", ["channel_id", "ts"]),
    "saves": ("uq_saves_user_id", ["user_id", "article_id"]),
}
WORKSPACE = ["enterprise_id", "team_id"]


def _workspace_columns() -> list[sa.Column[str]]:
    return [
        sa.Column(name, sa.String(length=32), nullable=False, server_default="")
        for name in WORKSPACE
    ]


def upgrade() -> None:
    """Add the workspace columns and per-workspace keys; create workspaces and their admins."""
    for table, (old, columns) in KEYED.items():
        with op.batch_alter_table(table) as batch:
            for column in _workspace_columns():
                batch.add_column(column)
            batch.drop_constraint(old, type_="unique")
            batch.create_unique_constraint(f"uq_{table}_enterprise_id", [*WORKSPACE, *columns])
    _rekey_processed_events()
    op.create_table(
        "workspaces",
        *_workspace_columns(),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("installer_id", sa.String(length=32), nullable=True),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(*WORKSPACE, name="pk_workspaces"),
    )
    op.create_table(
        "workspace_admins",
        *_workspace_columns(),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("added_by", sa.String(length=32), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(*WORKSPACE, "user_id", name="pk_workspace_admins"),
    )


def _rekey_processed_events() -> None:
    """processed_events gets (enterprise_id, team_id, event_id) as its key, rows copied."""
    op.drop_index("ix_processed_events_received_at", table_name="processed_events")
    _set_aside("processed_events", "processed_events_0007")
    op.create_table(
        "processed_events",
        *_workspace_columns(),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(*WORKSPACE, "event_id", name="pk_processed_events"),
    )
    op.execute(
        "INSERT INTO processed_events (event_id, received_at)"
        " SELECT event_id, received_at FROM processed_events_0007"
    )
    op.drop_table("processed_events_0007")
    op.create_index("ix_processed_events_received_at", "processed_events", ["received_at"])


def _set_aside(table: str, new_name: str) -> None:
    """Rename a table (and, on PostgreSQL, its primary key, whose name is an index's)."""
    op.rename_table(table, new_name)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {new_name} RENAME CONSTRAINT pk_{table} TO pk_{new_name}")


def downgrade() -> None:
    """Back to one workspace: only unassigned rows and the first workspace's rows can be kept."""
    op.drop_table("workspace_admins")
    op.drop_table("workspaces")
    keep = (
        "(enterprise_id, team_id) = (SELECT enterprise_id, team_id FROM {t}"
        " ORDER BY enterprise_id, team_id LIMIT 1)"
    )
    op.drop_index("ix_processed_events_received_at", table_name="processed_events")
    _set_aside("processed_events", "processed_events_0008")
    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_processed_events"),
    )
    op.execute(
        "INSERT INTO processed_events (event_id, received_at)"
        " SELECT DISTINCT event_id, MAX(received_at) FROM processed_events_0008 GROUP BY event_id"
    )
    op.drop_table("processed_events_0008")
    op.create_index("ix_processed_events_received_at", "processed_events", ["received_at"])
    for table in ("delivery_messages", "saves", "subscriptions", "deliveries"):
        # Rows of other workspaces would break the single-workspace keys.
        op.execute(f"DELETE FROM {table} WHERE NOT {keep.format(t=table)}")  # noqa: S608
    for table, (_, columns) in reversed(KEYED.items()):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"uq_{table}_enterprise_id", type_="unique")
            batch.create_unique_constraint(f"uq_{table}_{columns[0]}", columns)
            for name in reversed(WORKSPACE):
                batch.drop_column(name)
