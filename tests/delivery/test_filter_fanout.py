"""Filtered deliveries and corrections in the worker's fan-out: many workspaces and channels
on a few threads, each workspace's own filters and token, every Slack write paced."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import itertools
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from support.corrected_issue import ADDED_TITLE, REMOVED_TITLE, write_corrected
from support.slack_api import SlackStub

from bot.core.ingestion import ingest_files
from bot.delivery.deliverer import Deliverer, DeliveryResult
from bot.delivery.engine import blocking
from bot.delivery.pacer import Pacer
from bot.delivery.transports import NotInstalled, PosterCache, SlackClients
from bot.store import edits, filters, ledger
from bot.store.db import Database
from bot.store.filters import Rule
from bot.store.queries import get_issue
from bot.store.tables import ArticleRow
from bot.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
DAY = dt.date(2026, 5, 13)
ONE, TWO = Workspace("TONE"), Workspace("TTWO")
TEAMS = {"xoxb-TONE": "TONE", "xoxb-TTWO": "TTWO"}
INTERVAL = 0.05


class TeamTokens:
    """xoxb-<team> for the two teams; none for any other (not installed)."""

    def token(self, workspace: Workspace) -> str | None:
        token = f"xoxb-{workspace.team_id}"
        return token if token in TEAMS else None

    def forget(self, workspace: Workspace) -> None:
        pass


@pytest.fixture
def archive(database: Database) -> Database:
    ingest_files(database, [REPO / "seeds" / f"{DAY}.txt"])
    return database


def engine(database: Database, stub: SlackStub) -> Deliverer:
    posters = PosterCache(SlackClients(TeamTokens(), stub.url))
    pacer = Pacer(INTERVAL, workspace_per_minute=None)
    return Deliverer(database, posters, backoff=lambda _s: None, pacer=pacer)


def send_all(deliverer: Deliverer, jobs: list[tuple[Workspace, int]]) -> list[DeliveryResult]:
    """The worker's fan-out: every delivery at once, in one event loop."""
    return blocking(Deliverer.deliver_all)(deliverer, jobs)


def jobs(database: Database, layout: dict[Workspace, list[str]]) -> list[tuple[Workspace, int]]:
    with database.write() as session:
        issue = get_issue(session, DAY)
        assert issue is not None
        return [
            (workspace, ledger.ensure_delivery(session, workspace, channel, issue.id))
            for workspace, channels in layout.items()
            for channel in channels
        ]


def titles_by(database: Database, keep: Any) -> tuple[list[str], int]:
    """The titles of DAY's deep dives whose publishers `keep` accepts (independently of the
    bot), in issue order, and how many deep dives there are."""
    with database.read() as session:
        rows = session.scalars(
            select(ArticleRow).where(ArticleRow.issue_date == DAY).order_by(ArticleRow.position)
        ).all()
    return [r.title for r in rows if keep(r.publisher.split(" / "))], len(rows)


def thread_of(stub: SlackStub, team: str, channel: str) -> tuple[dict[str, Any], list[Any]]:
    parents = stub.messages(channel, team)
    assert len(parents) == 1, (team, channel, len(parents))
    return parents[0], stub.thread(channel, parents[0]["ts"], team)


def assert_in_order(replies: list[dict[str, Any]], titles: list[str]) -> None:
    numbers = [r["metadata"]["event_payload"]["part"] for r in replies]
    assert numbers == list(range(1, len(titles) + 2)), numbers
    shown = [html.unescape(r["text"].split(" — ")[0]) for r in replies[:-1]]
    assert shown == titles
    assert replies[-1]["text"].startswith("Patterns Across Companies")


def write_times(stub: SlackStub) -> dict[tuple[str, str], list[float]]:
    """When each (team, channel) got a Slack write: posts and edits."""
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    for call in stub.calls:
        if call.method in ("chat.postMessage", "chat.update"):
            team = stub.team_of(call.headers["authorization"].removeprefix("Bearer "))
            times[(team, str(call.params["channel"]))].append(call.time)
    return times


def test_same_channel_in_two_workspaces_each_gets_its_own_filtered_thread(
    archive: Database,
) -> None:
    with archive.write() as session:
        filters.add_rule(session, ONE, "CSAME", Rule("include", "company", "AWS"), "U1")
        filters.add_rule(session, TWO, "CSAME", Rule("exclude", "company", "AWS"), "U1")
    aws, total = titles_by(archive, lambda publishers: "AWS" in publishers)
    others, _ = titles_by(archive, lambda publishers: "AWS" not in publishers)
    everything, _ = titles_by(archive, lambda _p: True)
    assert 1 < len(aws) < total
    layout = {ONE: ["CSAME", "COTHER"], TWO: ["CSAME", "CALL"]}
    with SlackStub(teams=TEAMS) as stub:
        results = send_all(engine(archive, stub), jobs(archive, layout))
        assert sorted(r.outcome for r in results) == ["posted"] * 4
        expectations = {
            ("TONE", "CSAME"): aws,
            ("TONE", "COTHER"): everything,
            ("TTWO", "CSAME"): others,
            ("TTWO", "CALL"): everything,
        }
        for (team, channel), titles in expectations.items():
            parent, replies = thread_of(stub, team, channel)
            assert_in_order(replies, titles)
            blocks = json.dumps(parent["blocks"])
            if channel == "CSAME":
                assert f"holds the {len(titles)} of {total} deep dives matching" in blocks
            else:
                assert f"{total} deep dives in the thread" in blocks
        # Each workspace's messages went with its own token.
        for call in stub.calls_to("chat.postMessage"):
            team = stub.team_of(call.headers["authorization"].removeprefix("Bearer "))
            assert team in ("TONE", "TTWO")


def test_a_filtered_channel_in_a_fan_out_gets_exactly_its_parts_in_order(
    archive: Database, tmp_path: Path
) -> None:
    with archive.write() as session:
        filters.add_rule(session, ONE, "CF", Rule("include", "company", "Cloudflare"), "U1")
        filters.add_rule(session, ONE, "CF", Rule("include", "company", "AWS"), "U1")
    chosen, total = titles_by(archive, lambda p: "AWS" in p or "Cloudflare" in p)
    assert 2 < len(chosen) < total
    everything, _ = titles_by(archive, lambda _p: True)
    layout = {ONE: ["CF", "CA", "CB"], TWO: ["CC", "CD"]}
    with SlackStub(teams=TEAMS) as stub:
        fan = engine(archive, stub)
        results = send_all(fan, jobs(archive, layout))
        assert {r.outcome for r in results} == {"posted"}
        _, replies = thread_of(stub, "TONE", "CF")
        assert_in_order(replies, chosen)
        for team, channel in [("TONE", "CA"), ("TONE", "CB"), ("TTWO", "CC"), ("TTWO", "CD")]:
            assert_in_order(thread_of(stub, team, channel)[1], everything)
        # A rerun of every delivery sends nothing.
        posts = len(stub.calls_to("chat.postMessage"))
        assert {r.outcome for r in send_all(fan, jobs(archive, layout))} == {"already"}
        assert len(stub.calls_to("chat.postMessage")) == posts

        # A correction: the fan-out edits and appends through each workspace's own token,
        # paced like posts (never two writes to one channel within the interval).
        ingest_files(archive, [write_corrected(tmp_path / "fix")])
        with archive.write() as session:
            reopened = edits.reopen_changed(session, dt.datetime.now(dt.UTC) - dt.timedelta(1))
        assert len(reopened) == 5
        corrected = send_all(fan, jobs(archive, layout))
        assert {r.outcome for r in corrected} == {"posted"}
        by_channel = {r.channel_id: r for r in corrected}
        assert by_channel["CF"].posted == 1  # the added deep dive is by Cloudflare
        assert by_channel["CA"].posted == 1 and by_channel["CA"].edited >= 2
        for call in stub.calls_to("chat.update"):
            token = call.headers["authorization"].removeprefix("Bearer ")
            channel = str(call.params["channel"])
            assert stub.team_of(token) == ("TTWO" if channel in ("CC", "CD") else "TONE")
        for key, sent in write_times(stub).items():
            gaps = [b - a for a, b in itertools.pairwise(sent)]
            assert min(gaps) >= INTERVAL * 0.9, (key, min(gaps))
        _, replies = thread_of(stub, "TONE", "CF")
        assert ADDED_TITLE in replies[-1]["text"]
        assert replies[-1]["metadata"]["event_payload"]["part"] == len(chosen) + 2
        _, replies = thread_of(stub, "TTWO", "CC")
        assert not any(REMOVED_TITLE in r["text"] for r in replies)
        # Nothing edited twice: another pass finds every thread up to date.
        calls = len(stub.calls)
        with archive.write() as session:
            assert edits.reopen_changed(session, dt.datetime.now(dt.UTC) - dt.timedelta(1)) == []
        assert {r.outcome for r in send_all(fan, jobs(archive, layout))} == {"already"}
        assert [c.method for c in stub.calls[calls:]] == []


def test_a_workspace_without_a_token_gets_no_edit() -> None:
    transport = NotInstalled(Workspace("TGONE"))
    with pytest.raises(Exception, match="not installed"):
        asyncio.run(transport.update("C1", "1.0", None))  # type: ignore[arg-type]
    with pytest.raises(Exception, match="not installed"):
        asyncio.run(transport.find_fingerprint("C1", "1.0", parent_ts=None))
