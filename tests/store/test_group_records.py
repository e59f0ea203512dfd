"""Recording many posted parts in one shared transaction (bot.store.group_commit, ledger)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TypeVar

from sqlalchemy import select
from support.helpers import WS, subscribe

from bot.core.ingestion import expand_paths, ingest_files
from bot.store import ledger
from bot.store.db import Database, Session
from bot.store.group_commit import GroupCommit
from bot.store.queries import get_issue
from bot.store.tables import DeliveryMessageRow, DeliveryRow, SubscriptionRow

SEED = Path(__file__).resolve().parents[2] / "seeds" / "2026-05-13.txt"
LEASE = dt.timedelta(seconds=30)
T = TypeVar("T")


def _claimed(database: Database, channels: list[str]) -> list[int]:
    ingest_files(database, expand_paths([SEED]))
    now = dt.datetime.now(dt.UTC)
    with database.write() as session:
        issue = get_issue(session, dt.date(2026, 5, 13))
        assert issue is not None
        ids = [ledger.ensure_delivery(session, WS, c, issue.id) for c in channels]
        for i in ids:
            assert ledger.claim(session, i, f"owner-{i}", now, LEASE) is not None
    return ids


def _in_one_batch(database: Database, records: Sequence[Callable[[Session], T]]) -> list[Future[T]]:
    """Submit the records together, queued behind a first item, so they share one batch."""
    committer = GroupCommit(database, linger=0.5)
    gate = threading.Event()
    first = committer.submit(lambda _session: gate.wait(5))
    futures = [committer.submit(r) for r in records]
    gate.set()
    try:
        assert first.result(10) is True
        for future in futures:
            future.exception(10)  # done, whichever way
    finally:
        committer.close()
    return futures


def test_parts_recorded_in_one_batch_each_get_their_own_answer(database: Database) -> None:
    a, b, c = _claimed(database, ["CA", "CB", "CC"])
    later = dt.datetime.now(dt.UTC) + LEASE
    with database.write() as session:  # C's part 1 was recorded before (found after a crash)
        assert ledger.PartRecord(c, f"owner-{c}", 1, "CC", "1.0003", None, "old")(session)
    records = [
        ledger.PartRecord(a, f"owner-{a}", 0, "CA", "1.0001", None, "fa", (1, later)),
        ledger.PartRecord(b, "not-the-owner", 0, "CB", "1.0002", None, "fb", (1, later)),
        ledger.PartRecord(c, f"owner-{c}", 1, "CC", "1.0003", None, "new", (2, later)),
    ]
    futures = _in_one_batch(database, records)
    assert [f.result(10) for f in futures] == [True, False, True]
    with database.read() as session:
        rows = {r.id: r for r in session.scalars(select(DeliveryRow)).all()}
        messages = {
            (m.delivery_id, m.part): (m.ts, m.fingerprint)
            for m in session.scalars(select(DeliveryMessageRow)).all()
        }
    assert (rows[a].parent_ts, rows[a].inflight_part) == ("1.0001", 1)
    assert (rows[b].parent_ts, rows[b].inflight_part) == (None, None)  # lease not held
    assert rows[c].inflight_part == 2
    assert messages == {(a, 0): ("1.0001", "fa"), (c, 1): ("1.0003", "new")}


def test_a_failing_record_fails_alone(database: Database) -> None:
    a, b = _claimed(database, ["CA", "CB"])
    records = [
        ledger.PartRecord(a, f"owner-{a}", 0, "CA", "1.0001", None),
        # The same ts in the same channel as an existing message: the unique key refuses it.
        ledger.PartRecord(b, f"owner-{b}", 0, "CA", "1.0001", None),
    ]
    futures = _in_one_batch(database, records)
    assert futures[0].result(10) is True
    assert futures[1].exception(10) is not None
    with database.read() as session:
        assert session.scalars(select(DeliveryMessageRow.delivery_id)).all() == [a]


def test_deliveries_completed_in_one_batch_end_only_where_the_lease_is_held(
    database: Database,
) -> None:
    # A fan-out's channels finish within seconds of each other: thousands of completions,
    # which the ledger writer runs as one statement each for the whole batch.
    a, b, c = _claimed(database, ["CA", "CB", "CC"])
    subscribe(database, "CA", "CB", "CC", now=dt.datetime.now(dt.UTC))
    with database.write() as session:
        for channel in ("CA", "CB"):
            ledger.mark_subscription_failing(session, WS, channel, "not_in_channel")
    at = dt.datetime(2026, 5, 13, 9, 30, tzinfo=dt.UTC)
    completions = [
        ledger.Completion(WS, a, f"owner-{a}", "CA", at, "hash-a"),
        ledger.Completion(WS, b, "not-the-owner", "CB", at, "hash-b"),
        ledger.Completion(WS, c, f"owner-{c}", "CC", at),
    ]
    futures = _in_one_batch(database, completions)
    assert [f.result(10) for f in futures] == [True, False, True]
    with database.read() as session:
        rows = {r.id: r for r in session.scalars(select(DeliveryRow)).all()}
        failing = {
            s.channel_id: (s.failing, s.last_error)
            for s in session.scalars(select(SubscriptionRow)).all()
        }
    ended = {i: (r.state, r.lease_owner, r.synced_hash) for i, r in rows.items()}
    assert ended == {
        a: (ledger.POSTED, None, "hash-a"),
        b: (ledger.SENDING, f"owner-{b}", None),  # someone else's now: left as it is
        c: (ledger.POSTED, None, None),
    }
    assert rows[a].finished_at is not None
    assert rows[a].finished_at.replace(tzinfo=dt.UTC) == at
    assert rows[a].lease_until is None
    # Cleared where the delivery ended; a delivery someone else holds says nothing of it.
    assert failing["CA"] == (False, None)
    assert failing["CC"] == (False, None)
    assert failing["CB"] == (True, "not_in_channel")
