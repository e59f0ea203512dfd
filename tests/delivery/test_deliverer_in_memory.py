"""Delivery logic against an in-memory transport (no HTTP): claim, find, post, record."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from support.helpers import WS

from bot.core.ingestion import ingest_files
from bot.delivery.deliverer import Deliverer, everywhere
from bot.delivery.poster import AmbiguousError, NotSentError, PartSearch, PermanentError
from bot.slack.rendering import Message, issue_messages
from bot.store.db import Database
from bot.store.queries import get_issue

REPO = Path(__file__).resolve().parents[2]
DAY = dt.date(2026, 4, 8)


class FakeSlack:
    """Keeps posts in memory; each post follows the next step of `plan` (then 'ok').

    'lost' keeps the message but raises as a timeout would; 'unreachable' and 'refuse' keep
    nothing.
    """

    def __init__(self, plan: list[str] | None = None) -> None:
        self.plan = list(plan or [])
        self.messages: list[dict[str, Any]] = []
        self.joined: list[str] = []

    async def join(self, channel: str) -> str | None:
        self.joined.append(channel)
        return None

    async def post(
        self, channel: str, message: Message, *, thread_ts: str | None, metadata: dict[str, Any]
    ) -> str:
        step = self.plan.pop(0) if self.plan else "ok"
        if step == "refuse":
            raise PermanentError("channel_not_found")
        if step == "unreachable":
            raise NotSentError("ConnectionRefusedError")
        ts = f"{1000 + len(self.messages)}.000100"
        payload = metadata["event_payload"]
        self.messages.append(
            {"channel": channel, "ts": ts, "thread_ts": thread_ts, "part": payload["part"]}
        )
        if step == "lost":
            raise AmbiguousError("TimeoutError")
        return ts

    async def find_part(self, search: PartSearch) -> str | None:
        found = [
            m["ts"]
            for m in self.messages
            if m["channel"] == search.channel and m["part"] == search.part
        ]
        return found[0] if found else None

    def parts(self, channel: str) -> list[int]:
        return [m["part"] for m in self.messages if m["channel"] == channel]


@pytest.fixture
def archive(database: Database) -> Database:
    ingest_files(database, [REPO / "seeds" / f"{DAY}.txt"])
    return database


def thread_parts(database: Database) -> list[int]:
    """The parts a thread of the seeded issue has (signal, each deep dive, patterns)."""
    with database.read() as session:
        issue = get_issue(session, DAY)
    assert issue is not None
    return list(range(len(issue_messages(issue, "bookmark"))))


def deliverer(database: Database, slack: FakeSlack) -> Deliverer:
    waits: list[float] = []
    return Deliverer(database, everywhere(slack), backoff=waits.append)


def test_a_thread_is_posted_once(archive: Database) -> None:
    slack = FakeSlack()
    parts = thread_parts(archive)
    first = deliverer(archive, slack).deliver_issue(WS, "C1", DAY)
    assert (first.outcome, first.posted) == ("posted", len(parts))
    assert slack.parts("C1") == parts and slack.joined == ["C1"]
    parent = slack.messages[0]["ts"]
    assert [m["thread_ts"] for m in slack.messages] == [None] + [parent] * (len(parts) - 1)
    again = deliverer(archive, slack).deliver_issue(WS, "C1", DAY)
    assert again.outcome == "already" and slack.parts("C1") == parts


def test_a_part_slack_kept_without_answering_is_found_not_reposted(archive: Database) -> None:
    slack = FakeSlack(["ok", "lost", "ok"])
    result = deliverer(archive, slack).deliver_issue(WS, "C1", DAY)
    assert result.outcome == "posted"
    assert slack.parts("C1") == thread_parts(archive)  # part 1 once, found after the timeout


def test_a_refusal_fails_the_delivery(archive: Database) -> None:
    slack = FakeSlack(["ok", "refuse"])
    result = deliverer(archive, slack).deliver_issue(WS, "C1", DAY)
    assert (result.outcome, result.error) == ("failed", "channel_not_found")
    assert slack.parts("C1") == [0]


def test_unreachable_slack_leaves_nothing_behind(archive: Database) -> None:
    slack = FakeSlack(["unreachable"] * 5)
    result = deliverer(archive, slack).deliver_issue(WS, "C1", DAY)
    assert (result.outcome, result.forgotten) == ("retry_later", True)
    assert slack.messages == []
    assert deliverer(archive, slack).deliver_issue(WS, "C1", DAY).outcome == "posted"
