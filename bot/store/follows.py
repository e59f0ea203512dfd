"""Follows (per workspace), matching new articles against them, and the follower DM ledger.

Matching runs once per new article: the articles of recent issues not yet in `follow_matched`
are claimed there (INSERT … ON CONFLICT DO NOTHING RETURNING), so two workers split them and
none is matched twice. Company follows join `article_companies`; each distinct topic query is
run once against the new articles only (bot/store/fulltext.py). What matched becomes one DM per
(person, issue) in `follow_messages`, its articles in `follow_items`, unique per (person,
article): nobody is told about an article twice, whatever retries or corrections happen.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, text, update
from sqlalchemy.orm import Session

from bot.store.fulltext import match_new_articles
from bot.store.sql import dialect_insert, insert_ignore
from bot.store.tables import (
    ArticleRow,
    DeliveryMessageRow,
    FollowerRow,
    FollowItemRow,
    FollowMatchedRow,
    FollowMessageRow,
    FollowRow,
    IssueRow,
)
from bot.workspace import Workspace

PENDING, SENDING, SENT, FAILED, SKIPPED = "pending", "sending", "sent", "failed", "skipped"
Person = tuple[str, str, str]  # (enterprise_id, team_id, user_id)


@dataclass(frozen=True)
class Follow:
    """One follow as people see it."""

    id: int
    kind: str
    key: str
    label: str
    created_at: dt.datetime


def _mine(workspace: Workspace, user_id: str) -> Any:
    return and_(
        FollowRow.enterprise_id == workspace.enterprise_id,
        FollowRow.team_id == workspace.team_id,
        FollowRow.user_id == user_id,
    )


def list_follows(session: Session, workspace: Workspace, user_id: str) -> list[Follow]:
    """A person's follows, companies first, then topics, oldest first."""
    rows = session.scalars(
        select(FollowRow)
        .where(_mine(workspace, user_id))
        .order_by(FollowRow.kind, FollowRow.created_at, FollowRow.id)
    )
    return [Follow(r.id, r.kind, r.key, r.label, r.created_at) for r in rows]


def count_follows(session: Session, workspace: Workspace, user_id: str) -> int:
    """How many follows a person has."""
    return int(session.scalar(select(func.count()).where(_mine(workspace, user_id))) or 0)


def add_follow(
    session: Session,
    workspace: Workspace,
    user_id: str,
    *,
    kind: str,
    key: str,
    label: str,
    company_id: int | None,
    now: dt.datetime,
) -> bool:
    """Add a follow (and resume DMs to a stopped follower); False when it existed already."""
    values = {
        "enterprise_id": workspace.enterprise_id,
        "team_id": workspace.team_id,
        "user_id": user_id,
        "kind": kind,
        "key": key,
        "label": label,
        "company_id": company_id,
        "created_at": now,
    }
    insert = dialect_insert(session)
    added = session.execute(
        insert(FollowRow)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=["enterprise_id", "team_id", "user_id", "kind", "key"]
        )
        .returning(FollowRow.id)
    ).first()
    # Following again is the person saying they are there: a stopped follower is resumed.
    session.execute(
        update(FollowerRow)
        .where(
            FollowerRow.enterprise_id == workspace.enterprise_id,
            FollowerRow.team_id == workspace.team_id,
            FollowerRow.user_id == user_id,
        )
        .values(stopped_at=None, stop_reason=None)
        .execution_options(synchronize_session=False)
    )
    return added is not None


def remove_follow(
    session: Session, workspace: Workspace, user_id: str, kind: str, key: str
) -> bool:
    """Remove one follow by its key; False when there was none."""
    result = session.execute(
        delete(FollowRow).where(
            _mine(workspace, user_id), FollowRow.kind == kind, FollowRow.key == key
        )
    )
    return bool(getattr(result, "rowcount", 0))


def remove_follow_labelled(
    session: Session, workspace: Workspace, user_id: str, kind: str, label: str
) -> bool:
    """Remove a follow by the name it was shown under (a company since renamed or merged)."""
    result = session.execute(
        delete(FollowRow).where(
            _mine(workspace, user_id),
            FollowRow.kind == kind,
            func.lower(FollowRow.label) == label.lower(),
        )
    )
    return bool(getattr(result, "rowcount", 0))


def remove_follow_id(session: Session, workspace: Workspace, user_id: str, follow_id: int) -> bool:
    """Remove one of the person's follows by id (the Home tab's Unfollow button)."""
    result = session.execute(
        delete(FollowRow).where(_mine(workspace, user_id), FollowRow.id == follow_id)
    )
    return bool(getattr(result, "rowcount", 0))


def remove_all(session: Session, workspace: Workspace, user_id: str) -> int:
    """Remove every follow of a person; how many there were."""
    result = session.execute(delete(FollowRow).where(_mine(workspace, user_id)))
    return int(getattr(result, "rowcount", 0) or 0)


# --- matching ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewArticle:
    """An article just claimed for matching, with when its issue last changed."""

    id: int
    issue_id: int
    position: int
    title: str
    summary: str
    issue_changed: dt.datetime


def unmatched_articles(session: Session, recent_days: float) -> list[int]:
    """Articles of the newest issues (within `recent_days` of the newest date) not matched yet.

    Only the newest issues count: importing years of old issues must not flood anyone.
    """
    newest = session.scalar(select(func.max(IssueRow.date)))
    if newest is None:
        return []
    since = newest - dt.timedelta(days=int(recent_days))
    return list(
        session.scalars(
            select(ArticleRow.id)
            .outerjoin(FollowMatchedRow, FollowMatchedRow.article_id == ArticleRow.id)
            .where(ArticleRow.issue_date >= since, FollowMatchedRow.article_id.is_(None))
            .order_by(ArticleRow.id)
        )
    )


def claim_articles(session: Session, ids: Sequence[int], now: dt.datetime) -> list[NewArticle]:
    """Mark articles as matched; those this transaction marked (another worker may race)."""
    if not ids:
        return []
    insert = dialect_insert(session)
    claimed = list(
        session.scalars(
            insert(FollowMatchedRow)
            .values([{"article_id": i, "matched_at": now} for i in ids])
            .on_conflict_do_nothing(index_elements=["article_id"])
            .returning(FollowMatchedRow.article_id)
        )
    )
    if not claimed:
        return []
    rows = session.execute(
        select(
            ArticleRow.id,
            ArticleRow.issue_id,
            ArticleRow.position,
            ArticleRow.title,
            ArticleRow.summary,
            IssueRow.updated_at,
        )
        .join(IssueRow, IssueRow.id == ArticleRow.issue_id)
        .where(ArticleRow.id.in_(claimed))
    ).tuples()
    return [NewArticle(*row) for row in rows]


_PAIRS = """
    SELECT f.enterprise_id, f.team_id, f.user_id, a.id, a.issue_id, :run
    FROM follows AS f
    JOIN article_companies AS ac ON ac.company_id = f.company_id
    JOIN articles AS a ON a.id = ac.article_id
    JOIN issues AS i ON i.id = a.issue_id
    WHERE f.kind = 'company' AND ac.article_id IN ({ids}) AND f.created_at <= i.updated_at
      AND NOT EXISTS ({stopped})
    UNION
    SELECT f.enterprise_id, f.team_id, f.user_id, a.id, a.issue_id, :run
    FROM follow_topic_hits AS h
    JOIN follows AS f ON f.kind = 'topic' AND f.key = h.key
    JOIN articles AS a ON a.id = h.article_id
    JOIN issues AS i ON i.id = a.issue_id
    WHERE f.created_at <= i.updated_at AND NOT EXISTS ({stopped})
"""
_STOPPED = (
    "SELECT 1 FROM followers AS s WHERE s.enterprise_id = f.enterprise_id "
    "AND s.team_id = f.team_id AND s.user_id = f.user_id AND s.stopped_at IS NOT NULL"
)
_ITEMS = "(enterprise_id, team_id, user_id, article_id, issue_id, run)"
_MESSAGES = """
    INSERT INTO follow_messages
        (enterprise_id, team_id, user_id, issue_id, run, state, attempt, inflight, created_at)
    SELECT DISTINCT enterprise_id, team_id, user_id, issue_id, run, 'pending', 0, :no, :now
    FROM follow_items WHERE run = :run
"""


def _topic_hits_table(session: Session) -> None:
    """A scratch table of (topic key, new article) matches, empty, for this transaction."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            text("CREATE TEMP TABLE IF NOT EXISTS follow_topic_hits (key TEXT, article_id INT)")
        )
        session.execute(text("DELETE FROM temp.follow_topic_hits"))
    else:
        session.execute(
            text(
                "CREATE TEMP TABLE IF NOT EXISTS follow_topic_hits (key TEXT, article_id INT) "
                "ON COMMIT DELETE ROWS"
            )
        )


def match_and_record(
    session: Session, articles: Sequence[NewArticle], now: dt.datetime, run: int
) -> int:
    """Match new articles against every follow and record one pending DM per (person, issue)
    with its articles, all in SQL; how many DMs were created.

    Company follows join article_companies; each distinct topic is searched once in the new
    articles only. Followers who stopped, and follows made after an article arrived, are left
    out; an article a person was already told about is skipped (unique per person, article).
    """
    if not articles:
        return 0
    _topic_hits_table(session)
    keys = list(session.scalars(select(FollowRow.key).where(FollowRow.kind == "topic").distinct()))
    found = match_new_articles(session, [(a.id, a.title, a.summary) for a in articles], keys)
    pairs = [{"key": k, "article_id": i} for k, ids in found.items() for i in ids]
    if pairs:
        session.execute(
            text("INSERT INTO follow_topic_hits (key, article_id) VALUES (:key, :article_id)"),
            pairs,
        )
    ids = ", ".join(str(int(a.id)) for a in articles)
    select_pairs = _PAIRS.format(ids=ids, stopped=_STOPPED)
    if session.get_bind().dialect.name == "sqlite":
        insert = f"INSERT OR IGNORE INTO follow_items {_ITEMS} {select_pairs}"
    else:
        insert = f"INSERT INTO follow_items {_ITEMS} {select_pairs} ON CONFLICT DO NOTHING"
    session.execute(text(insert), {"run": run})
    result = session.execute(text(_MESSAGES), {"run": run, "now": now, "no": False})
    return int(getattr(result, "rowcount", 0) or 0)


# --- the DM ledger ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DmClaim:
    """A follower DM this process holds the lease on."""

    id: int
    workspace: Workspace
    user_id: str
    issue_id: int
    inflight: bool
    channel_id: str | None
    created_at: dt.datetime
    article_ids: tuple[int, ...]


@dataclass(frozen=True)
class OpenDm:
    """A DM not sent yet."""

    id: int
    workspace: Workspace
    state: str
    lease_owner: str | None
    lease_until: dt.datetime | None


def open_dms(session: Session, limit: int = 5000) -> list[OpenDm]:
    """DMs pending or being sent, oldest first."""
    rows = session.execute(
        select(
            FollowMessageRow.id,
            FollowMessageRow.enterprise_id,
            FollowMessageRow.team_id,
            FollowMessageRow.state,
            FollowMessageRow.lease_owner,
            FollowMessageRow.lease_until,
        )
        .where(FollowMessageRow.state.in_([PENDING, SENDING]))
        .order_by(FollowMessageRow.id)
        .limit(limit)
    ).tuples()
    return [OpenDm(i, Workspace(t, e), s, o, u) for i, e, t, s, o, u in rows]


def _held(message_id: int, owner: str) -> Any:
    return and_(
        FollowMessageRow.id == message_id,
        FollowMessageRow.state == SENDING,
        FollowMessageRow.lease_owner == owner,
    )


def claim_dm(
    session: Session,
    message_id: int,
    owner: str,
    now: dt.datetime,
    lease: dt.timedelta,
    takeover_from: str | None = None,
) -> DmClaim | None:
    """Take the lease on a pending (or abandoned) DM; None when someone else has it."""
    claimable = [
        FollowMessageRow.state == PENDING,
        and_(FollowMessageRow.state == SENDING, FollowMessageRow.lease_until < now),
    ]
    if takeover_from:
        claimable.append(
            and_(FollowMessageRow.state == SENDING, FollowMessageRow.lease_owner == takeover_from)
        )
    result = session.execute(
        update(FollowMessageRow)
        .where(FollowMessageRow.id == message_id, or_(*claimable))
        .values(
            state=SENDING,
            lease_owner=owner,
            lease_until=now + lease,
            attempt=FollowMessageRow.attempt + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    row = session.get(FollowMessageRow, message_id, populate_existing=True)
    assert row is not None  # noqa: S101  just claimed
    article_ids = session.scalars(
        select(FollowItemRow.article_id)
        .join(ArticleRow, ArticleRow.id == FollowItemRow.article_id)
        .where(
            FollowItemRow.run == row.run,
            FollowItemRow.enterprise_id == row.enterprise_id,
            FollowItemRow.team_id == row.team_id,
            FollowItemRow.user_id == row.user_id,
            FollowItemRow.issue_id == row.issue_id,
        )
        .order_by(ArticleRow.position)
    ).all()
    return DmClaim(
        row.id,
        Workspace(row.team_id, row.enterprise_id),
        row.user_id,
        row.issue_id,
        row.inflight,
        row.channel_id,
        row.created_at,
        tuple(article_ids),
    )


def dm_holder(session: Session, message_id: int) -> tuple[str, str | None]:
    """A DM's state and who holds it."""
    row = session.execute(
        select(FollowMessageRow.state, FollowMessageRow.lease_owner).where(
            FollowMessageRow.id == message_id
        )
    ).first()
    return (row[0], row[1]) if row else ("", None)


def mark_dm_inflight(
    session: Session, message_id: int, owner: str, now: dt.datetime, lease: dt.timedelta
) -> bool:
    """Note that the DM is about to be posted (committed first); False when the lease was lost."""
    result = session.execute(
        update(FollowMessageRow)
        .where(_held(message_id, owner))
        .values(inflight=True, lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def renew_dms(
    session: Session, held: dict[int, str], now: dt.datetime, lease: dt.timedelta
) -> None:
    """Extend the leases of the DMs this process is sending (the heartbeat)."""
    for message_id, owner in held.items():
        session.execute(
            update(FollowMessageRow)
            .where(_held(message_id, owner))
            .values(lease_until=now + lease)
            .execution_options(synchronize_session=False)
        )


def record_dm(
    session: Session, message_id: int, owner: str, channel_id: str, ts: str, now: dt.datetime
) -> bool:
    """Record the DM Slack accepted (its channel and ts) and release the lease."""
    result = session.execute(
        update(FollowMessageRow)
        .where(_held(message_id, owner))
        .values(
            state=SENT,
            inflight=False,
            channel_id=channel_id,
            ts=ts,
            sent_at=now,
            lease_owner=None,
            lease_until=None,
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def finish_dm(
    session: Session, message_id: int, owner: str, state: str, error: str | None, now: dt.datetime
) -> None:
    """End a DM as failed (permanent) or skipped (nothing to send)."""
    session.execute(
        update(FollowMessageRow)
        .where(_held(message_id, owner))
        .values(
            state=state,
            inflight=False,
            lease_owner=None,
            lease_until=None,
            last_error=error,
            sent_at=now,
        )
        .execution_options(synchronize_session=False)
    )


def clear_dm_inflight(session: Session, message_id: int, owner: str) -> None:
    """Slack surely has not got the DM (it refused, or was never reached): nothing to look up."""
    session.execute(
        update(FollowMessageRow)
        .where(_held(message_id, owner))
        .values(inflight=False)
        .execution_options(synchronize_session=False)
    )


def release_dm(session: Session, message_id: int, owner: str, error: str | None) -> None:
    """Give a DM back after transient trouble (a later run sends it)."""
    session.execute(
        update(FollowMessageRow)
        .where(_held(message_id, owner))
        .values(state=PENDING, lease_owner=None, lease_until=None, last_error=error)
        .execution_options(synchronize_session=False)
    )


def set_dm_channel(session: Session, message_id: int, owner: str, channel_id: str) -> None:
    """Remember the person's DM channel on the message (for the lookup after a crash)."""
    session.execute(
        update(FollowMessageRow)
        .where(_held(message_id, owner))
        .values(channel_id=channel_id)
        .execution_options(synchronize_session=False)
    )


def _follower_values(workspace: Workspace, user_id: str) -> dict[str, str]:
    return {
        "enterprise_id": workspace.enterprise_id,
        "team_id": workspace.team_id,
        "user_id": user_id,
    }


def _follower(workspace: Workspace, user_id: str) -> Any:
    return and_(
        FollowerRow.enterprise_id == workspace.enterprise_id,
        FollowerRow.team_id == workspace.team_id,
        FollowerRow.user_id == user_id,
    )


def follower_dm_channel(session: Session, workspace: Workspace, user_id: str) -> str | None:
    """The person's DM channel as last seen."""
    return session.scalar(select(FollowerRow.dm_channel).where(_follower(workspace, user_id)))


def is_stopped(session: Session, workspace: Workspace, user_id: str) -> bool:
    """Whether DMs to the person stopped for good."""
    stopped = session.scalar(select(FollowerRow.stopped_at).where(_follower(workspace, user_id)))
    return stopped is not None


def remember_dm_channel(
    session: Session, workspace: Workspace, user_id: str, channel_id: str
) -> None:
    """Keep the person's DM channel (crash lookups need it; it never changes)."""
    insert_ignore(
        session,
        FollowerRow,
        _follower_values(workspace, user_id),
        ["enterprise_id", "team_id", "user_id"],
    )
    session.execute(
        update(FollowerRow)
        .where(_follower(workspace, user_id))
        .values(dm_channel=channel_id)
        .execution_options(synchronize_session=False)
    )


def stop_follower(
    session: Session, workspace: Workspace, user_id: str, reason: str, now: dt.datetime
) -> None:
    """DMs to the person failed for good: stop messaging them (their open DMs are skipped)."""
    insert_ignore(
        session,
        FollowerRow,
        _follower_values(workspace, user_id),
        ["enterprise_id", "team_id", "user_id"],
    )
    session.execute(
        update(FollowerRow)
        .where(_follower(workspace, user_id))
        .values(stopped_at=now, stop_reason=reason)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(FollowMessageRow)
        .where(
            FollowMessageRow.enterprise_id == workspace.enterprise_id,
            FollowMessageRow.team_id == workspace.team_id,
            FollowMessageRow.user_id == user_id,
            FollowMessageRow.state == PENDING,
        )
        .values(state=SKIPPED, last_error=f"follower stopped: {reason}", sent_at=now)
        .execution_options(synchronize_session=False)
    )


def thread_replies(
    session: Session, article_ids: Sequence[int]
) -> dict[int, list[tuple[str, str]]]:
    """Where each article was posted as a thread reply: (channel, ts), oldest first."""
    if not article_ids:
        return {}
    rows = session.execute(
        select(DeliveryMessageRow.article_id, DeliveryMessageRow.channel_id, DeliveryMessageRow.ts)
        .where(DeliveryMessageRow.article_id.in_(article_ids))
        .order_by(DeliveryMessageRow.id)
    ).tuples()
    found: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for article_id, channel, ts in rows:
        if article_id is not None:
            found[article_id].append((channel, ts))
    return found


@dataclass(frozen=True)
class FollowerView:
    """A follower as operators see it."""

    workspace: Workspace
    user_id: str
    follows: int
    sent: int
    pending: int
    stopped_at: dt.datetime | None
    stop_reason: str | None


def followers(session: Session) -> list[FollowerView]:
    """Every person with follows or a stopped DM state: counts of follows and DMs."""
    follow_counts = dict(
        ((e, t, u), n)
        for e, t, u, n in session.execute(
            select(
                FollowRow.enterprise_id, FollowRow.team_id, FollowRow.user_id, func.count()
            ).group_by(FollowRow.enterprise_id, FollowRow.team_id, FollowRow.user_id)
        ).tuples()
    )
    dm_counts: dict[tuple[str, str, str, str], int] = {
        (e, t, u, s): n
        for e, t, u, s, n in session.execute(
            select(
                FollowMessageRow.enterprise_id,
                FollowMessageRow.team_id,
                FollowMessageRow.user_id,
                FollowMessageRow.state,
                func.count(),
            ).group_by(
                FollowMessageRow.enterprise_id,
                FollowMessageRow.team_id,
                FollowMessageRow.user_id,
                FollowMessageRow.state,
            )
        ).tuples()
    }
    states = {
        (e, t, u): (at, why)
        for e, t, u, at, why in session.execute(
            select(
                FollowerRow.enterprise_id,
                FollowerRow.team_id,
                FollowerRow.user_id,
                FollowerRow.stopped_at,
                FollowerRow.stop_reason,
            )
        ).tuples()
    }
    people = sorted(set(follow_counts) | {p for p, (at, _w) in states.items() if at is not None})
    return [
        FollowerView(
            Workspace(t, e),
            u,
            follow_counts.get((e, t, u), 0),
            dm_counts.get((e, t, u, SENT), 0),
            dm_counts.get((e, t, u, PENDING), 0) + dm_counts.get((e, t, u, SENDING), 0),
            *states.get((e, t, u), (None, None)),
        )
        for e, t, u in people
    ]
