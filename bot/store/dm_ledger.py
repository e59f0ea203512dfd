"""The follower DM ledger: claiming a DM with a lease, in flight, recorded, finished or stopped.

One row per (person, issue) in `follow_messages` (store/follows.py creates them when articles
match); a DM is claimed with a lease before it is sent, so two workers never send one twice.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select, text, update
from sqlalchemy.orm import Session

from bot.store.sql import in_workspace, insert_ignore
from bot.store.tables import (
    ArticleRow,
    DeliveryMessageRow,
    FollowerRow,
    FollowItemRow,
    FollowMessageRow,
    IssueRow,
)
from bot.workspace import Workspace

PENDING, SENDING, SENT, FAILED, SKIPPED = "pending", "sending", "sent", "failed", "skipped"


# A DM's articles, claimed for it in the ledger: unique per (person, article), so an article
# another DM already carries is left out, whatever runs or corrections happened.
_DM_ITEMS = """
    INSERT INTO follow_items (enterprise_id, team_id, user_id, article_id, issue_id, run)
    SELECT DISTINCT f.enterprise_id, f.team_id, f.user_id, h.article_id, h.issue_id, h.run
    FROM follow_matches AS h
    JOIN follows AS f ON f.followed_id = h.followed_id AND f.created_at <= h.arrived
    WHERE h.run = :run AND h.issue_id = :issue
        AND f.enterprise_id = :enterprise AND f.team_id = :team AND f.user_id = :user
"""


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


def claim_items(session: Session, row: FollowMessageRow) -> None:
    """Give a DM claimed for the first time its articles (those no other DM carries)."""
    params = {
        "run": row.run,
        "issue": row.issue_id,
        "enterprise": row.enterprise_id,
        "team": row.team_id,
        "user": row.user_id,
    }
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text(_DM_ITEMS.replace("INSERT INTO", "INSERT OR IGNORE INTO", 1)), params)
    else:
        session.execute(text(_DM_ITEMS + " ON CONFLICT DO NOTHING"), params)


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
    if row.attempt == 1:
        claim_items(session, row)
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


def _update_held(session: Session, message_id: int, owner: str, **values: Any) -> bool:
    """Change a DM this owner holds; False when the lease was lost."""
    result = session.execute(
        update(FollowMessageRow)
        .where(_held(message_id, owner))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def mark_dm_inflight(
    session: Session, message_id: int, owner: str, now: dt.datetime, lease: dt.timedelta
) -> bool:
    """Note that the DM is about to be posted (committed first); False when the lease was lost."""
    return _update_held(session, message_id, owner, inflight=True, lease_until=now + lease)


def renew_dms(
    session: Session, held: dict[int, str], now: dt.datetime, lease: dt.timedelta
) -> set[int]:
    """Extend the leases of the DMs this process is sending (the heartbeat); those renewed."""
    return {
        message_id
        for message_id, owner in held.items()
        if _update_held(session, message_id, owner, lease_until=now + lease)
    }


def record_dm(
    session: Session, message_id: int, owner: str, channel_id: str, ts: str, now: dt.datetime
) -> bool:
    """Record the DM Slack accepted (its channel and ts) and release the lease."""
    return _update_held(
        session,
        message_id,
        owner,
        state=SENT,
        inflight=False,
        channel_id=channel_id,
        ts=ts,
        sent_at=now,
        lease_owner=None,
        lease_until=None,
        last_error=None,
    )


def finish_dm(
    session: Session, message_id: int, owner: str, state: str, error: str | None, now: dt.datetime
) -> None:
    """End a DM as failed (permanent) or skipped (nothing to send)."""
    _update_held(
        session,
        message_id,
        owner,
        state=state,
        inflight=False,
        lease_owner=None,
        lease_until=None,
        last_error=error,
        sent_at=now,
    )


def clear_dm_inflight(session: Session, message_id: int, owner: str) -> None:
    """Slack surely has not got the DM (it refused, or was never reached): nothing to look up."""
    _update_held(session, message_id, owner, inflight=False)


def release_dm(session: Session, message_id: int, owner: str, error: str | None) -> None:
    """Give a DM back after transient trouble (a later run sends it)."""
    _update_held(
        session,
        message_id,
        owner,
        state=PENDING,
        lease_owner=None,
        lease_until=None,
        last_error=error,
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


def _set_follower(session: Session, workspace: Workspace, user_id: str, **values: Any) -> None:
    """Set columns of the person's follower row, made first if they have none."""
    insert_ignore(
        session,
        FollowerRow,
        _follower_values(workspace, user_id),
        ["enterprise_id", "team_id", "user_id"],
    )
    session.execute(
        update(FollowerRow)
        .where(_follower(workspace, user_id))
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def remember_dm_channel(
    session: Session, workspace: Workspace, user_id: str, channel_id: str
) -> None:
    """Keep the person's DM channel (crash lookups need it; it never changes)."""
    _set_follower(session, workspace, user_id, dm_channel=channel_id)


def stop_follower(
    session: Session, workspace: Workspace, user_id: str, reason: str, now: dt.datetime
) -> None:
    """DMs to the person failed for good: stop messaging them (their open DMs are skipped)."""
    _set_follower(session, workspace, user_id, stopped_at=now, stop_reason=reason)
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
    session: Session, workspace: Workspace, article_ids: Sequence[int]
) -> dict[int, list[tuple[str, str]]]:
    """Where each article was posted as a thread reply in the workspace: (channel, ts), oldest
    first (another workspace's channels mean nothing to the person)."""
    if not article_ids:
        return {}
    rows = session.execute(
        select(DeliveryMessageRow.article_id, DeliveryMessageRow.channel_id, DeliveryMessageRow.ts)
        .where(
            in_workspace(DeliveryMessageRow, workspace),
            DeliveryMessageRow.article_id.in_(article_ids),
        )
        .order_by(DeliveryMessageRow.id)
    ).tuples()
    found: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for article_id, channel, ts in rows:
        if article_id is not None:
            found[article_id].append((channel, ts))
    return found


def issue_date(session: Session, issue_id: int) -> dt.date | None:
    """The date of an issue (None: gone)."""
    return session.scalar(select(IssueRow.date).where(IssueRow.id == issue_id))


def resume_follower(session: Session, workspace: Workspace, user_id: str) -> None:
    """The person follows again: a stopped follower is messaged again."""
    session.execute(
        update(FollowerRow)
        .where(_follower(workspace, user_id))
        .values(stopped_at=None, stop_reason=None)
        .execution_options(synchronize_session=False)
    )
