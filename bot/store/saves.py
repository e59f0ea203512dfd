"""Saved articles and handled Slack events."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import and_, delete, false, func, or_, select
from sqlalchemy.orm import Session

from bot.dates import ALL_DATES, DateRange
from bot.store.queries import Page, articles_by_ids, clamp_page
from bot.store.sql import dialect_insert, in_workspace, within_dates, workspace_values
from bot.store.tables import ArticleRow, DeliveryMessageRow, ProcessedEventRow, SaveRow
from bot.workspace import Workspace

# Slack retries an event within minutes (three times, the last about 5 minutes after the first);
# an id older than this can no longer come back.
EVENT_RETENTION = dt.timedelta(days=1)


@dataclass(frozen=True)
class Reaction:
    """A save-emoji reaction: who, on which message, added or removed, and when (event_ts)."""

    user_id: str
    channel_id: str
    ts: str
    removed: bool
    event_us: int


def event_micros(event_ts: object) -> int | None:
    """Slack's event_ts ('1360782804.083113') as integer microseconds; None when unusable."""
    try:
        value = Decimal(str(event_ts))
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite() or value < 0 or value > 10**11:
        return None
    return int(value * 1_000_000)


def first_time_event(
    session: Session, workspace: Workspace, event_id: str, now: dt.datetime
) -> bool:
    """Record an event id; False when it was handled before (Slack retries the same id)."""
    if not event_id:
        return True
    insert = dialect_insert(session)
    recorded = session.execute(
        insert(ProcessedEventRow)
        .values(**workspace_values(workspace), event_id=event_id, received_at=now)
        .on_conflict_do_nothing(index_elements=["enterprise_id", "team_id", "event_id"])
        .returning(ProcessedEventRow.event_id)
    ).first()
    if recorded is None:
        return False  # handled before, or by another process at this very moment
    # Pruned as events arrive: an indexed range delete that is empty almost every time.
    prune_events(session, now)
    return True


def prune_events(session: Session, now: dt.datetime) -> int:
    """Forget event ids older than the retention period; how many were removed."""
    result = session.execute(
        delete(ProcessedEventRow).where(ProcessedEventRow.received_at < now - EVENT_RETENTION)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def article_for_message(
    session: Session, workspace: Workspace, channel_id: str, ts: str
) -> int | None:
    """The article a message the bot posted stands for (None for parents and other messages)."""
    return session.scalar(
        select(DeliveryMessageRow.article_id).where(
            in_workspace(DeliveryMessageRow, workspace),
            DeliveryMessageRow.channel_id == channel_id,
            DeliveryMessageRow.ts == ts,
        )
    )


def message_anywhere(session: Session, channel_id: str, ts: str) -> tuple[Workspace, int] | None:
    """The workspace whose installation posted a message, and the article it stands for; for a
    channel shared between workspaces (Slack Connect), where any of them may have posted."""
    row = session.execute(
        select(
            DeliveryMessageRow.enterprise_id,
            DeliveryMessageRow.team_id,
            DeliveryMessageRow.article_id,
        )
        .where(
            DeliveryMessageRow.channel_id == channel_id,
            DeliveryMessageRow.ts == ts,
            DeliveryMessageRow.article_id.is_not(None),
        )
        .limit(1)
    ).first()
    if row is None:
        return None
    enterprise_id, team_id, article_id = row
    return Workspace(team_id, enterprise_id), int(article_id)


def apply_reaction(
    session: Session,
    workspace: Workspace,
    user_id: str,
    article_id: int,
    *,
    removed: bool,
    event_us: int,
    at: dt.datetime,
) -> bool:
    """Set saved/removed as of `event_us` unless a newer event already decided; True if changed.

    One conditional UPSERT, so the newest event by event_ts wins whatever order events are
    applied in, by any thread or process. At equal times a removal wins (deterministic).
    """
    before = _removed(session, workspace, user_id, article_id)
    insert = dialect_insert(session)
    stmt = insert(SaveRow).values(
        **workspace_values(workspace),
        user_id=user_id,
        article_id=article_id,
        removed=removed,
        event_us=event_us,
        saved_at=at,
    )
    new = stmt.excluded
    newer = or_(
        SaveRow.event_us.is_(None),
        new.event_us > SaveRow.event_us,
        and_(new.event_us == SaveRow.event_us, new.removed, SaveRow.removed == false()),
    )
    applied = session.execute(
        stmt.on_conflict_do_update(
            index_elements=["enterprise_id", "team_id", "user_id", "article_id"],
            set_={"removed": new.removed, "event_us": new.event_us, "saved_at": new.saved_at},
            where=newer,
        ).returning(SaveRow.id)
    ).first()
    if applied is None:
        return False  # a newer event already set this person's state for the article
    was_saved = before is not None and not before
    return was_saved != (not removed)


def record_reaction(
    session: Session,
    workspace: Workspace,
    event_id: str,
    reaction: Reaction,
    now: dt.datetime,
    posted_by: Workspace | None = None,
) -> bool:
    """Apply one save/unsave reaction event once; True when the person's state changed.

    The save is the person's in `workspace`; the message is looked up among `posted_by`'s posts
    (default: the same workspace's). The event id and the change commit together: a retried
    event has no second effect.
    """
    if not first_time_event(session, workspace, event_id, now):
        return False
    poster = workspace if posted_by is None else posted_by
    article_id = article_for_message(session, poster, reaction.channel_id, reaction.ts)
    if article_id is None:
        return False
    return apply_reaction(
        session,
        workspace,
        reaction.user_id,
        article_id,
        removed=reaction.removed,
        event_us=reaction.event_us,
        at=now,
    )


def _removed(session: Session, workspace: Workspace, user_id: str, article_id: int) -> bool | None:
    """A save's removed flag (None: never saved)."""
    return session.scalar(
        select(SaveRow.removed).where(
            in_workspace(SaveRow, workspace),
            SaveRow.user_id == user_id,
            SaveRow.article_id == article_id,
        )
    )


def is_saved(session: Session, workspace: Workspace, user_id: str, article_id: int) -> bool:
    """Whether the person currently has the article saved."""
    removed = _removed(session, workspace, user_id, article_id)
    return removed is not None and not removed


def saved_articles(
    session: Session,
    workspace: Workspace,
    user_id: str,
    limit: int = 10,
    offset: int = 0,
    dates: DateRange = ALL_DATES,
) -> Page:
    """A person's saved articles in a workspace issued within `dates`, latest save first."""
    limit, offset = clamp_page(limit, offset)
    stmt = select(SaveRow.article_id).where(
        in_workspace(SaveRow, workspace), SaveRow.user_id == user_id, SaveRow.removed == false()
    )
    if not dates.is_open:
        stmt = stmt.join(ArticleRow, ArticleRow.id == SaveRow.article_id).where(
            *within_dates(ArticleRow.issue_date, dates)
        )
    stmt = stmt.order_by(SaveRow.saved_at.desc(), SaveRow.id.desc())
    ids = list(session.scalars(stmt.limit(limit + 1).offset(offset)))
    views = articles_by_ids(session, ids)
    return Page(tuple(views[:limit]), offset, limit, len(views) > limit)


def article_exists(session: Session, article_id: int) -> bool:
    """Whether an article is (still) in the archive."""
    return session.scalar(select(ArticleRow.id).where(ArticleRow.id == article_id)) is not None


@dataclass(frozen=True)
class SavedArticle:
    """A saved article with when the person saved it (what an export holds)."""

    title: str
    publisher: str
    issue_date: dt.date
    url: str | None
    summary: str
    saved_at: dt.datetime


def _saved(workspace: Workspace, user_id: str) -> Any:
    return (
        in_workspace(SaveRow, workspace),
        SaveRow.user_id == user_id,
        SaveRow.removed == false(),
    )


def all_saved_articles(session: Session, workspace: Workspace, user_id: str) -> list[SavedArticle]:
    """Every article a person has saved in a workspace (not a page), latest save first."""
    rows = session.execute(
        select(
            ArticleRow.title,
            ArticleRow.publisher,
            ArticleRow.issue_date,
            ArticleRow.url,
            ArticleRow.summary,
            SaveRow.saved_at,
        )
        .join(ArticleRow, ArticleRow.id == SaveRow.article_id)
        .where(*_saved(workspace, user_id))
        .order_by(SaveRow.saved_at.desc(), SaveRow.id.desc())
    ).tuples()
    return [SavedArticle(*row) for row in rows]


def count_saved(session: Session, workspace: Workspace, user_id: str) -> int:
    """How many articles a person has saved in a workspace."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(SaveRow)
            .join(ArticleRow, ArticleRow.id == SaveRow.article_id)
            .where(*_saved(workspace, user_id))
        )
        or 0
    )
