"""Saved articles and handled Slack events."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.queries import Page, articles_by_ids, clamp_page
from bot.store.tables import DeliveryMessageRow, ProcessedEventRow, SaveRow


def first_time_event(session: Session, event_id: str) -> bool:
    """Record an event id; False when it was handled before (Slack retries the same id)."""
    if not event_id:
        return True
    if session.get(ProcessedEventRow, event_id) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(ProcessedEventRow(event_id=event_id))
    except IntegrityError:
        return False  # another process handled the same retry at the same moment
    return True


def article_for_message(session: Session, channel_id: str, ts: str) -> int | None:
    """The article a message the bot posted stands for (None for parents and other messages)."""
    return session.scalar(
        select(DeliveryMessageRow.article_id).where(
            DeliveryMessageRow.channel_id == channel_id, DeliveryMessageRow.ts == ts
        )
    )


def save_article(session: Session, user_id: str, article_id: int) -> bool:
    """Save an article for a person; False when it was already saved."""
    exists = session.scalar(
        select(SaveRow.id).where(SaveRow.user_id == user_id, SaveRow.article_id == article_id)
    )
    if exists is not None:
        return False
    try:
        with session.begin_nested():
            session.add(SaveRow(user_id=user_id, article_id=article_id))
    except IntegrityError:
        return False
    return True


def unsave_article(session: Session, user_id: str, article_id: int) -> bool:
    """Remove a save; False when there was none."""
    result = session.execute(
        delete(SaveRow).where(SaveRow.user_id == user_id, SaveRow.article_id == article_id)
    )
    return bool(getattr(result, "rowcount", 0))


def saved_articles(session: Session, user_id: str, limit: int = 10, offset: int = 0) -> Page:
    """A person's saved articles, most recently saved first."""
    limit, offset = clamp_page(limit, offset)
    ids = list(
        session.scalars(
            select(SaveRow.article_id)
            .where(SaveRow.user_id == user_id)
            .order_by(SaveRow.saved_at.desc(), SaveRow.id.desc())
            .limit(limit + 1)
            .offset(offset)
        )
    )
    views = articles_by_ids(session, ids)
    return Page(tuple(views[:limit]), offset, limit, len(views) > limit)
