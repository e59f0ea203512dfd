"""The crash-recovery lookup: "could not tell" is never read as "not there".

A part whose post went unanswered is looked up in the channel before it is sent again. The
lookup client retries 429s (after Retry-After), 5xx and timeouts through slack_sdk's retry
handlers with an injected sleep, follows cursors, and when it still cannot decide the delivery is
released (not failed) and finished later without a duplicate. The posting client never retries.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select
from support.helpers import NO_BACKOFF, WS, subscribe
from support.slack_api import SlackStub

from bot.core.ingestion import expand_paths, ingest_files
from bot.delivery.deliverer import Deliverer, everywhere
from bot.delivery.poster import (
    ChannelPacer,
    PartSearch,
    SlackPoster,
    UndecidedLookupError,
    make_lookup_client,
    make_web_client,
)
from bot.store.db import Database
from bot.store.tables import DeliveryRow, SubscriptionRow

REPO = Path(__file__).resolve().parents[2]
LATEST = dt.date(2026, 5, 13)
PARTS = 30


@pytest.fixture
def archive(database: Database) -> Database:
    ingest_files(database, expand_paths([REPO / "seeds"]))
    return database


def deliverer(database: Database, stub: SlackStub, slept: list[float], **poster: int) -> Deliverer:
    lookup = make_lookup_client(
        "xoxb-l", stub.url, timeout=1, retries=3, sleep=slept.append, backoff=NO_BACKOFF
    )
    slack = SlackPoster(
        make_web_client("xoxb-p", stub.url, timeout=1), ChannelPacer(0), lookup_client=lookup
    )
    for name, value in poster.items():
        setattr(slack, name, value)
    return Deliverer(database, everywhere(slack), backoff=lambda _s: None)


def assert_once(stub: SlackStub, channel: str) -> None:
    parents = stub.messages(channel)
    assert len(parents) == 1
    parts = [m["metadata"]["event_payload"]["part"] for m in stub.thread(channel, parents[0]["ts"])]
    assert parts == list(range(1, PARTS))


def test_the_posting_client_never_retries_by_itself() -> None:
    assert make_web_client("xoxb-p", None).retry_handlers == []
    assert len(make_lookup_client("xoxb-l", None).retry_handlers) == 3


@pytest.mark.parametrize(
    ("status", "timeout"), [(429, 0.0), (500, 0.0), (503, 0.0), (200, 2.0)], ids=str
)
@pytest.mark.parametrize(("part", "method"), [(0, "history"), (6, "replies")], ids=str)
def test_lookup_retries_through_transient_failures_and_finds_the_part(
    archive: Database, status: int, timeout: float, part: int, method: str
) -> None:
    slept: list[float] = []
    with SlackStub() as stub:
        stub.drop_response_next("chat.postMessage", after=part)  # accepted, answer lost
        stub.fail_next(
            f"conversations.{method}", status=status, retry_after=2, timeout=timeout, times=2
        )
        result = deliverer(archive, stub, slept).deliver_issue(WS, "CL1", LATEST)
        assert result.outcome == "posted", result
        assert_once(stub, "CL1")
        assert len(stub.calls_to(f"conversations.{method}")) == 3  # two failures, the answer
        # A 429's Retry-After is waited out exactly (through the injected clock); 5xx and
        # timeouts are retried after the backoff (none here).
        assert slept == ([2.0, 2.0] if status == 429 else [])


def test_lookup_that_cannot_decide_releases_and_a_later_run_finishes(archive: Database) -> None:
    now = dt.datetime(2026, 5, 13, 9, 0, tzinfo=dt.UTC)
    subscribe(archive, "CL2", user_id="U", now=now)
    slept: list[float] = []
    with SlackStub() as stub:
        stub.drop_response_next("chat.postMessage", after=4)
        stub.fail_next("conversations.replies", status=429, retry_after=1, times=50)
        first = deliverer(archive, stub, slept).deliver_issue(WS, "CL2", LATEST, origin="schedule")
        assert first.outcome == "retry_later" and "could not check" in (first.error or "")
        assert len(stub.all_messages("CL2")) == 5  # parts 0-4; part 4 not re-posted
        with archive.read() as session:
            row = session.scalars(select(DeliveryRow)).one()
            sub = session.scalars(select(SubscriptionRow)).one()
        assert row.state == "pending" and row.inflight_part == 4
        assert not sub.failing  # "could not tell" is not the channel's fault
        stub.reset_faults()
        second = deliverer(archive, stub, slept).run(row.id)
        assert second.outcome == "posted"
        assert_once(stub, "CL2")


def test_more_pages_than_the_limit_is_undecided_not_absent(archive: Database) -> None:
    async def scenario(stub: SlackStub) -> None:
        client = make_web_client("xoxb-p", stub.url)
        await client.conversations_join(channel="CL3")
        for i in range(450):  # three pages of 200 newer than `oldest`
            await client.chat_postMessage(channel="CL3", text=f"chatter {i}")
        poster = SlackPoster(
            client, ChannelPacer(0), lookup_client=make_lookup_client("xoxb-l", stub.url)
        )
        poster.max_lookup_pages = 2
        with pytest.raises(UndecidedLookupError):
            await poster.find_part(PartSearch("CL3", None, 1, 0, 0.0))
        poster.max_lookup_pages = 3  # with enough pages, absent is absent
        assert await poster.find_part(PartSearch("CL3", None, 1, 0, 0.0)) is None

    with SlackStub() as stub:
        asyncio.run(scenario(stub))
        assert len(stub.calls_to("conversations.history")) == 5


def test_a_channel_the_bot_cannot_read_is_undecided_not_failing(archive: Database) -> None:
    now = dt.datetime(2026, 5, 13, 9, 0, tzinfo=dt.UTC)
    subscribe(archive, "CL4", user_id="U", now=now)
    slept: list[float] = []
    with SlackStub() as stub:
        # An install without channels:join: posts work (chat:write.public), reading does not.
        stub.fail_next("conversations.join", status=200, error="missing_scope", times=10)
        stub.drop_response_next("chat.postMessage", after=3)
        first = deliverer(archive, stub, slept).deliver_issue(WS, "CL4", LATEST, origin="schedule")
        assert first.outcome == "retry_later" and "not_in_channel" in (first.error or "")
        assert len(stub.all_messages("CL4")) == 4  # part 3 was not posted blind a second time
        with archive.read() as session:
            assert not session.scalars(select(SubscriptionRow)).one().failing
            delivery_id = session.scalars(select(DeliveryRow.id)).one()
        stub.set_member("CL4")  # someone invites the bot
        assert deliverer(archive, stub, slept).run(delivery_id).outcome == "posted"
        assert_once(stub, "CL4")
