"""Workspaces: adopting a single-workspace database, installers, admins, settings, purging."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import MetaData, Table, delete, distinct, func, inspect, select, union, update
from sqlalchemy.orm import Session

from bot.store.sql import (
    dialect_insert,
    in_bound_workspace,
    in_workspace,
    workspace_binds,
    workspace_values,
)
from bot.store.tables import (
    ChannelFilterRow,
    DeliveryMessageRow,
    DeliveryRow,
    FollowedRow,
    FollowerRow,
    FollowItemRow,
    FollowMessageRow,
    FollowRow,
    ProcessedEventRow,
    RollupScheduleRow,
    SaveRow,
    SubscriptionRow,
    WorkspaceAdminRow,
    WorkspaceRow,
)
from bot.workspace import UNASSIGNED, Workspace

# Every per-workspace table, children before parents (deletes run in this order).
PER_WORKSPACE: tuple[Any, ...] = (
    DeliveryMessageRow,
    DeliveryRow,
    FollowItemRow,
    FollowMessageRow,
    FollowRow,
    FollowerRow,
    SaveRow,
    ProcessedEventRow,
    SubscriptionRow,
    ChannelFilterRow,
    WorkspaceAdminRow,
    RollupScheduleRow,
)
# Bolt's SQLAlchemyInstallationStore keeps each workspace's bot here (created by migrations).
INSTALLATION_TABLE = "slack_bots"


def adopt(session: Session, workspace: Workspace) -> int:
    """Give every unassigned row (from before 0008) to `workspace`; how many rows moved.

    Idempotent: a second call finds nothing unassigned. Two processes adopting at once are
    serialised by the row locks of the UPDATEs; the later one moves nothing.
    """
    if workspace == UNASSIGNED:
        return 0
    moved = 0
    for table in PER_WORKSPACE:
        result = session.execute(
            update(table)
            .where(in_workspace(table, UNASSIGNED))
            .values(**workspace_values(workspace))
            .execution_options(synchronize_session=False)
        )
        moved += int(getattr(result, "rowcount", 0) or 0)
    return moved


def remember(
    session: Session, workspace: Workspace, now: dt.datetime, *, name: str | None = None
) -> None:
    """Note a workspace the bot serves (single-workspace mode: the token's), with its name."""
    _upsert(session, workspace, now, {"installed_at": now} | ({"name": name} if name else {}))


def set_installer(
    session: Session, workspace: Workspace, user_id: str, now: dt.datetime | None = None
) -> None:
    """Record who installed the app in a workspace (they may manage its schedules)."""
    when = now or dt.datetime.now(dt.UTC)
    _upsert(session, workspace, when, {"installer_id": user_id, "installed_at": when})


def _upsert(
    session: Session, workspace: Workspace, now: dt.datetime, values: dict[str, Any]
) -> None:
    insert = dialect_insert(session)
    stmt = insert(WorkspaceRow).values(**workspace_values(workspace), updated_at=now, **values)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["enterprise_id", "team_id"], set_={"updated_at": now, **values}
        )
    )


def installer(session: Session, workspace: Workspace) -> str | None:
    """Who installed the app in the workspace, when known."""
    return session.scalar(
        select(WorkspaceRow.installer_id).where(in_workspace(WorkspaceRow, workspace))
    )


def save_emoji(session: Session, workspace: Workspace) -> str | None:
    """The workspace's own save emoji; None: it uses the deployment default."""
    return session.connection().execute(_SAVE_EMOJI, workspace_binds(workspace)).scalar()


# Built once: read at every claim's transaction (bot/delivery/deliverer.py).
_SAVE_EMOJI = select(WorkspaceRow.save_emoji).where(in_bound_workspace(WorkspaceRow))


def set_save_emoji(
    session: Session, workspace: Workspace, emoji: str | None, now: dt.datetime
) -> None:
    """Set the workspace's save emoji (None: back to the deployment default)."""
    _upsert(session, workspace, now, {"save_emoji": emoji})


def admins(session: Session, workspace: Workspace) -> list[str]:
    """The workspace's digest admins (`/digest admins add`), in the order they were added."""
    return list(
        session.scalars(
            select(WorkspaceAdminRow.user_id)
            .where(in_workspace(WorkspaceAdminRow, workspace))
            .order_by(WorkspaceAdminRow.added_at, WorkspaceAdminRow.user_id)
        )
    )


def add_admin(
    session: Session, workspace: Workspace, user_id: str, added_by: str | None, now: dt.datetime
) -> bool:
    """Make a person a digest admin of the workspace; False when they already were."""
    insert = dialect_insert(session)
    added = session.execute(
        insert(WorkspaceAdminRow)
        .values(**workspace_values(workspace), user_id=user_id, added_by=added_by, added_at=now)
        .on_conflict_do_nothing(index_elements=["enterprise_id", "team_id", "user_id"])
        .returning(WorkspaceAdminRow.user_id)
    ).first()
    return added is not None


def remove_admin(session: Session, workspace: Workspace, user_id: str) -> bool:
    """Take a person off the workspace's admin list; False when they were not on it."""
    result = session.execute(
        delete(WorkspaceAdminRow).where(
            in_workspace(WorkspaceAdminRow, workspace), WorkspaceAdminRow.user_id == user_id
        )
    )
    return bool(getattr(result, "rowcount", 0))


def purge(session: Session, workspace: Workspace) -> int:
    """Delete every per-workspace row of a workspace (the archive stays); how many rows."""
    removed = 0
    for table in (*PER_WORKSPACE, WorkspaceRow):
        result = session.execute(
            delete(table)
            .where(in_workspace(table, workspace))
            .execution_options(synchronize_session=False)
        )
        removed += int(getattr(result, "rowcount", 0) or 0)
    # Topics only this workspace's people followed go too (nobody else's follow points there).
    followed = select(FollowRow.id).where(FollowRow.followed_id == FollowedRow.id).exists()
    session.execute(
        delete(FollowedRow).where(~followed).execution_options(synchronize_session=False)
    )
    return removed


def known(session: Session) -> list[Workspace]:
    """Every workspace with a row anywhere (unassigned rows not counted), sorted."""
    keyed: tuple[Any, ...] = (
        WorkspaceRow,
        SubscriptionRow,
        DeliveryRow,
        SaveRow,
        WorkspaceAdminRow,
    )
    keyed += (FollowRow, RollupScheduleRow)
    query = union(*(select(t.enterprise_id, t.team_id) for t in keyed))
    found = {Workspace(team, enterprise) for enterprise, team in session.execute(query).tuples()}
    found |= set(_installed(session))
    found.discard(UNASSIGNED)
    return sorted(found)


@dataclass(frozen=True)
class WorkspaceSummary:
    """One line of `python -m bot workspaces list`."""

    workspace: Workspace
    name: str
    installed: bool
    channels: int
    failing: int
    last_delivery: dt.datetime | None


def summaries(session: Session) -> list[WorkspaceSummary]:
    """Every known workspace: name, installed, channels subscribed and failing, last delivery."""
    installed = _installed(session)
    rows = {Workspace(r.team_id, r.enterprise_id): r for r in session.scalars(select(WorkspaceRow))}
    channels = _counts(session, SubscriptionRow.active.is_(True))
    failing = _counts(session, SubscriptionRow.failing.is_(True))
    last = {
        Workspace(team, enterprise): when
        for enterprise, team, when in session.execute(
            select(
                DeliveryRow.enterprise_id, DeliveryRow.team_id, func.max(DeliveryRow.finished_at)
            )
            .where(DeliveryRow.state == "posted")
            .group_by(DeliveryRow.enterprise_id, DeliveryRow.team_id)
        ).tuples()
    }
    result = []
    for workspace in known(session):
        row = rows.get(workspace)
        name = installed.get(workspace) or (row.name if row else None) or ""
        is_installed = workspace in installed or bool(row and row.installed_at)
        result.append(
            WorkspaceSummary(
                workspace,
                name,
                is_installed,
                channels.get(workspace, 0),
                failing.get(workspace, 0),
                last.get(workspace),
            )
        )
    return result


def _counts(session: Session, condition: Any) -> dict[Workspace, int]:
    query = (
        select(
            SubscriptionRow.enterprise_id,
            SubscriptionRow.team_id,
            func.count(distinct(SubscriptionRow.channel_id)),
        )
        .where(condition)
        .group_by(SubscriptionRow.enterprise_id, SubscriptionRow.team_id)
    )
    return {Workspace(t, e): n for e, t, n in session.execute(query).tuples()}


def _installed(session: Session) -> dict[Workspace, str]:
    """Workspaces with a bot installation (multi-workspace mode) and their names."""
    bind = session.get_bind()
    if not inspect(bind).has_table(INSTALLATION_TABLE):
        return {}
    bots = Table(INSTALLATION_TABLE, MetaData(), autoload_with=bind)
    columns = bots.c
    query = select(columns.enterprise_id, columns.team_id, columns.team_name)
    if "bot_token" in columns:
        query = query.where(columns.bot_token.is_not(None))
    found: dict[Workspace, str] = {}
    for enterprise, team, name in session.execute(query).tuples():
        workspace = Workspace(team or "", enterprise or "")
        found[workspace] = name or found.get(workspace, "")
    return found
