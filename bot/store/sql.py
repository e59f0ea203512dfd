"""SQL helpers shared by the store modules (kept apart so no aggregate imports another for them)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

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


class PrecompiledStatement:
    """A hot statement compiled once per dialect and run on the driver's cursor, inside the
    session's transaction.

    For the ledger's one-row writes, run once per Slack message by the fan-out, SQLAlchemy's
    per-execution work (execution context, events, result object) costs more than the
    statement itself. The values still pass through each parameter's type (bind_processor),
    so they are stored exactly as SQLAlchemy would store them.
    """

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._ready: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def run(self, session: Session, params: dict[str, Any]) -> int:
        """Execute with these parameters; the number of rows it changed."""
        return self.run_many(session, [params])[0]

    def run_many(self, session: Session, many: Sequence[dict[str, Any]]) -> list[int]:
        """Execute once per parameter set, in order; the rows each changed. With psycopg the
        executions are pipelined: one round trip to the server for all, not one each."""
        connection = session.connection()
        ready = self._ready.get(connection.dialect.name) or self._compile(connection.dialect)
        rows = [ready.values(params) for params in many]
        if not rows:
            return []
        cursor = connection.connection.cursor()
        try:
            if len(rows) > 1 and connection.dialect.driver == "psycopg":
                cursor.executemany(ready.sql, rows, returning=True)  # type: ignore[call-arg,arg-type]
                counts = [int(cursor.rowcount)]
                while cursor.nextset():
                    counts.append(int(cursor.rowcount))
                return counts
            counts = []
            for values in rows:
                cursor.execute(ready.sql, values)
                counts.append(int(cursor.rowcount))
            return counts
        finally:
            cursor.close()

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        if compiled.insert_prefetch or compiled.update_prefetch:
            # Python-side column defaults are applied by SQLAlchemy's execution, bypassed here.
            missing = [c.name for c in (*compiled.insert_prefetch, *compiled.update_prefetch)]
            raise ValueError(
                f"give these columns explicitly in a PrecompiledStatement statement: {missing}"
            )
        binds = compiled.binds
        processors = {name: bind.type.bind_processor(dialect) for name, bind in binds.items()}
        # Constants written into the statement (e.g. state = 'sending') are binds too.
        defaults = {
            name: bind.value if bind.value is None else (processors[name] or _same)(bind.value)
            for name, bind in binds.items()
            if not bind.required
        }
        ready = _Compiled(
            str(compiled),
            list(compiled.positiontup) if dialect.positional else None,
            {name: p for name, p in processors.items() if p is not None},
            defaults,
        )
        with self._lock:
            self._ready[dialect.name] = ready
        return ready


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class _Compiled:
    """A statement's SQL for one dialect, its parameter order and type processing."""

    sql: str
    order: list[str] | None  # parameter names in place order (positional drivers); None: named
    processors: dict[str, Callable[[Any], Any]]
    defaults: dict[str, Any]  # constants written into the statement

    def values(self, params: dict[str, Any]) -> dict[str, Any] | tuple[Any, ...]:
        """The driver's parameters for these values, each through its type's processor."""
        values = dict(self.defaults)
        for name, value in params.items():
            process = self.processors.get(name)
            values[name] = process(value) if process is not None and value is not None else value
        return values if self.order is None else tuple(values[name] for name in self.order)
