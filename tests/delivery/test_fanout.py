"""The fan-out over the Slack stand-in: many workspaces and channels on a few threads, each
thread in order, every channel and workspace paced, 429s learned, one bad channel harmless."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import update
from support.slack_api import SlackStub

from bot.core import workspaces
from bot.core.ingestion import expand_paths, ingest_files
from bot.delivery.deliverer import Deliverer, DeliveryResult, everywhere
from bot.delivery.engine import blocking
from bot.delivery.pacer import Pacer
from bot.delivery.poster import ChannelPacer, PartSearch, SlackPoster, make_web_client
from bot.delivery.transports import PosterCache, SlackClients
from bot.owners import host_id, ours_to_pace, own_prefix
from bot.slack.rendering import Message
from bot.store import ledger
from bot.store.db import Database
from bot.store.queries import get_issue
from bot.store.tables import DeliveryRow
from bot.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
DAY = dt.date(2026, 4, 8)
T = TypeVar("T")


class TeamTokens:
    """xoxb-<team> for every team."""

    def token(self, workspace: Workspace) -> str | None:
        return f"xoxb-{workspace.team_id}"

    def forget(self, workspace: Workspace) -> None:
        pass


@pytest.fixture
def archive(database: Database) -> Iterator[Database]:
    ingest_files(database, expand_paths([REPO / "seeds" / f"{DAY}.txt"]))
    yield database


def parts_of(database: Database) -> int:
    with database.read() as session:
        issue = get_issue(session, DAY)
    assert issue is not None
    return len(issue.articles) + 2


def deliveries(database: Database, layout: dict[str, list[str]]) -> list[tuple[Workspace, int]]:
    """A scheduled delivery of DAY to each channel of each team."""
    jobs = []
    with database.write() as session:
        issue = get_issue(session, DAY)
        assert issue is not None
        for team, channels in layout.items():
            for channel in channels:
                workspace = Workspace(team)
                delivery = ledger.ensure_delivery(session, workspace, channel, issue.id)
                jobs.append((workspace, delivery))
    return jobs


def fanout(database: Database, stub: SlackStub, pacer: Pacer) -> Deliverer:
    return Deliverer(database, PosterCache(SlackClients(TeamTokens(), stub.url)), pacer=pacer)


def send_all(deliverer: Deliverer, jobs: list[tuple[Workspace, int]]) -> list[DeliveryResult]:
    """The worker's fan-out: every delivery at once, in one event loop."""
    return blocking(Deliverer.deliver_all)(deliverer, jobs)


def assert_threads_once(stub: SlackStub, layout: dict[str, list[str]], parts: int) -> None:
    for team, channels in layout.items():
        for channel in channels:
            parents = stub.messages(channel, team)
            assert len(parents) == 1, (team, channel, len(parents))
            replies = stub.thread(channel, parents[0]["ts"], team)
            numbers = [r["metadata"]["event_payload"]["part"] for r in replies]
            assert numbers == list(range(1, parts)), (team, channel, numbers)


def post_times(stub: SlackStub) -> dict[tuple[str, str], list[float]]:
    """When each (team, channel) was posted to (every attempt, 429s included)."""
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    for call in stub.calls_to("chat.postMessage"):
        team = stub.team_of(call.headers["authorization"].removeprefix("Bearer "))
        times[(team, str(call.params["channel"]))].append(call.time)
    return times


def test_many_workspaces_each_thread_in_order_and_paced(archive: Database) -> None:
    layout = {f"T{t}": [f"C{t}{c}" for c in range(3)] for t in range(3)}
    teams = {f"xoxb-{team}": team for team in layout}
    with SlackStub(rate_limit_per_team=25, teams=teams) as stub:
        engine = fanout(archive, stub, Pacer(0.05, workspace_per_minute=25 * 60))
        results = send_all(engine, deliveries(archive, layout))
        assert {r.outcome for r in results} == {"posted"}
        assert_threads_once(stub, layout, parts_of(archive))
        assert stub.rate_limited == 0  # the stand-in's workspace limit was never hit
        times = post_times(stub)
        for key, sent in times.items():
            gaps = [b - a for a, b in itertools.pairwise(sent)]
            assert min(gaps) >= 0.045, (key, min(gaps))  # each channel paced on its own
        for team in layout:
            sent = sorted(t for (tm, _), ts in times.items() if tm == team for t in ts)
            # Never more than 25 posts of one workspace within a second.
            assert all(sent[i + 25] - sent[i] >= 1.0 for i in range(len(sent) - 25))
        # Each team's calls carried that team's own token.
        tokens = {c.headers["authorization"] for c in stub.calls_to("chat.postMessage")}
        assert tokens == {f"Bearer {token}" for token in teams}


def test_a_lower_workspace_limit_is_learned_from_429s(archive: Database) -> None:
    layout = {"TSLOW": ["CS1", "CS2", "CS3"]}
    with SlackStub(rate_limit_per_team=10, teams={"xoxb-TSLOW": "TSLOW"}) as stub:
        # Configured for 60 posts/s, but Slack allows this workspace 10.
        engine = fanout(archive, stub, Pacer(0.0, workspace_per_minute=3600))
        results = send_all(engine, deliveries(archive, layout))
        assert {r.outcome for r in results} == {"posted"}
        assert_threads_once(stub, layout, parts_of(archive))
        posted = 3 * parts_of(archive)
        assert 0 < stub.rate_limited < posted / 3  # it slowed down instead of hammering
        assert engine.engine.pacer.lane_rate(Workspace("TSLOW")) < 60


def test_a_failing_or_slow_channel_does_not_hold_up_the_others(archive: Database) -> None:
    layout = {"TA": ["CBAD", "CSLOW", "CGOOD1", "CGOOD2"]}
    with SlackStub(teams={"xoxb-TA": "TA"}) as stub:
        stub.fail_channel("CBAD", "channel_not_found")
        stub.hold_next("chat.postMessage", seconds=3)  # the first post to arrive hangs 3 s
        engine = fanout(archive, stub, Pacer(0.0, workspace_per_minute=None))
        jobs = deliveries(archive, layout)
        jobs = [jobs[1], jobs[0], jobs[2], jobs[3]]
        started = time.monotonic()
        results = {r.channel_id: r for r in send_all(engine, jobs)}
        assert results["CBAD"].outcome == "failed"
        assert {results[c].outcome for c in ("CSLOW", "CGOOD1", "CGOOD2")} == {"posted"}
        posts = stub.calls_to("chat.postMessage")
        held = min(posts, key=lambda c: c.time)  # whichever channel's first post came first
        others = {"CSLOW", "CGOOD1", "CGOOD2"} - {held.params["channel"]}
        others_done = max(c.time for c in posts if c.params["channel"] in others)
        assert others_done - held.time < 3.0  # the others finished while that one waited
        assert time.monotonic() - started >= 3.0
        assert_threads_once(stub, {"TA": ["CSLOW", "CGOOD1", "CGOOD2"]}, parts_of(archive))


class CountingSlack:
    """An in-memory Slack that notes how many threads the process runs while posting."""

    def __init__(self) -> None:
        self.most_threads = 0
        self.posted: dict[str, list[int]] = defaultdict(list)
        self.lock = threading.Lock()

    async def join(self, channel: str) -> str | None:
        return None

    async def post(
        self, channel: str, message: Message, *, thread_ts: str | None, metadata: dict[str, Any]
    ) -> str:
        with self.lock:
            self.most_threads = max(self.most_threads, threading.active_count())
            self.posted[channel].append(metadata["event_payload"]["part"])
            return f"{time.time():.6f}"

    async def find_part(self, search: PartSearch) -> str | None:
        return None


def test_300_channels_share_a_few_threads(archive: Database) -> None:
    slack = CountingSlack()
    engine = Deliverer(archive, everywhere(slack), pacer=Pacer(0.05, None))
    layout = {"T1": [f"C{i:03d}" for i in range(150)], "T2": [f"D{i:03d}" for i in range(150)]}
    before = threading.active_count()
    results = send_all(engine, deliveries(archive, layout))
    assert [r.outcome for r in results] == ["posted"] * 300
    parts = parts_of(archive)
    assert all(numbers == list(range(parts)) for numbers in slack.posted.values())
    assert len(slack.posted) == 300
    # Sending takes no thread: at most the database driver's (aiosqlite: one per pooled
    # connection, 5 + 10 overflow) and asyncio's default executor's first.
    assert slack.most_threads - before <= 15 + 1


def test_the_sync_post_path_still_waits_out_a_429(archive: Database) -> None:
    with SlackStub() as stub:
        stub.fail_next("chat.postMessage", 429, retry_after=1, after=2)
        poster = SlackPoster(make_web_client("xoxb-t", stub.url, timeout=5), ChannelPacer(0.0))
        deliverer = Deliverer(archive, everywhere(poster))
        result = deliverer.deliver_issue(Workspace("T111"), "CSYNC", DAY)
        assert (result.outcome, result.posted) == ("posted", parts_of(archive))
        assert stub.rate_limited == 0 and len(stub.all_messages("CSYNC")) == parts_of(archive)


GONE, STAYS = Workspace("TGONE"), Workspace("TSTAY")
IN_FLIGHT = 0.1


def test_no_post_reaches_a_workspace_after_its_purge(archive: Database) -> None:
    jobs = []
    with archive.write() as session:
        issue = get_issue(session, DAY)
        assert issue is not None
        for workspace, channels in ((GONE, 6), (STAYS, 2)):
            for n in range(channels):
                delivery = ledger.ensure_delivery(session, workspace, f"C{n}", issue.id)
                jobs.append((workspace, delivery))
    gone_token = TeamTokens().token(GONE)
    # The web process deletes the workspace (app_uninstalled): another connection pool.
    web = Database(archive.engine.url.render_as_string(hide_password=False))
    with SlackStub(teams={gone_token or "": "TGONE", "xoxb-TSTAY": "TSTAY"}) as stub:
        posts_of_gone = lambda: [  # noqa: E731
            c for c in stub.calls_to("chat.postMessage") if c.token == gone_token
        ]
        engine = fanout(archive, stub, Pacer(channel_interval=0.3, workspace_per_minute=None))
        purged: list[float] = []

        def uninstall_mid_way() -> None:
            while len(posts_of_gone()) < 12:  # every channel has its first parts
                time.sleep(0.01)
            workspaces.uninstall(web, GONE, workspaces.forget_nothing)
            purged.append(time.time())

        purge = threading.Thread(target=uninstall_mid_way)
        purge.start()
        results = send_all(engine, jobs)
        purge.join(30)
    web.dispose()
    late = [round(c.time - purged[0], 3) for c in posts_of_gone() if c.time > purged[0] + IN_FLIGHT]
    assert late == []
    stayed = [r for r in results if r.outcome == "posted"]
    assert len(stayed) == 2  # the other workspace's channels got the whole issue


ELSEWHERE = "otherhost/abc|4242|99|a1b2c3"  # a sender on another machine: alive for all we know


def test_a_workspace_another_worker_is_sending_in_is_left_to_it(archive: Database) -> None:
    """Two workers each pace their own workspaces: a worker claims nothing more in a workspace
    a live sender elsewhere holds a lease in, and takes it up once that lease has run out."""
    layout = {"TPACED": ["C1", "C2", "C3"], "TFREE": ["C1"]}
    jobs = deliveries(archive, layout)
    held = jobs[0][1]
    now = dt.datetime.now(dt.UTC)
    with archive.write() as session:
        assert ledger.claim(session, held, ELSEWHERE, now, dt.timedelta(minutes=5))
    with SlackStub(teams={"xoxb-TPACED": "TPACED", "xoxb-TFREE": "TFREE"}) as stub:
        engine = fanout(archive, stub, Pacer(channel_interval=0.01, workspace_per_minute=None))
        first = send_all(engine, jobs[1:])
        assert sorted(r.outcome for r in first) == ["busy", "busy", "posted"]
        assert stub.messages("C1", "TFREE") and not stub.all_messages("C2", "TPACED")
        with archive.write() as session:  # the other worker stopped; its lease ran out
            expired = now - dt.timedelta(minutes=10)
            session.execute(
                update(DeliveryRow).where(DeliveryRow.id == held).values(lease_until=expired)
            )
        second = send_all(engine, jobs)
        assert sorted(r.outcome for r in second) == ["already", "posted", "posted", "posted"]
        assert_threads_once(stub, layout, parts_of(archive))


def test_pacing_a_workspace_is_decided_between_live_processes_only() -> None:
    mine = own_prefix() + "d00d00"
    dead_here = f"{host_id()}|999999|1|c0ffee"  # no such pid on this host
    assert ours_to_pace([]) and ours_to_pace([mine])
    assert ours_to_pace([dead_here])  # a dead sender's workspace is taken over at once
    assert not ours_to_pace([ELSEWHERE])
    # Two that began in one workspace at once: the process id sorting first keeps it.
    first = min(own_prefix().rstrip("|"), ELSEWHERE.rsplit("|", 1)[0])
    assert ours_to_pace([mine, ELSEWHERE]) == (first == own_prefix().rstrip("|"))
