"""SQL helpers shared by the store modules (kept apart so no aggregate imports another for them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.dates import DateRange


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
