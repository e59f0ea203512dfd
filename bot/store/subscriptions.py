"""Channel subscriptions: who gets issues when."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.schedule import ChannelSchedule, Days
from bot.store.sql import in_workspace, insert_ignore, workspace_values
from bot.store.tables import SubscriptionRow
from bot.workspace import UNASSIGNED, Workspace


@dataclass(frozen=True)
class Subscription:
    """A subscription as shown to people."""

    channel_id: str
    hour: int
    minute: int
    timezone: str
    days: Days
    failing: bool
    last_error: str | None
    created_by: str | None
    updated_at: dt.datetime
    workspace: Workspace = UNASSIGNED

    @property
    def schedule(self) -> ChannelSchedule:
        """The scheduler's view of this subscription."""
        return ChannelSchedule(
            self.channel_id, self.hour, self.minute, self.timezone, self.days, self.updated_at
        )

    @property
    def time_text(self) -> str:
        """HH:MM."""
        return f"{self.hour:02d}:{self.minute:02d}"


def _view(row: SubscriptionRow) -> Subscription:
    days: Days = "daily" if row.days == "daily" else "weekdays"
    return Subscription(
        row.channel_id,
        row.hour,
        row.minute,
        row.timezone,
        days,
        row.failing,
        row.last_error,
        row.created_by,
        row.updated_at,
        Workspace(row.team_id, row.enterprise_id),
    )


def _row(session: Session, workspace: Workspace, channel_id: str) -> SubscriptionRow | None:
    return session.scalars(
        select(SubscriptionRow).where(
            in_workspace(SubscriptionRow, workspace), SubscriptionRow.channel_id == channel_id
        )
    ).first()


def subscribe(
    session: Session,
    workspace: Workspace,
    channel_id: str,
    *,
    hour: int,
    minute: int,
    timezone: str,
    days: Days,
    user_id: str | None,
    now: dt.datetime,
) -> Subscription:
    """Create or change a channel's subscription (clears a failing flag: a fresh start)."""
    insert_ignore(
        session,
        SubscriptionRow,
        {
            **workspace_values(workspace),
            "channel_id": channel_id,
            "hour": hour,
            "minute": minute,
            "timezone": timezone,
            "days": days,
            "created_by": user_id,
            "created_at": now,
            "updated_at": now,
            "active": True,
            "failing": False,
        },
        ["enterprise_id", "team_id", "channel_id"],
    )
    row = _row(session, workspace, channel_id)
    assert row is not None  # noqa: S101  just inserted or already there
    row.hour, row.minute, row.timezone, row.days = hour, minute, timezone, days
    row.active, row.failing, row.last_error, row.updated_at = True, False, None, now
    if user_id:
        row.created_by = row.created_by or user_id
    session.flush()
    return _view(row)


def unsubscribe(session: Session, workspace: Workspace, channel_id: str) -> bool:
    """Stop posting to a channel; False when it was not subscribed."""
    result = session.execute(
        delete(SubscriptionRow).where(
            in_workspace(SubscriptionRow, workspace), SubscriptionRow.channel_id == channel_id
        )
    )
    return bool(getattr(result, "rowcount", 0))


def get_subscription(
    session: Session, workspace: Workspace, channel_id: str
) -> Subscription | None:
    """A channel's subscription, if any."""
    row = _row(session, workspace, channel_id)
    return _view(row) if row else None


def list_subscriptions(session: Session, workspace: Workspace) -> list[Subscription]:
    """Every active subscription of a workspace, by channel."""
    rows = session.scalars(
        select(SubscriptionRow)
        .where(in_workspace(SubscriptionRow, workspace), SubscriptionRow.active.is_(True))
        .order_by(SubscriptionRow.channel_id)
    )
    return [_view(r) for r in rows]


def all_subscriptions(session: Session) -> list[Subscription]:
    """Every active subscription of every workspace (the worker's view)."""
    rows = session.scalars(
        select(SubscriptionRow)
        .where(SubscriptionRow.active.is_(True))
        .order_by(
            SubscriptionRow.enterprise_id, SubscriptionRow.team_id, SubscriptionRow.channel_id
        )
    )
    return [_view(r) for r in rows]


def subscribed_channels(session: Session) -> set[tuple[Workspace, str]]:
    """(workspace, channel) of every active subscription: plain columns, as the worker asks
    every few seconds."""
    rows = session.execute(
        select(
            SubscriptionRow.team_id, SubscriptionRow.enterprise_id, SubscriptionRow.channel_id
        ).where(SubscriptionRow.active.is_(True))
    ).tuples()
    return {(Workspace(team, enterprise), channel) for team, enterprise, channel in rows}


def note_problem(
    session: Session, workspace: Workspace, channel_id: str, message: str | None
) -> None:
    """Record a non-fatal note for /digest status (e.g. a missed post)."""
    row = _row(session, workspace, channel_id)
    if row is not None and not row.failing:
        row.last_error = message
