"""Who holds a delivery: dead senders on this host are recognised at once (pid and start time),
senders elsewhere only by their lease, which a live sender keeps renewing."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select, update
from support.helpers import NO_BACKOFF, WS
from support.slack_api import SlackStub

from bot.core.ingestion import expand_paths, ingest_files
from bot.delivery.deliverer import Deliverer, everywhere
from bot.delivery.poster import ChannelPacer, SlackPoster, make_lookup_client, make_web_client
from bot.owners import host_id, is_gone, new_owner, own_prefix, process_start
from bot.store import ledger
from bot.store.db import Database
from bot.store.queries import get_issue
from bot.store.tables import DeliveryRow

REPO = Path(__file__).resolve().parents[2]
LATEST = dt.date(2026, 5, 13)


@pytest.fixture
def archive(database: Database) -> Database:
    ingest_files(database, expand_paths([REPO / "seeds"]))
    return database


def test_owner_fits_the_column_and_names_this_process() -> None:
    owner = new_owner()
    assert len(owner) <= 64
    assert owner.startswith(host_id() + f"|{os.getpid()}|")
    assert not is_gone(owner)


def test_a_dead_process_is_gone_and_a_reused_pid_is_not_its_owner() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    started = process_start(child.pid)
    assert started and started != "dead"
    owner = f"{host_id()}|{child.pid}|{started}|abcdef"
    assert not is_gone(owner)
    assert is_gone(f"{host_id()}|{child.pid}|{int(started) - 1}|abcdef")  # same pid, other process
    child.kill()
    deadline = time.time() + 5  # the signal is delivered asynchronously
    while not is_gone(owner) and time.time() < deadline:
        time.sleep(0.01)
    assert is_gone(owner)  # a zombie not yet reaped is gone too
    child.wait()
    assert is_gone(owner)


def test_owners_elsewhere_or_unreadable_are_never_declared_gone() -> None:
    assert not is_gone(f"otherhost/deadbeef|{os.getpid() + 1}|1|abcdef")
    assert not is_gone("some-old-format:123:abc")
    assert not is_gone(None)


def deliverer(database: Database, stub: SlackStub, clock: object, lease: float = 15.0) -> Deliverer:
    lookup = make_lookup_client(
        "xoxb-l", stub.url, timeout=2, sleep=lambda _s: None, backoff=NO_BACKOFF
    )
    poster = SlackPoster(
        make_web_client("xoxb-p", stub.url, timeout=5), ChannelPacer(0), lookup_client=lookup
    )
    return Deliverer(
        database,
        everywhere(poster),
        clock=clock,  # type: ignore[arg-type]
        lease=dt.timedelta(seconds=lease),
        backoff=lambda _s: None,
    )


def test_a_sender_on_another_host_is_waited_for_until_its_lease_runs_out(
    archive: Database,
) -> None:
    now = {"t": dt.datetime(2026, 5, 13, 9, 0, tzinfo=dt.UTC)}
    with archive.write() as session:
        issue = get_issue(session, LATEST)
        assert issue is not None
        delivery_id = ledger.ensure_delivery(session, WS, "CHOST", issue.id, origin="manual")
        session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id == delivery_id)
            .values(
                state="sending",
                lease_owner="elsewhere/0badf00d|4242|99|abcdef",
                lease_until=now["t"] + dt.timedelta(seconds=15),
            )
        )
    with SlackStub() as stub:
        sender = deliverer(archive, stub, lambda: now["t"])
        busy = sender.run(delivery_id)
        assert busy.outcome == "busy" and busy.holder and busy.holder.startswith("elsewhere/")
        now["t"] += dt.timedelta(seconds=16)
        assert sender.run(delivery_id).outcome == "posted"
        assert len(stub.messages("CHOST")) == 1


def test_a_live_sender_keeps_its_lease_while_slack_is_slow(archive: Database) -> None:
    def clock() -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    with SlackStub() as stub:
        stub.hold_next("chat.postMessage", seconds=4.5, after=3)  # 3x the lease
        first = deliverer(archive, stub, clock, lease=1.5)
        results = []
        thread = threading.Thread(
            target=lambda: results.append(first.deliver_issue(WS, "CSLOW", LATEST))
        )
        thread.start()
        while len(stub.all_messages("CSLOW")) < 4:
            time.sleep(0.01)
        time.sleep(2.5)  # the lease would have run out without the heartbeat
        with archive.read() as session:
            delivery_id = session.scalars(select(DeliveryRow.id)).one()
        second = deliverer(archive, stub, clock, lease=1.5).run(delivery_id)
        assert second.outcome == "busy"
        thread.join(30)
        assert results[0].outcome == "posted"
        parents = stub.messages("CSLOW")
        assert len(parents) == 1 and len(stub.thread("CSLOW", parents[0]["ts"])) == 29


def test_the_worker_scan_leaves_out_only_its_own_live_leases(archive: Database) -> None:
    now = dt.datetime.now(dt.UTC)
    lease = dt.timedelta(seconds=15)
    with archive.write() as session:
        issue = get_issue(session, LATEST)
        assert issue is not None
        ids = [ledger.ensure_delivery(session, WS, c, issue.id) for c in ("CA", "CB", "CC", "CD")]
    mine, stale_mine = new_owner(), new_owner()
    elsewhere = f"otherhost/0000|{os.getpid()}|1|abcdef"  # the same pid on another host
    with archive.write() as session:
        assert ledger.claim(session, ids[0], mine, now, lease)
        assert ledger.claim(session, ids[1], stale_mine, now - 2 * lease, lease)  # ran out
        assert ledger.claim(session, ids[2], elsewhere, now, lease)
    with archive.read() as session:
        left = ledger.open_deliveries(session, None, not_held_by=(own_prefix(), now))
        every = ledger.open_deliveries(session, None)
    assert [d.id for d in every] == ids
    assert [d.id for d in left] == ids[1:]  # a pending one, our run-out lease, another host's


def test_the_heartbeat_skips_a_row_the_ledger_writer_holds_instead_of_waiting(
    archive: Database,
) -> None:
    # The fan-out's writer keeps a transaction open over many deliveries' rows while the
    # heartbeat renews them all. Waiting for each other's rows deadlocked on PostgreSQL: one
    # second (its deadlock check) of no posting, every few seconds. SQLite has no row locks.
    if archive.is_sqlite:
        pytest.skip("SQLite locks the whole database, not rows")
    now = dt.datetime.now(dt.UTC)
    lease = dt.timedelta(seconds=30)
    with archive.write() as session:
        issue = get_issue(session, LATEST)
        assert issue is not None
        ids = [ledger.ensure_delivery(session, WS, c, issue.id) for c in ("CH1", "CH2", "CH3")]
        for i in ids:
            assert ledger.claim(session, i, f"owner-{i}", now, lease) is not None
    later = now + dt.timedelta(minutes=5)
    renewed = threading.Event()
    with archive.write() as writer:  # the writer's open batch holds CH2's row
        writer.execute(update(DeliveryRow).where(DeliveryRow.id == ids[1]).values(attempt=7))

        def heartbeat() -> None:
            with archive.write() as session:
                ledger.renew(session, {i: f"owner-{i}" for i in ids}, later, lease)
            renewed.set()

        thread = threading.Thread(target=heartbeat, daemon=True)
        thread.start()
        assert renewed.wait(5), "the heartbeat waited for a row the writer holds"
    thread.join(5)
    with archive.read() as session:
        until = {
            r.id: r.lease_until.replace(tzinfo=dt.UTC)
            for r in session.scalars(select(DeliveryRow).where(DeliveryRow.id.in_(ids)))
            if r.lease_until is not None
        }
    assert until[ids[0]] == until[ids[2]] == later + lease
    assert until[ids[1]] == now + lease  # skipped: its writer's record renews it
