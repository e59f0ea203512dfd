"""The worker sends only what was asked: scheduled deliveries of subscribed channels, due by the
schedule rules. A manual `post` that sent nothing leaves nothing behind; a half-sent one waits
for a rerun of `post` and is shown by `subscriptions list` and `/digest status`."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from support.helpers import NO_BACKOFF, WS, clean_env, subscribe
from support.slack_api import SlackStub

from bot.config import Settings
from bot.core.grammar import parse_request
from bot.core.ingestion import expand_paths, ingest_files
from bot.delivery.deliverer import Deliverer, everywhere
from bot.delivery.poster import ChannelPacer, SlackPoster, make_lookup_client, make_web_client
from bot.slack.answers import Answers, Asker
from bot.store import ledger
from bot.store.db import Database
from bot.store.queries import get_issue
from bot.store.tables import DeliveryRow
from bot.worker.dispatcher import Dispatcher

REPO = Path(__file__).resolve().parents[2]
LATEST = dt.date(2026, 5, 13)
OLD = dt.date(2026, 5, 1)
NOW = dt.datetime(2026, 5, 13, 9, 5, tzinfo=dt.UTC)
SUBSCRIBED = NOW - dt.timedelta(days=3)


@pytest.fixture
def archive(database: Database) -> Database:
    ingest_files(database, expand_paths([REPO / "seeds"]))
    return database


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/"  # nothing listens: connection refused


def deliverer(database: Database, url: str) -> Deliverer:
    lookup = make_lookup_client("xoxb-l", url, timeout=1, sleep=lambda _s: None, backoff=NO_BACKOFF)
    poster = SlackPoster(
        make_web_client("xoxb-p", url, timeout=1), ChannelPacer(0), lookup_client=lookup
    )
    return Deliverer(database, everywhere(poster), clock=lambda: NOW, backoff=lambda _s: None)


def test_a_manual_post_that_sent_nothing_leaves_nothing_for_the_worker(archive: Database) -> None:
    result = deliverer(archive, closed_port_url()).deliver_issue(WS, "C1", OLD)
    assert result.outcome == "retry_later" and result.posted == 0 and result.forgotten
    with archive.read() as session:
        assert session.scalars(select(DeliveryRow)).all() == []
    with SlackStub() as stub:
        subscribe(
            archive, "C2", now=NOW - dt.timedelta(days=3)
        )  # the worker has work elsewhere, none for C1
        dispatcher = Dispatcher(archive, deliverer(archive, stub.url), lambda: NOW)
        dispatcher.tick()
        assert stub.all_messages("C1") == []
        assert len(stub.messages("C2")) == 1


def test_the_worker_sends_only_scheduled_deliveries_of_subscribed_channels_in_time(
    archive: Database,
) -> None:
    with archive.write() as session:
        issue = get_issue(session, OLD)
        assert issue is not None
        # Pending deliveries nobody asked the worker for: a channel without subscription,
        # a manual post, and a scheduled one whose grace period is long over.
        ledger.ensure_delivery(session, WS, "CNOSUB", issue.id, due_at=NOW, origin="schedule")
        ledger.ensure_delivery(session, WS, "CMANUAL", issue.id, due_at=NOW, origin="manual")
        ledger.ensure_delivery(
            session, WS, "CLATE", issue.id, due_at=NOW - dt.timedelta(hours=7), origin="schedule"
        )
    for channel in ("CMANUAL", "CLATE"):
        subscribe(archive, channel, now=SUBSCRIBED)
    with SlackStub() as stub:
        dispatcher = Dispatcher(archive, deliverer(archive, stub.url), lambda: NOW)
        dispatcher.tick()
        assert stub.all_messages("CNOSUB") == []
        assert stub.all_messages("CMANUAL") == [] or all(
            m["metadata"]["event_payload"]["issue"] == LATEST.isoformat()
            for m in stub.all_messages("CMANUAL")
        )
        assert not [
            m
            for m in stub.all_messages("CLATE")
            if m["metadata"]["event_payload"]["issue"] == OLD.isoformat()
        ]
    with archive.read() as session:
        states = {
            (r.channel_id, r.issue_id == issue.id): r.state
            for r in session.scalars(select(DeliveryRow))
        }
    assert states[("CNOSUB", True)] == "pending"
    assert states[("CMANUAL", True)] == "pending"
    assert states[("CLATE", True)] == "skipped"


@pytest.mark.slow
def test_a_half_sent_manual_thread_is_shown_and_finished_by_rerunning_post(
    archive: Database, database_url: str, tmp_path: Path
) -> None:
    with SlackStub() as stub:
        stub.fail_next("chat.postMessage", status=500, after=5, times=100)
        half = deliverer(archive, stub.url).deliver_issue(WS, "CHALF", LATEST)
        assert half.outcome == "retry_later" and len(stub.all_messages("CHALF")) == 5
        stub.reset_faults()
        # The worker leaves it alone (not subscribed, and manual).
        Dispatcher(archive, deliverer(archive, stub.url), lambda: NOW).tick()
        assert len(stub.all_messages("CHALF")) == 5
        hint = f"python -m bot post --channel CHALF --date {LATEST}"
        status = Answers(archive, Settings(), lambda: NOW).answer(
            parse_request("status"), Asker("U1", "CHALF", WS)
        )
        assert "Unfinished" in status.text and hint in status.text
        listed = subprocess.run(
            [sys.executable, "-m", "bot", "subscriptions", "list"],
            env=clean_env(DATABASE_URL=database_url),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        assert "CHALF (not subscribed)" in listed and hint in listed
        done = deliverer(archive, stub.url).deliver_issue(WS, "CHALF", LATEST, retry_failed=True)
        assert done.outcome == "posted"
        parents = stub.messages("CHALF")
        assert len(parents) == 1 and len(stub.thread("CHALF", parents[0]["ts"])) == 29
        status = Answers(archive, Settings(), lambda: NOW).answer(
            parse_request("status"), Asker("U1", "CHALF", WS)
        )
        assert "Unfinished" not in status.text


def test_each_delivery_is_logged_as_it_finishes(archive: Database) -> None:
    import logging

    from bot.delivery.pacer import Pacer

    subscribe(archive, "CGONE", "CSLOW", hour=9, now=SUBSCRIBED)
    logged: list[tuple[str, int]] = []

    class Seen(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("delivery to"):
                logged.append((record.getMessage(), len(stub.all_messages("CSLOW"))))

    seen = Seen()
    dispatcher_log = logging.getLogger("bot.worker.dispatcher")
    dispatcher_log.addHandler(seen)
    level = dispatcher_log.level
    dispatcher_log.setLevel(logging.INFO)  # as the worker runs
    try:
        with SlackStub() as stub:
            stub.fail_channel("CGONE")
            sender = deliverer(archive, stub.url)
            sender.engine.pacer = Pacer(channel_interval=0.02, workspace_per_minute=None)
            Dispatcher(archive, sender, lambda: NOW).tick()
    finally:
        dispatcher_log.removeHandler(seen)
        dispatcher_log.setLevel(level)
    (gone,) = [n for m, n in logged if "CGONE" in m]
    (slow,) = [m for m, _ in logged if "CSLOW" in m]
    # The refused channel's line is written at once, not when the 30-message thread is done.
    assert gone < 30 and "posted (30 messages)" in slow
