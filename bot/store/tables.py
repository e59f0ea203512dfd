"""ORM tables of the archive (SQLAlchemy 2.0 typed declarative)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from bot.clock import utc_now

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite has no timezone type)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        """Store UTC; naive datetimes are a bug, refused loudly."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(dt.UTC)
        # SQLite compares the stored text, so every value is written as naive UTC.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        """Read back as aware UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base with a stable constraint naming convention for migrations."""

    metadata = MetaData(naming_convention=NAMING)


class IssueRow(Base):
    """One dated issue."""

    __tablename__ = "issues"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    date: Mapped[dt.date] = mapped_column(Date, unique=True)
    signal: Mapped[str] = mapped_column(Text)
    patterns: Mapped[str | None] = mapped_column(Text)
    sources: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    categories: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    content_hash: Mapped[str] = mapped_column(String(64))
    ingested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)


class ArticleRow(Base):
    """One Deep Dive of an issue; its id is what saves and deliveries point at."""

    __tablename__ = "articles"
    __table_args__ = (
        Index("ix_articles_issue_position", "issue_id", "position"),
        Index("ix_articles_issue_date", "issue_date", "position"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"))
    issue_date: Mapped[dt.date] = mapped_column(Date)  # denormalised for newest-first scans
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    publisher: Mapped[str] = mapped_column(Text)  # as written, joint names with " / "
    summary: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    # How sure the parser was of where the publisher ends (0..1); 1 once the operator decided.
    confidence: Mapped[float] = mapped_column(Float, default=1.0, server_default=text("1.0"))


class ArchiveStateRow(Base):
    """One row: a version that changes whenever the archive's issues change (cache keys)."""

    __tablename__ = "archive_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


class CompanyRow(Base):
    """A company under its normalised key, with the name shown to people."""

    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class CompanyAliasRow(Base):
    """Every spelling of a company seen in issues or curated, for lookups and suggestions."""

    __tablename__ = "company_aliases"

    alias: Mapped[str] = mapped_column(String(200), primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))


class StatedPublisherRow(Base):
    """A publisher name some issue stated unambiguously (Sources list or '· X · Source').

    Only these feed the parser's knowledge: names it had to guess never reinforce themselves.
    """

    __tablename__ = "stated_publishers"

    name: Mapped[str] = mapped_column(String(300), primary_key=True)
    from_sources: Mapped[bool] = mapped_column(Boolean, primary_key=True)


class PublisherCorrectionRow(Base):
    """An operator's `companies fix WRONG RIGHT`: splits giving WRONG give RIGHT where they can."""

    __tablename__ = "publisher_corrections"

    wrong_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    wrong: Mapped[str] = mapped_column(String(200))
    right: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)


class TaughtNameRow(Base):
    """A name or alias the operator taught (`companies add`), under its lookup key."""

    __tablename__ = "taught_names"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))  # as the operator wrote it
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)


class ArticleCompanyRow(Base):
    """Which companies published an article; joint publishers link to each."""

    __tablename__ = "article_companies"
    __table_args__ = (
        Index("ix_article_companies_company_date", "company_id", "issue_date", "article_id"),
    )

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True
    )
    issue_date: Mapped[dt.date] = mapped_column(Date)
    position: Mapped[int] = mapped_column(Integer)


def _workspace_column(*, primary_key: bool = False) -> Mapped[str]:
    """enterprise_id / team_id of a per-workspace row ('' when not in Enterprise Grid)."""
    return mapped_column(String(32), default="", server_default="", primary_key=primary_key)


class InWorkspace:
    """The workspace columns of a per-workspace row (its unique keys start with them)."""

    enterprise_id: Mapped[str] = _workspace_column()
    team_id: Mapped[str] = _workspace_column()


class SaveRow(InWorkspace, Base):
    """An article a person saved (by reaction); private to that person in that workspace."""

    __tablename__ = "saves"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "team_id", "user_id", "article_id"),
        # A roll-up counts a workspace's saves of one period's articles (0015).
        Index("ix_saves_workspace_article", "enterprise_id", "team_id", "article_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), index=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    saved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
    # A removed save stays as a tombstone carrying its event time, so an older reaction_added
    # that arrives later (events are unordered) cannot bring it back.
    removed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The Slack event_ts (in microseconds) of the event that set this state; NULL before 0005.
    event_us: Mapped[int | None] = mapped_column(BigInteger)


class ProcessedEventRow(Base):
    """Slack event ids already handled, so retried deliveries have no second effect."""

    __tablename__ = "processed_events"

    enterprise_id: Mapped[str] = _workspace_column(primary_key=True)
    team_id: Mapped[str] = _workspace_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now, index=True)


class DeliveryRow(InWorkspace, Base):
    """One issue going to one channel: claimed with a lease, then posted part by part."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "team_id", "channel_id", "issue_id"),
        # One roll-up per channel and period (issue rows have no period: NULLs never clash).
        Index(
            "ux_deliveries_rollup", "enterprise_id", "team_id", "channel_id", "period", unique=True
        ),
        # Who is sending in a workspace (a worker leaves a workspace another one paces).
        Index("ix_deliveries_state_workspace", "state", "enterprise_id", "team_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    # The issue posted; NULL for a roll-up (then `period` says which).
    issue_id: Mapped[int | None] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    # "schedule" (the worker sends it) or "manual" (`bot post`; only a rerun of it finishes it).
    origin: Mapped[str] = mapped_column(String(16), default="schedule", server_default="schedule")
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    parent_ts: Mapped[str | None] = mapped_column(String(32))
    # The part being sent right now: after a crash it may or may not have reached Slack, so it
    # is looked up in the channel (by message metadata) before anything is posted again.
    inflight_part: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # --- filtered deliveries and corrections (0011) ---
    # Which deep dives this thread carries, decided once at the first send (JSON, see
    # bot/delivery/plan.py), so a filter change or a rerun never changes a half-sent thread.
    plan: Mapped[str | None] = mapped_column(Text)
    # The issue's content_hash the thread was last brought up to date with (NULL: never
    # finished); an issue whose hash differs was corrected and its thread gets edited.
    synced_hash: Mapped[str | None] = mapped_column(String(64))
    # --- roll-ups (0016) ---
    # The period a roll-up covers ("2026-W14", "2026-04"); NULL for an issue's thread.
    period: Mapped[str | None] = mapped_column(String(16))


class DeliveryMessageRow(InWorkspace, Base):
    """A message Slack accepted for a delivery: part 0 is the parent, then one per reply."""

    __tablename__ = "delivery_messages"
    __table_args__ = (
        UniqueConstraint("delivery_id", "part"),
        UniqueConstraint("enterprise_id", "team_id", "channel_id", "ts"),
        # A shared channel's message, found whichever workspace's installation posted it.
        Index("ix_delivery_messages_channel_ts", "channel_id", "ts"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    part: Mapped[int] = mapped_column(Integer)
    channel_id: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    article_id: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="SET NULL"), index=True
    )
    posted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
    # --- corrections (0011) ---
    # Fingerprint of the content Slack shows for this message, and of an edit under way
    # (set before chat.update, cleared after): a rerun edits nothing twice, misses nothing.
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    editing: Mapped[str | None] = mapped_column(String(64))


class ChannelFilterRow(InWorkspace, Base):
    """One rule of a channel's filter: include or exclude a company or a topic."""

    __tablename__ = "channel_filters"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "team_id", "channel_id", "mode", "kind", "key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(8))  # include | exclude
    kind: Mapped[str] = mapped_column(String(8))  # company | topic
    value: Mapped[str] = mapped_column(String(600))  # the company's name, or the topic's words
    key: Mapped[str] = mapped_column(String(600))  # value folded, for uniqueness
    created_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)


class SubscriptionRow(InWorkspace, Base):
    """A channel's schedule: local time, IANA timezone and which days."""

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("enterprise_id", "team_id", "channel_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    hour: Mapped[int] = mapped_column(Integer)
    minute: Mapped[int] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64))
    days: Mapped[str] = mapped_column(String(16), default="weekdays")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failing: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)


class WorkspaceRow(Base):
    """A workspace the bot knows: its name (cached), who installed the app, since when."""

    __tablename__ = "workspaces"

    enterprise_id: Mapped[str] = _workspace_column(primary_key=True)
    team_id: Mapped[str] = _workspace_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    installer_id: Mapped[str | None] = mapped_column(String(32))
    installed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
    # The reaction that saves an article here; NULL: the deployment's DIGEST_SAVE_EMOJI.
    save_emoji: Mapped[str | None] = mapped_column(String(100))


class WorkspaceAdminRow(Base):
    """A person `/digest admins add` made a digest admin of one workspace."""

    __tablename__ = "workspace_admins"

    enterprise_id: Mapped[str] = _workspace_column(primary_key=True)
    team_id: Mapped[str] = _workspace_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    added_by: Mapped[str | None] = mapped_column(String(32))
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)


class FeedStateRow(Base):
    """What the poller last saw of a source (HTTP validators, file fingerprints, bad entries)."""

    __tablename__ = "feed_state"

    source: Mapped[str] = mapped_column(String(500), primary_key=True)
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    checked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)


class TokenLeaseRow(Base):
    """Who refreshes a workspace's rotating bot token right now (refresh tokens are single-use).

    slack_sdk's own installation tables (slack_installations, slack_bots, slack_oauth_states,
    migration 0009) are read and written by its stores, not mapped here.
    """

    __tablename__ = "slack_token_leases"

    enterprise_id: Mapped[str] = mapped_column(String(32), primary_key=True, server_default="")
    team_id: Mapped[str] = mapped_column(String(32), primary_key=True, server_default="")
    owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class FollowedRow(Base):
    """A thing someone follows (a company, or a topic's search terms), once however many
    people in however many workspaces follow it: new articles are matched against these, not
    against every follow. Only normalised keys; who follows it is in `follows`."""

    __tablename__ = "followed"
    __table_args__ = (UniqueConstraint("kind", "key"), Index("ix_followed_company", "company_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "company" or "topic"
    # company: the company id as text (waiting: `name:` + the name's lookup key); topic: the
    # query's search terms, lower-cased, in order.
    key: Mapped[str] = mapped_column(String(200))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    # A company not in the archive yet: the name as typed (its key is `name:` + the name's
    # lookup key), bound to the company once /digest company would find it by that name.
    name: Mapped[str | None] = mapped_column(String(200))


class FollowRow(InWorkspace, Base):
    """A person's standing lookup: new articles by a company, or about a topic, come by DM."""

    __tablename__ = "follows"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "team_id", "user_id", "kind", "key"),
        # Covering: matching reads who follows a matched thing without touching the rows.
        Index(
            "ix_follows_followed",
            "followed_id",
            "created_at",
            "enterprise_id",
            "team_id",
            "user_id",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32))
    followed_id: Mapped[int] = mapped_column(ForeignKey("followed.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # as the followed thing's (kept for lookups)
    key: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(200))  # what the person sees: name or words
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)


class FollowerRow(InWorkspace, Base):
    """A follower's DM state: stopped (with Slack's reason) once a DM failed for good."""

    __tablename__ = "followers"
    __table_args__ = (UniqueConstraint("enterprise_id", "team_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32))
    dm_channel: Mapped[str | None] = mapped_column(String(32))
    stopped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    stop_reason: Mapped[str | None] = mapped_column(Text)


class FollowMatchedRow(Base):
    """An article already matched against the follows (each is matched once, when it arrives)."""

    __tablename__ = "follow_matched"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    matched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)


class FollowMatchRow(Base):
    """A followed thing that matched a new article in one matching run: what that run's DMs
    list is worked out from these and `follows` when each DM is sent."""

    __tablename__ = "follow_matches"

    run: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    followed_id: Mapped[int] = mapped_column(
        ForeignKey("followed.id", ondelete="CASCADE"), primary_key=True
    )
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"))
    # When the article arrived (its issue's updated_at then): later follows are not told.
    arrived: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class FollowMessageRow(InWorkspace, Base):
    """One DM to a follower about one issue's matching articles: claimed with a lease, then
    sent once (the in-flight mark is committed before chat.postMessage)."""

    __tablename__ = "follow_messages"
    __table_args__ = (
        Index("ix_follow_messages_state", "state", "id"),
        UniqueConstraint("enterprise_id", "team_id", "user_id", "issue_id", "run"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32))
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"))
    run: Mapped[int] = mapped_column(BigInteger)  # the matching run that created it
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    inflight: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    channel_id: Mapped[str | None] = mapped_column(String(32))
    ts: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class FollowItemRow(InWorkspace, Base):
    """An article a DM carries (the DM of its person, issue and run); unique per (person,
    article), so nobody gets one twice."""

    __tablename__ = "follow_items"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "team_id", "user_id", "article_id"),
        Index("ix_follow_items_run", "run"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32))
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"))
    run: Mapped[int] = mapped_column(BigInteger)


class RollupScheduleRow(InWorkspace, Base):
    """A channel's roll-up: weekly (on a weekday) or monthly (on the 1st), at a local time.

    Its own table, not the subscription's row: a channel may get roll-ups without daily issues.
    """

    __tablename__ = "rollup_schedules"
    __table_args__ = (UniqueConstraint("enterprise_id", "team_id", "channel_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(8))  # week | month
    weekday: Mapped[int] = mapped_column(Integer, default=0)  # 0 = Monday (weekly only)
    hour: Mapped[int] = mapped_column(Integer)
    minute: Mapped[int] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64))
    set_by: Mapped[str | None] = mapped_column(String(32))
    set_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
