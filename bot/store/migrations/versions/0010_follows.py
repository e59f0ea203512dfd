"""Follows: the things followed, who follows them, and the DM ledger that tells them once.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _workspace() -> list[sa.Column[str]]:
    return [
        sa.Column("enterprise_id", sa.String(length=32), server_default="", nullable=False),
        sa.Column("team_id", sa.String(length=32), server_default="", nullable=False),
    ]


def _when(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create the follow tables (followed things, follows, followers, matches, the DM ledger)."""
    op.create_table(
        "followed",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_followed_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followed")),
        sa.UniqueConstraint("kind", "key", name=op.f("uq_followed_kind")),
    )
    op.create_index("ix_followed_company", "followed", ["company_id"])
    op.create_table(
        "follows",
        sa.Column("id", sa.Integer(), nullable=False),
        *_workspace(),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("followed_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        _when("created_at"),
        sa.ForeignKeyConstraint(
            ["followed_id"],
            ["followed.id"],
            name=op.f("fk_follows_followed_id_followed"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follows")),
        sa.UniqueConstraint(
            "enterprise_id",
            "team_id",
            "user_id",
            "kind",
            "key",
            name=op.f("uq_follows_enterprise_id"),
        ),
    )
    op.create_index(
        "ix_follows_followed",
        "follows",
        ["followed_id", "created_at", "enterprise_id", "team_id", "user_id"],
    )
    op.create_table(
        "followers",
        sa.Column("id", sa.Integer(), nullable=False),
        *_workspace(),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("dm_channel", sa.String(length=32), nullable=True),
        _when("stopped_at", nullable=True),
        sa.Column("stop_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followers")),
        sa.UniqueConstraint(
            "enterprise_id", "team_id", "user_id", name=op.f("uq_followers_enterprise_id")
        ),
    )
    op.create_table(
        "follow_matched",
        sa.Column("article_id", sa.Integer(), nullable=False),
        _when("matched_at"),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_follow_matched_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_follow_matched")),
    )
    op.create_table(
        "follow_matches",
        sa.Column("run", sa.BigInteger(), nullable=False),
        sa.Column("followed_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        _when("arrived"),
        sa.ForeignKeyConstraint(
            ["followed_id"],
            ["followed.id"],
            name=op.f("fk_follow_matches_followed_id_followed"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_follow_matches_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["issue_id"],
            ["issues.id"],
            name=op.f("fk_follow_matches_issue_id_issues"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run", "followed_id", "article_id", name=op.f("pk_follow_matches")),
    )
    op.create_table(
        "follow_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        *_workspace(),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("run", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        _when("lease_until", nullable=True),
        sa.Column("inflight", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _when("created_at"),
        _when("sent_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["issue_id"],
            ["issues.id"],
            name=op.f("fk_follow_messages_issue_id_issues"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_messages")),
        sa.UniqueConstraint(
            "enterprise_id",
            "team_id",
            "user_id",
            "issue_id",
            "run",
            name=op.f("uq_follow_messages_enterprise_id"),
        ),
    )
    op.create_index("ix_follow_messages_state", "follow_messages", ["state", "id"])
    op.create_table(
        "follow_items",
        sa.Column("id", sa.Integer(), nullable=False),
        *_workspace(),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("run", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_follow_items_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["issue_id"],
            ["issues.id"],
            name=op.f("fk_follow_items_issue_id_issues"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_items")),
        sa.UniqueConstraint(
            "enterprise_id",
            "team_id",
            "user_id",
            "article_id",
            name=op.f("uq_follow_items_enterprise_id"),
        ),
    )
    op.create_index("ix_follow_items_run", "follow_items", ["run"])


def downgrade() -> None:
    """Drop what upgrade added."""
    op.drop_table("follow_items")
    op.drop_table("follow_messages")
    op.drop_table("follow_matches")
    op.drop_table("follow_matched")
    op.drop_table("followers")
    op.drop_table("follows")
    op.drop_table("followed")
