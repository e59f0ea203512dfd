"""SQL helpers shared by the store modules (kept apart so no aggregate imports another for them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.dates import DateRange
from bot.workspace import Workspace


def dialect_insert(session: Session):  # type: ignore[no-untyped-def]
    """The dialect's INSERT, which has ON CONFLICT (SQLite and PostgreSQL)."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def insert_ignore(session: Session, table: Any, values: dict[str, Any], keys: list[str]) -> None:
    """INSERT … ON CONFLICT DO NOTHING on either backend."""
    session.execute(
        dialect_insert(session)(table).values(**values).on_conflict_do_nothing(index_elements=keys)
    )


def within_dates(column: Any, dates: DateRange) -> list[ColumnElement[bool]]:
    """Conditions keeping a date column within a range, both ends included (an open end adds
    none, so an unlimited lookup's SQL is unchanged)."""
    conditions: list[ColumnElement[bool]] = []
    if dates.since is not None:
        conditions.append(column >= dates.since)
    if dates.until is not None:
        conditions.append(column <= dates.until)
    return conditions


def in_workspace(table: Any, workspace: Workspace) -> Any:
    """The WHERE clause selecting a per-workspace table's rows of one workspace."""
    return and_(table.enterprise_id == workspace.enterprise_id, table.team_id == workspace.team_id)


def in_bound_workspace(table: Any) -> Any:
    """`in_workspace` for a statement built once: the workspace comes as `workspace_binds`."""
    return and_(
        table.enterprise_id == bindparam("w_enterprise"), table.team_id == bindparam("w_team")
    )


def workspace_binds(workspace: Workspace) -> dict[str, str]:
    """The parameters of `in_bound_workspace`."""
    return {"w_enterprise": workspace.enterprise_id, "w_team": workspace.team_id}


def workspace_values(workspace: Workspace) -> dict[str, str]:
    """The workspace columns of a new per-workspace row."""
    return {"enterprise_id": workspace.enterprise_id, "team_id": workspace.team_id}
