"""The fan-out over the Slack stand-in: many workspaces and channels on a few threads, each
thread in order, every channel and workspace paced, 429s learned, one bad channel harmless."""

from __future__ import annotations

import datetime as dt
import gc
import heapq
import itertools
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
from support.slack_api import SlackStub

from bot.core import workspaces
from bot.core.ingestion import expand_paths, ingest_files
from bot.delivery.deliverer import Deliverer, Progress, everywhere
from bot.delivery.fanout import FanOut, Pacing, _Job, _Lane
from bot.delivery.poster import ChannelPacer, PartSearch, SlackPoster, make_web_client
from bot.delivery.transports import PosterCache
from bot.slack.rendering import Message
from bot.store import ledger
from bot.store.db import Database, Session
from bot.store.group_commit import GroupCommit
from bot.store.queries import get_issue
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


def fanout(database: Database, stub: SlackStub, pacing: Pacing, **kwargs: Any) -> FanOut:
    posters = PosterCache(TeamTokens(), stub.url)
    return FanOut(Deliverer(database, posters, commit=GroupCommit(database)), pacing, **kwargs)


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
        engine = fanout(archive, stub, Pacing(0.05, workspace_per_minute=25 * 60))
        results = engine.run(deliveries(archive, layout))
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
        engine = fanout(archive, stub, Pacing(0.0, workspace_per_minute=3600))
        results = engine.run(deliveries(archive, layout))
        assert {r.outcome for r in results} == {"posted"}
        assert_threads_once(stub, layout, parts_of(archive))
        posted = 3 * parts_of(archive)
        assert 0 < stub.rate_limited < posted / 3  # it slowed down instead of hammering
        assert engine._lanes[Workspace("TSLOW")].cap < 60


def test_a_failing_or_slow_channel_does_not_hold_up_the_others(archive: Database) -> None:
    layout = {"TA": ["CBAD", "CSLOW", "CGOOD1", "CGOOD2"]}
    with SlackStub(teams={"xoxb-TA": "TA"}) as stub:
        stub.fail_channel("CBAD", "channel_not_found")
        stub.hold_next("chat.postMessage", seconds=3)  # the first post (to CSLOW) hangs 3 s
        engine = fanout(archive, stub, Pacing(0.0, workspace_per_minute=None), starters=1)
        jobs = deliveries(archive, layout)
        jobs = [jobs[1], jobs[0], jobs[2], jobs[3]]
        started = time.monotonic()
        results = {r.channel_id: r for r in engine.run(jobs)}
        assert results["CBAD"].outcome == "failed"
        assert {results[c].outcome for c in ("CSLOW", "CGOOD1", "CGOOD2")} == {"posted"}
        good_done = max(
            c.time for c in stub.calls_to("chat.postMessage") if c.params["channel"] == "CGOOD2"
        )
        slow_first = min(
            c.time for c in stub.calls_to("chat.postMessage") if c.params["channel"] == "CSLOW"
        )
        assert good_done - slow_first < 3.0  # the good channels finished while CSLOW waited
        assert time.monotonic() - started >= 3.0
        assert_threads_once(stub, {"TA": ["CSLOW", "CGOOD1", "CGOOD2"]}, parts_of(archive))


@dataclass
class _Left:
    parts: int

    def remaining(self) -> int:
        return self.parts


def test_of_the_parts_that_may_go_the_one_with_most_left_goes_first() -> None:
    # When a workspace's limit binds, its channels then end together, instead of a few late
    # ones finishing alone at a post a second while the workspace's other slots stand idle.
    lane = _Lane(cap=10)
    jobs = {
        left: _Job(Workspace("T"), left, progress=cast(Progress, _Left(left)))
        for left in (3, 30, 12, 20)
    }
    heapq.heappush(lane.waiting, (0.0, 0, jobs[3]))
    heapq.heappush(lane.waiting, (0.5, 1, jobs[30]))
    heapq.heappush(lane.waiting, (0.2, 2, jobs[12]))
    heapq.heappush(lane.waiting, (2.0, 3, jobs[20]))  # not ready yet
    assert lane.take(now=1.0) is jobs[30]
    assert lane.take(now=1.0) is jobs[12]
    assert lane.take(now=1.0) is jobs[3]
    assert lane.next_time(now=1.0) == 2.0
    assert lane.take(now=2.0) is jobs[20]
    assert lane.next_time(now=2.0) is None


class CountingSlack:
    """An in-memory Slack that notes how many threads the process runs while posting."""

    def __init__(self) -> None:
        self.most_threads = 0
        self.posted: dict[str, list[int]] = defaultdict(list)
        self.lock = threading.Lock()

    def join(self, channel: str) -> str | None:
        return None

    def post(
        self, channel: str, message: Message, *, thread_ts: str | None, metadata: dict[str, Any]
    ) -> str:
        with self.lock:
            self.most_threads = max(self.most_threads, threading.active_count())
            self.posted[channel].append(metadata["event_payload"]["part"])
            return f"{time.time():.6f}"

    def find_part(self, search: PartSearch) -> str | None:
        return None


def test_300_channels_share_a_few_threads(archive: Database) -> None:
    slack = CountingSlack()
    deliverer = Deliverer(archive, everywhere(slack), commit=GroupCommit(archive))
    engine = FanOut(deliverer, Pacing(0.05, None), threads=8, starters=2)
    layout = {"T1": [f"C{i:03d}" for i in range(150)], "T2": [f"D{i:03d}" for i in range(150)]}
    before = threading.active_count()
    results = engine.run(deliveries(archive, layout))
    assert [r.outcome for r in results] == ["posted"] * 300
    parts = parts_of(archive)
    assert all(numbers == list(range(parts)) for numbers in slack.posted.values())
    assert len(slack.posted) == 300
    # 8 senders, 2 claimers, the pacer, the ledger writer and the lease heartbeat at most.
    assert slack.most_threads - before <= 8 + 2 + 3


def test_the_sync_post_path_still_waits_out_a_429(archive: Database) -> None:
    with SlackStub() as stub:
        stub.fail_next("chat.postMessage", 429, retry_after=1, after=2)
        poster = SlackPoster(make_web_client("xoxb-t", stub.url, timeout=5), ChannelPacer(0.0))
        deliverer = Deliverer(archive, everywhere(poster))
        result = deliverer.deliver_issue(Workspace("T111"), "CSYNC", DAY)
        assert (result.outcome, result.posted) == ("posted", parts_of(archive))
        assert stub.rate_limited == 0 and len(stub.all_messages("CSYNC")) == parts_of(archive)


def test_a_post_leaves_no_reference_cycle_behind(archive: Database) -> None:
    """Each recorded post is freed at once: garbage cycles per post made the worker stop for
    a full collection every few seconds (0.3-0.7 s at 2,000 channels)."""
    deliverer = Deliverer(archive, everywhere(CountingSlack()), commit=GroupCommit(archive))
    engine = FanOut(deliverer, Pacing(0.0, None), threads=4, starters=2)
    # A first run makes what is made once (drivers' type registries, compiled statements).
    assert {r.outcome for r in engine.run(deliveries(archive, {"T0": ["CWARM"]}))} == {"posted"}
    jobs = deliveries(archive, {"T1": [f"C{i:02d}" for i in range(20)]})
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection finds is kept in gc.garbage to count
    try:
        results = engine.run(jobs)
        gc.collect()
        left = Counter(type(o).__name__ for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert [r.outcome for r in results] == ["posted"] * 20
    posts = 20 * parts_of(archive)
    # The cycle was a commit's Future, its callback and the Recording holding the Future: one
    # Future (with its Condition and locks, ~20 objects) per post. Other garbage found here may
    # be anyone's (the test process's other threads), so only those are counted.
    assert left["Recording"] == 0 and left["Future"] == 0, (posts, left.most_common(8))


class SlowRecords(GroupCommit):
    """A ledger whose records of posted parts are confirmed `seconds` after they commit
    (other writes, such as claims and in-flight notes, as usual)."""

    def __init__(self, database: Database, seconds: float) -> None:
        super().__init__(database)
        self.seconds = seconds

    def submit(self, work: Callable[[Session], T]) -> Future[T]:
        committed = super().submit(work)
        if not isinstance(work, ledger.PartRecord):
            return committed
        late: Future[T] = Future()

        def confirm() -> None:
            late.set_result(committed.result())

        committed.add_done_callback(lambda _: threading.Timer(self.seconds, confirm).start())
        return late


def test_a_slow_ledger_commit_does_not_hold_the_workspace_slot(archive: Database) -> None:
    layout = {"T1": ["C1", "C2", "C3", "C4"]}
    with SlackStub(rate_limit_per_team=2, teams={"xoxb-T1": "T1"}) as stub:
        posters = PosterCache(TeamTokens(), stub.url)
        deliverer = Deliverer(archive, posters, commit=SlowRecords(archive, 3.0))
        engine = FanOut(deliverer, Pacing(0.0, workspace_per_minute=120))
        runner = threading.Thread(target=engine.run, args=(deliveries(archive, layout),))
        runner.start()
        deadline = time.monotonic() + 10
        while len(stub.calls_to("chat.postMessage")) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        calls = stub.calls_to("chat.postMessage")
        for channel in layout["T1"]:  # then the channels go away, so the run ends at once
            stub.fail_channel(channel, "channel_not_found")
        runner.join()
        # Two slots a second: C3 and C4 go a second after C1 and C2 were answered, while
        # those records are still committing (3 s), not after.
        assert len(calls) >= 4
        assert calls[3].time - calls[0].time < 2.0, [c.time - calls[0].time for c in calls]
        assert {c.params["channel"] for c in calls[:4]} == set(layout["T1"])
        assert stub.rate_limited == 0


class SlowEnds(GroupCommit):
    """A ledger whose delivery completions are confirmed `seconds` after they commit, noting
    when each was submitted and confirmed."""

    def __init__(self, database: Database, seconds: float) -> None:
        super().__init__(database)
        self.seconds = seconds
        self.submitted: list[float] = []
        self.confirmed: list[float] = []

    def submit(self, work: Callable[[Session], T]) -> Future[T]:
        committed = super().submit(work)
        if not isinstance(work, ledger.Completion):
            return committed
        self.submitted.append(time.monotonic())
        late: Future[T] = Future()

        def confirm() -> None:
            self.confirmed.append(time.monotonic())
            late.set_result(committed.result())

        committed.add_done_callback(lambda _: threading.Timer(self.seconds, confirm).start())
        return late


def test_a_delivery_whose_end_is_committing_holds_no_thread(archive: Database) -> None:
    # A fan-out's channels end within seconds of each other; when each end held a pool
    # thread until committed, those threads were missing for the last posts of the others.
    layout = {"T1": ["C1", "C2", "C3"]}
    with SlackStub(teams={"xoxb-T1": "T1"}) as stub:
        ledger_writes = SlowEnds(archive, 2.0)
        deliverer = Deliverer(archive, PosterCache(TeamTokens(), stub.url), commit=ledger_writes)
        engine = FanOut(deliverer, Pacing(0.0, workspace_per_minute=None), threads=1)
        results = engine.run(deliveries(archive, layout))
        ledger_writes.close()
    assert [r.outcome for r in results] == ["posted"] * 3
    assert len(ledger_writes.submitted) == 3
    # Every end was under way before the first was confirmed: none waited on a thread.
    assert max(ledger_writes.submitted) < min(ledger_writes.confirmed)
    assert_threads_once(stub, layout, parts_of(archive))


# Uninstalled during a fan-out (one workspace purged by the web process): no post after the
# purge, while the other workspaces' deliveries go on. A post whose request was already on its
# way when the purge committed may still arrive within IN_FLIGHT.
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
        engine = FanOut(
            Deliverer(archive, PosterCache(TeamTokens(), stub.url), commit=GroupCommit(archive)),
            Pacing(channel_interval=0.3, workspace_per_minute=None),
        )
        purged: list[float] = []

        def uninstall_mid_way() -> None:
            while len(posts_of_gone()) < 12:  # every channel has its first parts
                time.sleep(0.01)
            workspaces.uninstall(web, GONE, workspaces.forget_nothing)
            purged.append(time.time())

        purge = threading.Thread(target=uninstall_mid_way)
        purge.start()
        results = engine.run(jobs)
        purge.join(30)
    web.dispose()
    late = [round(c.time - purged[0], 3) for c in posts_of_gone() if c.time > purged[0] + IN_FLIGHT]
    assert late == []
    stayed = [r for r in results if r.outcome == "posted"]
    assert len(stayed) == 2  # the other workspace's channels got the whole issue
