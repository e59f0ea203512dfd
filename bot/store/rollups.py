"""Roll-ups: each channel's roll-up schedule, and the figures of a period counted in SQL."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import delete, false, func, select
from sqlalchemy.orm import Session

from bot.store.queries import ArticleView, articles_by_ids
from bot.store.sql import in_workspace, insert_ignore, workspace_values
from bot.store.tables import (
    ArticleCompanyRow,
    ArticleRow,
    CompanyRow,
    DeliveryMessageRow,
    DeliveryRow,
    IssueRow,
    RollupScheduleRow,
    SaveRow,
    SubscriptionRow,
)
from bot.workspace import Workspace

PeriodKind = Literal["week", "month"]


@dataclass(frozen=True)
class RollupSchedule:
    """A channel's roll-up setting: week (on `weekday`, 0 = Monday) or month (on the 1st)."""

    channel_id: str
    period: PeriodKind
    weekday: int
    hour: int
    minute: int
    timezone: str
    set_by: str | None
    set_at: dt.datetime
    workspace: Workspace


def _view(row: RollupScheduleRow) -> RollupSchedule:
    period: PeriodKind = "month" if row.period == "month" else "week"
    return RollupSchedule(
        row.channel_id,
        period,
        row.weekday,
        row.hour,
        row.minute,
        row.timezone,
        row.set_by,
        row.set_at,
        Workspace(row.team_id, row.enterprise_id),
    )


def _row(session: Session, workspace: Workspace, channel_id: str) -> RollupScheduleRow | None:
    return session.scalars(
        select(RollupScheduleRow).where(
            in_workspace(RollupScheduleRow, workspace), RollupScheduleRow.channel_id == channel_id
        )
    ).first()


def set_rollup(
    session: Session,
    workspace: Workspace,
    channel_id: str,
    *,
    period: PeriodKind,
    weekday: int,
    hour: int,
    minute: int,
    timezone: str,
    user_id: str | None,
    now: dt.datetime,
) -> RollupSchedule:
    """Create or change a channel's roll-up (one per channel: weekly or monthly)."""
    values = {
        "period": period,
        "weekday": weekday,
        "hour": hour,
        "minute": minute,
        "timezone": timezone,
        "set_by": user_id,
        "set_at": now,
    }
    insert_ignore(
        session,
        RollupScheduleRow,
        {**workspace_values(workspace), "channel_id": channel_id, **values},
        ["enterprise_id", "team_id", "channel_id"],
    )
    row = _row(session, workspace, channel_id)
    assert row is not None  # noqa: S101  just inserted or already there
    for name, value in values.items():
        setattr(row, name, value)
    session.flush()
    return _view(row)


def clear_rollup(session: Session, workspace: Workspace, channel_id: str) -> bool:
    """Stop a channel's roll-ups; False when it had none."""
    result = session.execute(
        delete(RollupScheduleRow).where(
            in_workspace(RollupScheduleRow, workspace), RollupScheduleRow.channel_id == channel_id
        )
    )
    return bool(getattr(result, "rowcount", 0))


def get_rollup(session: Session, workspace: Workspace, channel_id: str) -> RollupSchedule | None:
    """A channel's roll-up setting, if any."""
    row = _row(session, workspace, channel_id)
    return _view(row) if row else None


def all_rollups(session: Session) -> list[RollupSchedule]:
    """Every channel's roll-up setting in every workspace (what the worker schedules)."""
    rows = session.scalars(
        select(RollupScheduleRow).order_by(
            RollupScheduleRow.enterprise_id,
            RollupScheduleRow.team_id,
            RollupScheduleRow.channel_id,
        )
    )
    return [_view(r) for r in rows]


# --- a period's figures ---------------------------------------------------------------------


@dataclass(frozen=True)
class IssueText:
    """One issue's date, Signal of the Day and Patterns Across Companies."""

    date: dt.date
    signal: str
    patterns: str | None


def issues_between(session: Session, start: dt.date, end: dt.date) -> list[IssueText]:
    """The issues dated start..end (both included), oldest first."""
    rows = session.execute(
        select(IssueRow.date, IssueRow.signal, IssueRow.patterns)
        .where(IssueRow.date >= start, IssueRow.date <= end)
        .order_by(IssueRow.date)
    ).tuples()
    return [IssueText(day, signal, patterns) for day, signal, patterns in rows]


def deep_dive_count(session: Session, start: dt.date, end: dt.date) -> int:
    """How many deep dives the issues dated start..end hold."""
    # (issue_date, position) is indexed: a range scan of the index, no table rows read.
    return int(
        session.scalar(
            select(func.count())
            .select_from(ArticleRow)
            .where(ArticleRow.issue_date >= start, ArticleRow.issue_date <= end)
        )
        or 0
    )


def top_companies(
    session: Session, start: dt.date, end: dt.date, limit: int = 10
) -> list[tuple[str, int]]:
    """The companies with the most articles dated start..end, most first (then by name).

    An article of joint publishers counts for each of them, as `/digest company` lists it
    under each.
    """
    articles = func.count(ArticleCompanyRow.article_id).label("articles")
    rows = session.execute(
        select(CompanyRow.name, articles)
        .join(CompanyRow, CompanyRow.id == ArticleCompanyRow.company_id)
        .where(ArticleCompanyRow.issue_date >= start, ArticleCompanyRow.issue_date <= end)
        .group_by(CompanyRow.id, CompanyRow.name)
        .order_by(articles.desc(), CompanyRow.name)
        .limit(limit)
    ).tuples()
    return [(name, int(count)) for name, count in rows]


def most_saved(
    session: Session, workspace: Workspace, start: dt.date, end: dt.date, limit: int = 5
) -> list[tuple[ArticleView, int]]:
    """The articles dated start..end that most people in a workspace have saved (now), with
    how many; articles nobody saved are left out."""
    saves = func.count(SaveRow.id).label("saves")
    period = select(ArticleRow.id).where(
        ArticleRow.issue_date >= start, ArticleRow.issue_date <= end
    )
    # Saves of the period's articles, per article through ix_saves_workspace_article (a join
    # let SQLite read every save of the workspace first). Ties: the older article first.
    rows = session.execute(
        select(SaveRow.article_id, saves)
        .where(
            in_workspace(SaveRow, workspace),
            SaveRow.article_id.in_(period.scalar_subquery()),
            SaveRow.removed == false(),
        )
        .group_by(SaveRow.article_id)
        .order_by(saves.desc(), SaveRow.article_id)
        .limit(limit)
    ).tuples()
    counted = {article_id: int(count) for article_id, count in rows}
    views = articles_by_ids(session, list(counted))
    return [(view, counted[view.id]) for view in views]


def thread_parents(
    session: Session, workspace: Workspace, channel_id: str, start: dt.date, end: dt.date
) -> dict[dt.date, str]:
    """The ts of each daily thread's parent message in a channel, by issue date (start..end)."""
    rows = session.execute(
        select(IssueRow.date, DeliveryMessageRow.ts)
        .join(DeliveryRow, DeliveryRow.issue_id == IssueRow.id)
        .join(DeliveryMessageRow, DeliveryMessageRow.delivery_id == DeliveryRow.id)
        .where(
            in_workspace(DeliveryRow, workspace),
            DeliveryRow.channel_id == channel_id,
            DeliveryMessageRow.part == 0,
            IssueRow.date >= start,
            IssueRow.date <= end,
        )
    ).tuples()
    return dict(rows.all())


def saves_by_between(
    session: Session, workspace: Workspace, user_id: str, since: dt.datetime, until: dt.datetime
) -> int:
    """How many articles a person saved (and still has saved) from `since` up to `until`."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(SaveRow)
            .where(
                in_workspace(SaveRow, workspace),
                SaveRow.user_id == user_id,
                SaveRow.removed == false(),
                SaveRow.saved_at >= since,
                SaveRow.saved_at < until,
            )
        )
        or 0
    )


def channel_known(session: Session, workspace: Workspace, channel_id: str) -> bool:
    """Whether the bot knows a channel in a workspace: subscribed, with a roll-up, or posted to."""
    for table in (SubscriptionRow, RollupScheduleRow, DeliveryRow):
        found = session.scalar(
            select(table.id)
            .where(in_workspace(table, workspace), table.channel_id == channel_id)
            .limit(1)
        )
        if found is not None:
            return True
    return False


def channel_timezone(session: Session, workspace: Workspace, channel_id: str) -> str | None:
    """The channel's timezone: its roll-up's, else its subscription's (None: neither)."""
    for table in (RollupScheduleRow, SubscriptionRow):
        zone = session.scalar(
            select(table.timezone).where(
                in_workspace(table, workspace), table.channel_id == channel_id
            )
        )
        if zone:
            return str(zone)
    return None
