"""Delivering issues exactly once, against the Slack stand-in, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import event, select
from support.helpers import WS, subscribe
from support.slack_api import SlackStub

from bot.core import settings
from bot.core.ingestion import expand_paths, ingest_files
from bot.delivery.deliverer import Deliverer, everywhere
from bot.delivery.engine import blocking
from bot.delivery.plan import read_or_record_plan
from bot.delivery.poster import ChannelPacer, SlackPoster, make_web_client
from bot.slack.rendering import Message
from bot.store import ledger
from bot.store.db import Database, Session
from bot.store.queries import get_issue
from bot.store.tables import DeliveryRow, SubscriptionRow
from bot.worker.dispatcher import Dispatcher
from bot.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
LATEST = dt.date(2026, 5, 13)
LATEST_PARTS = 1 + 28 + 1  # parent, deep dives, patterns
T = TypeVar("T")


@pytest.fixture
def stub() -> Iterator[SlackStub]:
    with SlackStub() as s:
        yield s


@pytest.fixture
def archive(database: Database) -> Database:
    ingest_files(database, expand_paths([REPO / "seeds"]))
    return database


def make_deliverer(database: Database, stub: SlackStub, **kwargs: object) -> Deliverer:
    client = make_web_client("xoxb-test", stub.url, timeout=1)
    poster = SlackPoster(client, ChannelPacer(interval=0.0))
    return Deliverer(database, everywhere(poster), backoff=lambda _s: None, **kwargs)  # type: ignore[arg-type]


def assert_thread_once(stub: SlackStub, channel: str, parts: int = LATEST_PARTS) -> None:
    parents = stub.messages(channel)
    assert len(parents) == 1, [m.get("text", "")[:40] for m in parents]
    parent = parents[0]
    assert "Engineering @ Scale" in parent["text"]
    replies = stub.thread(channel, parent["ts"])
    numbers = [r["metadata"]["event_payload"]["part"] for r in replies]
    assert numbers == list(range(1, parts)), numbers


def test_post_then_post_again_sends_nothing(archive: Database, stub: SlackStub) -> None:
    deliverer = make_deliverer(archive, stub)
    first = deliverer.deliver_issue(WS, "C1", LATEST)
    assert (first.outcome, first.posted) == ("posted", LATEST_PARTS)
    second = deliverer.deliver_issue(WS, "C1", LATEST)
    assert (second.outcome, second.posted) == ("already", 0)
    assert_thread_once(stub, "C1")
    calls = stub.calls_to("chat.postMessage")
    assert all(c.params.get("unfurl_links") in (False, "false", "0") for c in calls)
    assert all("link_names" not in c.params and "parse" not in c.params for c in calls)


def test_rate_limit_mid_thread_waits_and_continues(archive: Database, stub: SlackStub) -> None:
    stub.fail_next("chat.postMessage", status=429, retry_after=1, after=5, times=2)
    result = make_deliverer(archive, stub).deliver_issue(WS, "C2", LATEST)
    assert result.outcome == "posted"
    assert_thread_once(stub, "C2")


def test_server_errors_mid_thread_are_retried_without_duplicates(
    archive: Database, stub: SlackStub
) -> None:
    stub.fail_next("chat.postMessage", status=500, after=3, times=2)
    result = make_deliverer(archive, stub).deliver_issue(WS, "C3", LATEST)
    assert result.outcome == "posted"
    assert_thread_once(stub, "C3")


def test_accepted_but_unanswered_post_is_found_not_reposted(
    archive: Database, stub: SlackStub
) -> None:
    stub.drop_response_next("chat.postMessage", after=7)
    result = make_deliverer(archive, stub).deliver_issue(WS, "C4", LATEST)
    assert result.outcome == "posted"
    assert_thread_once(stub, "C4")
    assert stub.calls_to("conversations.replies") or stub.calls_to("conversations.history")


def test_timeout_mid_thread(archive: Database, stub: SlackStub) -> None:
    stub.fail_next("chat.postMessage", timeout=2.0, after=10)
    result = make_deliverer(archive, stub).deliver_issue(WS, "C5", LATEST)
    assert result.outcome == "posted"
    assert_thread_once(stub, "C5")


def test_permanent_error_stops_one_channel_only(archive: Database, stub: SlackStub) -> None:
    now = dt.datetime(2026, 5, 13, 9, 0, 30, tzinfo=dt.UTC)
    subscribe(archive, "C10", "C11", "C12", now=now - dt.timedelta(days=1))
    stub.fail_channel("C11", error="not_in_channel")
    dispatcher = Dispatcher(archive, make_deliverer(archive, stub, clock=lambda: now), lambda: now)
    results = {r.channel_id: r for r in dispatcher.tick()}
    assert results["C10"].outcome == results["C12"].outcome == "posted"
    assert results["C11"].outcome == "failed" and results["C11"].error == "not_in_channel"
    assert_thread_once(stub, "C10")
    assert_thread_once(stub, "C12")
    with archive.read() as session:
        failing = session.scalars(
            select(SubscriptionRow).where(SubscriptionRow.channel_id == "C11")
        ).one()
        assert failing.failing and failing.last_error == "not_in_channel"
    # A second tick posts nothing more anywhere.
    assert not [r for r in dispatcher.tick() if r.posted]


def test_two_senders_at_once_post_once(archive: Database, stub: SlackStub) -> None:
    deliverers = [make_deliverer(archive, stub) for _ in range(4)]
    results = []
    barrier = threading.Barrier(len(deliverers))

    def run(d: Deliverer) -> None:
        barrier.wait()
        results.append(d.deliver_issue(WS, "C20", LATEST))

    threads = [threading.Thread(target=run, args=(d,)) for d in deliverers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.outcome for r in results).count("posted") == 1
    assert_thread_once(stub, "C20")


def test_two_dispatchers_racing_post_each_channel_once(archive: Database, stub: SlackStub) -> None:
    now = dt.datetime(2026, 5, 13, 9, 1, tzinfo=dt.UTC)
    channels = [f"C3{i}" for i in range(5)]
    subscribe(archive, *channels, now=now - dt.timedelta(days=1))
    dispatchers = [
        Dispatcher(archive, make_deliverer(archive, stub, clock=lambda: now), lambda: now)
        for _ in range(2)
    ]
    threads = [threading.Thread(target=d.tick) for d in dispatchers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for channel in channels:
        assert_thread_once(stub, channel)
    with archive.read() as session:
        states = session.scalars(select(DeliveryRow.state)).all()
    assert states == ["posted"] * len(channels)


def test_schedule_respects_time_max_age_and_grace(archive: Database, stub: SlackStub) -> None:
    subscribed = dt.datetime(2026, 5, 12, 12, 0, tzinfo=dt.UTC)
    subscribe(archive, "C40", timezone="Asia/Kolkata", days="weekdays", now=subscribed)
    clock = {"now": dt.datetime(2026, 5, 13, 3, 29, tzinfo=dt.UTC)}  # 08:59 IST

    def now() -> dt.datetime:
        return clock["now"]

    dispatcher = Dispatcher(archive, make_deliverer(archive, stub, clock=now), now)
    assert dispatcher.tick() == []
    clock["now"] = dt.datetime(2026, 5, 13, 3, 30, tzinfo=dt.UTC)  # 09:00 IST
    results = dispatcher.tick()
    assert [(r.issue_date, r.outcome) for r in results] == [(LATEST, "posted")]
    clock["now"] += dt.timedelta(minutes=1)
    assert dispatcher.tick() == []
    # Days later, with no newer issue, the old one is not posted again or anywhere new.
    subscribe(archive, "C41", now=subscribed)
    clock["now"] = dt.datetime(2026, 5, 20, 9, 0, tzinfo=dt.UTC)
    assert dispatcher.tick() == []
    assert stub.messages("C41") == []


def test_scheduling_creates_each_due_delivery_once(archive: Database, stub: SlackStub) -> None:
    now = dt.datetime(2026, 5, 13, 9, 0, 30, tzinfo=dt.UTC)
    subscribe(archive, "C50", "C51", "C52", now=now - dt.timedelta(days=1))
    with archive.write() as session:  # one of them already has its delivery (e.g. a rerun)
        issue = get_issue(session, LATEST)
        assert issue is not None
        existing = ledger.ensure_delivery(session, WS, "C51", issue.id, origin="manual")
    dispatcher = Dispatcher(archive, make_deliverer(archive, stub, clock=lambda: now), lambda: now)
    assert dispatcher.schedule_due() == 2  # C51 has its delivery already
    assert dispatcher.schedule_due() == 0
    with archive.read() as session:
        rows = session.scalars(select(DeliveryRow).order_by(DeliveryRow.channel_id)).all()
        assert [(r.channel_id, r.issue_id, r.team_id, r.state) for r in rows] == [
            (c, issue.id, WS.team_id, ledger.PENDING) for c in ("C50", "C51", "C52")
        ]
        assert [r.origin for r in rows] == ["schedule", "manual", "schedule"]
        assert rows[1].id == existing and rows[1].due_at is None
        due = dt.datetime(2026, 5, 13, 9, 0, tzinfo=dt.UTC)
        assert rows[0].due_at is not None and rows[0].due_at.replace(tzinfo=dt.UTC) == due


def test_each_workspace_gets_its_own_save_emoji_in_the_thread(
    archive: Database, stub: SlackStub
) -> None:
    here, there = Workspace("T0STAR"), Workspace("T0BOOK")
    settings.set_save_emoji(archive, here, ":star:", "bookmark", dt.datetime.now(dt.UTC))
    deliverer = make_deliverer(archive, stub, save_emoji="bookmark")
    with archive.write() as session:
        issue = get_issue(session, LATEST)
        assert issue is not None
        ids = [
            ledger.ensure_delivery(session, ws, ch, issue.id)
            for ws, ch in ((here, "CS"), (there, "CB"))
        ]
    # Both under way at once: one rendering of the day must not serve the other workspace.
    results = blocking(Deliverer.deliver_all)(deliverer, [(here, ids[0]), (there, ids[1])])
    assert [r.outcome for r in results] == ["posted", "posted"]
    star, book = (json.dumps(stub.messages(ch)[0]["blocks"]) for ch in ("CS", "CB"))
    assert ":star: to save one" in star and ":bookmark:" not in star
    assert ":bookmark: to save one" in book and ":star:" not in book
    assert_thread_once(stub, "CS")
    assert_thread_once(stub, "CB")


def test_claims_in_one_transaction_share_the_issue_and_take_four_statements_each(
    archive: Database,
) -> None:
    # The fan-out claims thousands of deliveries at its start, many per shared transaction
    # (bot/store/group_commit.py): what one issue's claims have in common is read once, and
    # each claim is its claiming UPDATE … RETURNING, its messages, its channel's rules and its
    # plan. (It was twelve statements a claim, and claiming held new channels back.)
    with archive.write() as session:
        issue = get_issue(session, LATEST)
        assert issue is not None
        ids = [ledger.ensure_delivery(session, WS, f"C6{i}", issue.id) for i in range(5)]
    statements: list[str] = []

    def note(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if statement.split()[0].upper() not in ("BEGIN", "PRAGMA"):  # the transaction's own
            statements.append(statement)

    now = dt.datetime.now(dt.UTC)
    event.listen(archive.engine, "before_cursor_execute", note)
    try:
        with archive.write() as session:
            claims = [ledger.claim(session, i, "owner", now, dt.timedelta(seconds=15)) for i in ids]
            recorded = [read_or_record_plan(session, c) for c in claims if c is not None]
    finally:
        event.remove(archive.engine, "before_cursor_execute", note)
    assert len(recorded) == 5
    assert all(r.plan.articles == recorded[0].plan.articles and not r.states for r in recorded)
    assert len(recorded[0].plan.articles) == LATEST_PARTS - 2
    assert len(statements) <= 3 + 4 * 5, statements
    with archive.read() as session:
        rows = session.scalars(select(DeliveryRow).where(DeliveryRow.id.in_(ids))).all()
        assert {(r.state, r.lease_owner, r.attempt) for r in rows} == {(ledger.SENDING, "owner", 1)}
        assert all(r.plan is not None for r in rows)


def count_writes(deliverer: Deliverer) -> list[str]:
    """The names of the ledger writes the deliverer's engine commits, as it commits them."""
    writes: list[str] = []
    commit = deliverer.engine.write

    async def counted(work: Callable[[Session], T]) -> T:
        writes.append(getattr(work, "__qualname__", type(work).__name__))
        return await commit(work)

    deliverer.engine.write = counted  # type: ignore[method-assign]
    return writes


def test_a_new_threads_parent_is_noted_in_flight_by_its_claim(
    archive: Database, stub: SlackStub
) -> None:
    # At a fan-out's start thousands of first posts each waited for a write of their own (the
    # in-flight note); the claim makes it. Then each part takes one write, its record (which
    # notes the next part in flight), and the end one more.
    deliverer = make_deliverer(archive, stub)
    writes = count_writes(deliverer)
    with archive.write() as session:
        issue = get_issue(session, LATEST)
        assert issue is not None
        delivery_id = ledger.ensure_delivery(session, WS, "C70", issue.id)
    noted: list[tuple[int | None, int]] = []
    poster = deliverer.transports(WS)
    post = poster.post

    async def post_noting(channel: str, message: Message, **kwargs: Any) -> str:
        with archive.read() as session:
            row = session.get(DeliveryRow, delivery_id)
            assert row is not None and row.state == ledger.SENDING
            noted.append((row.inflight_part, len(writes)))
        return await post(channel, message, **kwargs)

    poster.post = post_noting  # type: ignore[method-assign]
    assert deliverer.run(delivery_id).outcome == "posted"
    assert noted[0] == (0, 1)  # the parent: noted in flight by the claim, nothing between
    assert noted[1] == (1, 2)  # part 1: noted by the parent's record
    assert len(writes) == 1 + LATEST_PARTS + 1, writes
    assert_thread_once(stub, "C70")


def test_a_part_that_waited_in_its_turn_is_noted_again_only_if_no_heartbeat_renewed_its_lease(
    archive: Database, stub: SlackStub
) -> None:
    # A fan-out channel waits seconds for its turn between parts. Each wait past a third of
    # the lease cost a write of its own before the post (hundreds a second at a fan-out's
    # end); a heartbeat that renewed the lease since makes it unneeded.
    lease = dt.timedelta(seconds=600)  # the keeper's own beats (every 200 s) stay out of it
    now = [dt.datetime(2026, 3, 31, 9, tzinfo=dt.UTC)]
    deliverer = make_deliverer(archive, stub, clock=lambda: now[0], lease=lease)
    writes = count_writes(deliverer)
    with archive.write() as session:
        issue = get_issue(session, LATEST)
        assert issue is not None
        delivery_id = ledger.ensure_delivery(session, WS, "C71", issue.id)
    # Before part 1: the lease renewed by a heartbeat; before part 2: not renewed.
    beat_before = {1: True, 2: False}
    writes_before: dict[int, int] = {}
    poster = deliverer.transports(WS)
    post, paced = poster.post, deliverer.engine.paced
    turns = [0]

    async def post_noting(channel: str, message: Message, **kwargs: Any) -> str:
        writes_before[kwargs["metadata"]["event_payload"]["part"]] = len(writes)
        return await post(channel, message, **kwargs)

    async def later_turn(*args: Any, **kwargs: Any) -> Any:
        this = turns[0]  # one turn per part here (no retries)
        turns[0] += 1
        if this in beat_before:  # the part waited for its turn this long
            now[0] += lease / 3 + dt.timedelta(seconds=1)
            if beat_before[this]:
                assert await deliverer.keeper.beat()
        return await paced(*args, **kwargs)

    poster.post = post_noting  # type: ignore[method-assign]
    deliverer.engine.paced = later_turn  # type: ignore[method-assign]
    assert deliverer.run(delivery_id).outcome == "posted"
    # Part 1 after a heartbeat: only the parent's record between the two posts.
    assert writes_before[1] - writes_before[0] == 1
    # Part 2 with no renewal since: its record, then a note in flight (checking the lease).
    assert writes_before[2] - writes_before[1] == 2
    with archive.read() as session:
        row = session.get(DeliveryRow, delivery_id)
        assert row is not None and row.state == ledger.POSTED
    assert_thread_once(stub, "C71")
