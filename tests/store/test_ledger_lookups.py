"""The ledger's per-message statements find their rows through an index, never by walking a
table: a fan-out records tens of thousands of parts, and a walk per record made it quadratic."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select

from bot.core.ingestion import expand_paths, ingest_files
from bot.store import ledger
from bot.store.db import Database
from bot.store.queries import get_issue
from bot.store.tables import DeliveryMessageRow
from bot.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
WS = Workspace("T1")
LEASE = dt.timedelta(seconds=60)
CHANNELS = 130  # more than one lookup chunk


def _claimed(database: Database) -> list[int]:
    """CHANNELS deliveries of one issue, each claimed by its own owner."""
    ingest_files(database, expand_paths([REPO / "seeds"]))
    now = dt.datetime.now(dt.UTC)
    with database.write() as session:
        issue = get_issue(session, dt.date(2026, 5, 13))
        assert issue is not None
        ids = [ledger.ensure_delivery(session, WS, f"C{i:04d}", issue.id) for i in range(CHANNELS)]
        for delivery_id in ids:
            assert ledger.claim(session, delivery_id, f"owner-{delivery_id}", now, LEASE)
    return ids


def _records(ids: list[int], part: int, fingerprint: str) -> list[ledger.PartRecord]:
    return [
        ledger.PartRecord(i, f"owner-{i}", part, f"C{n:04d}", f"1.{n}{part}", None, fingerprint)
        for n, i in enumerate(ids)
    ]


def test_recording_parts_walks_no_table(database: Database) -> None:
    ids = _claimed(database)
    with database.write() as session:
        ledger.record_parts(session, _records(ids, 0, "a"))  # rows for the lookups to skip
    statements: list[tuple[str, Any]] = []

    def seen(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, many: bool) -> None:
        statements.append((statement, parameters[0] if many else parameters))

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        with database.write() as session:
            held = ledger.record_parts(session, _records(ids, 1, "b"))
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
    assert held == [True] * CHANNELS
    assert any("delivery_messages" in s for s, _ in statements)
    if not database.is_sqlite:
        return  # PostgreSQL plans by table statistics: the plan is checked on SQLite
    with database.read() as session:
        connection = session.connection()
        for statement, parameters in statements:
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            walks = [row[3] for row in plan if str(row[3]).startswith("SCAN ")]
            walks = [w for w in walks if "CONSTANT ROW" not in w]
            assert not walks, f"{statement[:120]}: {walks}"


def test_parts_recorded_again_keep_one_row_and_take_the_new_fingerprint(
    database: Database,
) -> None:
    ids = _claimed(database)
    with database.write() as session:
        assert ledger.record_parts(session, _records(ids, 0, "old")) == [True] * CHANNELS
    with database.write() as session:
        mixed = _records(ids, 0, "new") + _records(ids, 1, "first")
        assert ledger.record_parts(session, mixed) == [True] * (2 * CHANNELS)
    with database.read() as session:
        m = DeliveryMessageRow
        counted = select(m.part, m.fingerprint, func.count()).group_by(m.part, m.fingerprint)
        rows = session.execute(counted)
        assert sorted(rows.tuples()) == [(0, "new", CHANNELS), (1, "first", CHANNELS)]
