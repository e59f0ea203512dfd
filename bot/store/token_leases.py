"""Leases on refreshing a workspace's bot token: one refresher at a time, across processes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.store.tables import TokenLeaseRow
from bot.workspace import Workspace


def _key(workspace: Workspace) -> ColumnElement[bool]:
    return and_(
        TokenLeaseRow.enterprise_id == workspace.enterprise_id,
        TokenLeaseRow.team_id == workspace.team_id,
    )


def claim(
    session: Session, workspace: Workspace, owner: str, now: dt.datetime, lease: dt.timedelta
) -> bool:
    """Take the workspace's refresh lease unless another owner holds an unexpired one."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(TokenLeaseRow)
        .values(enterprise_id=workspace.enterprise_id, team_id=workspace.team_id)
        .on_conflict_do_nothing()
    )
    taken = session.execute(
        update(TokenLeaseRow)
        .where(
            _key(workspace),
            or_(
                TokenLeaseRow.owner.is_(None),
                TokenLeaseRow.owner == owner,
                TokenLeaseRow.lease_until < now,
            ),
        )
        .values(owner=owner, lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(taken, "rowcount", 0))


def release(session: Session, workspace: Workspace, owner: str) -> None:
    """Give the lease back (only if still ours)."""
    session.execute(
        update(TokenLeaseRow)
        .where(_key(workspace), TokenLeaseRow.owner == owner)
        .values(owner=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )


def holder(session: Session, workspace: Workspace) -> str | None:
    """The current owner, if any (expired or not)."""
    return session.execute(select(TokenLeaseRow.owner).where(_key(workspace))).scalar()
