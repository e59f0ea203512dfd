"""Follower DMs exactly once across a SIGKILLed worker, its immediate restart and a second
worker running at the same time (real processes, the Slack stand-in over HTTP)."""

from __future__ import annotations

import datetime as dt
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select
from support.helpers import clean_env
from support.slack_api import SlackStub

from bot.core import follows
from bot.core.ingestion import ingest_files
from bot.store.db import Database
from bot.store.tables import FollowItemRow, FollowMessageRow
from bot.workspace import Workspace

pytestmark = pytest.mark.slow  # real bot processes

REPO = Path(__file__).resolve().parents[2]
NEWEST = "2026-05-13"
WHAT = ["company Cloudflare", "company AWS", "topic AI agents", "topic queues", "topic identity"]
FOLLOWERS = [f"UK{i:02d}" for i in range(12)]


def prepare(database_url: str, tmp: Path) -> Path:
    database = Database(database_url)
    older = [p for p in sorted((REPO / "seeds").glob("*.txt")) if NEWEST not in p.name]
    ingest_files(database, older)
    now = dt.datetime.now(dt.UTC)
    for i, user in enumerate(FOLLOWERS):
        for what in (WHAT[i % len(WHAT)], WHAT[(i + 2) % len(WHAT)]):
            assert follows.follow(database, Workspace("T111"), user, what, now).ok
    newest = tmp / f"{NEWEST}.txt"
    shutil.copy(REPO / "seeds" / f"{NEWEST}.txt", newest)
    ingest_files(database, [newest])  # the new issue arrives
    database.dispose()
    return newest


def start(env: dict[str, str], tmp: Path, name: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "worker"],
        env=env,
        cwd=tmp,
        stdout=(tmp / f"{name}.log").open("wb"),
        stderr=subprocess.STDOUT,
    )


def dm_count(stub: SlackStub) -> int:
    return sum(len(stub.dms(u)) for u in FOLLOWERS)


def open_dms(database_url: str) -> int:
    database = Database(database_url)
    try:
        with database.read() as session:
            states = session.scalars(select(FollowMessageRow.state)).all()
        return sum(1 for s in states if s in ("pending", "sending")) if states else -1
    finally:
        database.dispose()


def test_follower_dms_exactly_once_across_sigkill_and_two_workers(
    database_url: str, tmp_path: Path
) -> None:
    prepare(database_url, tmp_path)
    with SlackStub(rate_limit_per_channel=1) as stub:
        env = clean_env(
            DATABASE_URL=database_url,
            SLACK_BOT_TOKEN="xoxb-follow-crash",
            SLACK_API_URL=stub.url,
            DIGEST_DM_PER_SECOND="20",
            DIGEST_FOLLOW_POLL_SECONDS="1",
            LOG_LEVEL="INFO",
        )
        # Killed while Slack holds an accepted DM: it is in Slack, its ts never recorded.
        stub.hold_next("chat.postMessage", seconds=60, after=3)
        first = start(env, tmp_path, "first")
        started = time.time()
        while dm_count(stub) < 4 and time.time() < started + 60:
            time.sleep(0.01)
        assert dm_count(stub) == 4, (tmp_path / "first.log").read_text()[-3000:]
        first.send_signal(signal.SIGKILL)
        first.wait()
        stub.reset_faults()
        workers = [start(env, tmp_path, "second"), start(env, tmp_path, "third")]
        try:
            deadline = time.time() + 60
            while open_dms(database_url) != 0 and time.time() < deadline:
                time.sleep(0.2)
            took = time.time() - started
            time.sleep(2.0)  # a duplicate, if any, would arrive now
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                worker.wait(20)
        logs = "".join((tmp_path / f"{n}.log").read_text() for n in ("first", "second", "third"))
        assert open_dms(database_url) == 0, logs[-3000:]
        assert took < 60
        assert "xoxb-follow-crash" not in logs
        database = Database(database_url)
        with database.read() as session:
            expected = Counter(session.scalars(select(FollowItemRow.user_id)).all())
            items = (
                session.execute(select(FollowItemRow.user_id, FollowItemRow.article_id))
                .tuples()
                .all()
            )
        database.dispose()
        assert len(expected) == len(FOLLOWERS)  # every follower had something new
        for user in FOLLOWERS:
            dms = stub.dms(user)
            assert len(dms) == 1, (user, len(dms), logs[-2000:])  # one DM per new issue
            saved = [
                int(b["accessory"]["value"])
                for b in dms[0]["blocks"]
                if b.get("accessory", {}).get("action_id") == "digest_follow_save"
            ]
            wanted = sorted(a for u, a in items if u == user)
            assert sorted(saved) == wanted and len(set(saved)) == len(saved)
        assert stub.rate_limited == 0
        # The DM held at the kill was looked up in the person's DM channel, not sent again
        # (taken over at once from the dead sender, or after its lease ran out).
        assert any(c.params["channel"][0] == "D" for c in stub.calls_to("conversations.history"))
