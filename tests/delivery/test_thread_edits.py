"""Corrected issues update posted threads in place, against the Slack stand-in, both backends."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from support.corrected_issue import ADDED_TITLE, CHANGED_TITLE, REMOVED_TITLE, write_corrected
from support.helpers import WS
from support.slack_api import SlackStub

from bot.clock import utc_now
from bot.core.ingestion import expand_paths, ingest_files
from bot.delivery.deliverer import Deliverer, everywhere
from bot.delivery.poster import ChannelPacer, SlackPoster, make_web_client
from bot.slack.rendering import REMOVED_ARTICLE
from bot.store import filters
from bot.store.db import Database
from bot.store.filters import Rule
from bot.store.tables import DeliveryMessageRow, DeliveryRow
from bot.worker.dispatcher import Dispatcher

REPO = Path(__file__).resolve().parents[2]
LATEST = dt.date(2026, 5, 13)
PARTS = 30  # parent, 28 deep dives, patterns


@pytest.fixture
def stub() -> Iterator[SlackStub]:
    with SlackStub() as s:
        yield s


@pytest.fixture
def archive(database: Database) -> Database:
    ingest_files(database, expand_paths([REPO / "seeds"]))
    return database


def make_deliverer(database: Database, stub: SlackStub) -> Deliverer:
    client = make_web_client("xoxb-test", stub.url, timeout=2)
    poster = SlackPoster(client, ChannelPacer(interval=0.0), lookup_client=client)
    return Deliverer(database, everywhere(poster), backoff=lambda _s: None)


def content(message: dict[str, Any]) -> str:
    return json.dumps([message["text"], message["blocks"]], sort_keys=True, ensure_ascii=False)


def updates(stub: SlackStub, channel: str) -> list[str]:
    """The ts of every chat.update call to a channel, in order."""
    return [
        str(c.params["ts"]) for c in stub.calls_to("chat.update") if c.params["channel"] == channel
    ]


def correct(database: Database, tmp_path: Path) -> None:
    report = ingest_files(database, [write_corrected(tmp_path / "corrected")])
    assert not report.failed


def reply_titled(stub: SlackStub, channel: str, title: str) -> dict[str, Any]:
    parent = stub.messages(channel)[0]
    return next(r for r in stub.thread(channel, parent["ts"]) if title in r["text"])


def test_a_corrected_issue_edits_every_thread_that_got_it(
    archive: Database, stub: SlackStub, tmp_path: Path
) -> None:
    deliverer = make_deliverer(archive, stub)
    with archive.write() as session:
        rule = Rule("include", "company", "Cloudflare")
        filters.add_rule(session, WS, "CFILT", rule, "U1")
    assert deliverer.deliver_issue(WS, "CALL", LATEST).outcome == "posted"
    assert deliverer.deliver_issue(WS, "CFILT", LATEST).outcome == "posted"
    removed_ts = reply_titled(stub, "CALL", REMOVED_TITLE)["ts"]
    changed_ts = reply_titled(stub, "CALL", CHANGED_TITLE)["ts"]
    assert "1 of 28 deep dives" in json.dumps(stub.messages("CFILT")[0]["blocks"])
    assert not stub.calls_to("chat.update")

    correct(archive, tmp_path)
    dispatcher = Dispatcher(archive, deliverer, utc_now)
    results = dispatcher.tick()
    assert sorted((r.channel_id, r.outcome, r.edited, r.posted) for r in results) == [
        ("CALL", "posted", 3, 1),
        ("CFILT", "posted", 1, 1),
    ]
    parent = stub.messages("CALL")[0]
    assert len(stub.messages("CALL")) == 1 and len(stub.messages("CFILT")) == 1  # no new parent
    assert sorted(updates(stub, "CALL")) == sorted([parent["ts"], changed_ts, removed_ts])
    assert updates(stub, "CFILT") == [stub.messages("CFILT")[0]["ts"]]
    assert "12x reduction" in parent["text"]
    assert "every 10 ms" in json.dumps(reply_titled(stub, "CALL", CHANGED_TITLE)["blocks"])
    removed = next(m for m in stub.all_messages("CALL") if m["ts"] == removed_ts)
    assert REMOVED_ARTICLE in json.dumps(removed["blocks"], ensure_ascii=False)
    replies = stub.thread("CALL", parent["ts"])
    assert ADDED_TITLE in replies[-1]["text"] and len(replies) == PARTS  # appended at the end
    assert replies[-1]["metadata"]["event_payload"]["part"] == PARTS
    filtered = stub.thread("CFILT", stub.messages("CFILT")[0]["ts"])
    assert [ADDED_TITLE in r["text"] for r in filtered] == [False, False, True]
    assert "2 of 28 deep dives" in json.dumps(stub.messages("CFILT")[0]["blocks"])

    # The thread now reads as a fresh post of the corrected issue does (plus the removal note).
    assert deliverer.deliver_issue(WS, "CFRESH", LATEST).outcome == "posted"
    fresh = stub.all_messages("CFRESH")
    edited = [m for m in stub.all_messages("CALL") if m["ts"] != removed_ts]
    assert content(fresh[0]) == content(edited[0])
    assert sorted(map(content, fresh[1:])) == sorted(map(content, edited[1:]))

    # Nothing more to do: a second pass and a `post` rerun edit and post nothing.
    calls = len(stub.calls)
    assert dispatcher.tick() == []
    again = deliverer.deliver_issue(WS, "CALL", LATEST, update=True)
    assert (again.outcome, again.edited, again.posted) == ("already", 0, 0)
    assert [c.method for c in stub.calls[calls:]] == []


def test_post_rerun_brings_a_posted_thread_up_to_date(
    archive: Database, stub: SlackStub, tmp_path: Path
) -> None:
    deliverer = make_deliverer(archive, stub)
    deliverer.deliver_issue(WS, "CPOST", LATEST)
    correct(archive, tmp_path)
    # Without `update` (the schedule's own path) nothing is touched.
    assert deliverer.deliver_issue(WS, "CPOST", LATEST).outcome == "already"
    assert not stub.calls_to("chat.update")
    stub.fail_next("chat.update", status=500, after=1)  # an ambiguous failure is retried
    result = deliverer.deliver_issue(WS, "CPOST", LATEST, update=True)
    assert (result.outcome, result.edited, result.posted) == ("posted", 3, 1)
    assert len(updates(stub, "CPOST")) == 4  # three edits, one of them sent twice
    assert len(set(updates(stub, "CPOST"))) == 3
    with archive.read() as session:
        rows = session.execute(
            select(DeliveryMessageRow.fingerprint, DeliveryMessageRow.editing)
        ).all()
    assert all(f is not None and e is None for f, e in rows)


def test_only_threads_posted_within_the_edit_window_are_edited(
    archive: Database, stub: SlackStub, tmp_path: Path
) -> None:
    deliverer = make_deliverer(archive, stub)
    for channel in ("COLD", "CNEW"):
        deliverer.deliver_issue(WS, channel, LATEST)
    with archive.write() as session:
        session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.channel_id == "COLD")
            .values(created_at=utc_now() - dt.timedelta(days=8))
        )
    correct(archive, tmp_path)
    dispatcher = Dispatcher(archive, deliverer, utc_now, edit_window=dt.timedelta(days=7))
    assert [r.channel_id for r in dispatcher.tick()] == ["CNEW"]
    assert not updates(stub, "COLD") and len(updates(stub, "CNEW")) == 3
    wider = Dispatcher(archive, deliverer, utc_now, edit_window=dt.timedelta(days=9))
    assert [r.channel_id for r in wider.tick()] == ["COLD"]
    assert len(updates(stub, "COLD")) == 3 and len(updates(stub, "CNEW")) == 3


def test_an_edit_whose_message_was_deleted_is_skipped(
    archive: Database, stub: SlackStub, tmp_path: Path
) -> None:
    deliverer = make_deliverer(archive, stub)
    deliverer.deliver_issue(WS, "CDEL", LATEST)
    changed_ts = reply_titled(stub, "CDEL", CHANGED_TITLE)["ts"]
    stub.fail_next("chat.update", status=200, error="message_not_found", after=1)
    correct(archive, tmp_path)
    result = deliverer.deliver_issue(WS, "CDEL", LATEST, update=True)
    assert result.outcome == "posted" and len(updates(stub, "CDEL")) == 3
    assert changed_ts in updates(stub, "CDEL")
