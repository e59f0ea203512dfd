"""A running worker tells followers of a new issue within a minute of its arrival, with the
default follow polling: an issue read from its source folder, then one stored meanwhile by
`python -m bot ingest` (real processes, the Slack stand-in over HTTP); a company followed
before its first article arrived is told of it once."""

from __future__ import annotations

import datetime as dt
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.helpers import clean_env, start_worker
from support.slack_api import SlackStub

from bot.core import follows
from bot.core.ingestion import ingest_files
from bot.store.db import Database
from bot.workspace import Workspace

pytestmark = pytest.mark.slow  # real bot processes

REPO = Path(__file__).resolve().parents[2]
NEWEST = "2026-05-13"
LATER = REPO / "tests" / "fixtures" / "follow-2026-05-14.txt"
MINUTE = 60.0


def wait_for_dms(stub: SlackStub, user: str, count: int, since: float) -> float:
    """Seconds from `since` until the user has `count` DMs (fails after a little over a minute)."""
    while len(stub.dms(user)) < count and time.time() < since + MINUTE + 10:
        time.sleep(0.1)
    assert len(stub.dms(user)) == count
    return time.time() - since


def test_a_running_worker_tells_followers_within_a_minute_of_an_issue_arriving(
    database_url: str, tmp_path: Path
) -> None:
    database = Database(database_url)
    ingest_files(
        database, [p for p in sorted((REPO / "seeds").glob("*.txt")) if NEWEST not in p.name]
    )
    now = dt.datetime.now(dt.UTC)
    assert follows.follow(database, Workspace("T111"), "UA1", "company Cloudflare", now).ok
    assert follows.follow(database, Workspace("T111"), "UA2", "topic tiered cache", now).ok
    # Not in the archive yet (its first article is in the issue that arrives): waits for it.
    waiting = follows.follow(database, Workspace("T111"), "UA3", "company DATABRICKS", now)
    assert waiting.ok and follows.NOT_YET in waiting.text
    database.dispose()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with SlackStub() as stub:
        env = clean_env(
            DATABASE_URL=database_url,
            SLACK_BOT_TOKEN="xoxb-follow-arrival",
            SLACK_API_URL=stub.url,
            DIGEST_SOURCE_DIR=str(inbox),
            DIGEST_POLL_MINUTES="0.05",
            LOG_LEVEL="INFO",
        )
        log = tmp_path / "worker.log"
        worker = start_worker(env, tmp_path, log)
        try:
            while "worker started" not in log.read_text() and worker.poll() is None:
                time.sleep(0.1)
            shutil.copy(REPO / "seeds" / f"{NEWEST}.txt", inbox / f"{NEWEST}.txt")
            assert wait_for_dms(stub, "UA1", 1, time.time()) < MINUTE, log.read_text()[-2000:]
            assert "Browser Run" in stub.dms("UA1")[0]["text"]
            assert stub.dms("UA2") == []  # nothing about a tiered cache in that issue
            wait_for_dms(stub, "UA3", 1, time.time())
            assert "High Performance Rate Limiting at Databricks" in stub.dms("UA3")[0]["text"]

            stored = time.time()
            ingest = subprocess.run(
                [sys.executable, "-m", "bot", "ingest", str(LATER)],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                check=False,
            )
            assert ingest.returncode == 0, ingest.stderr
            assert wait_for_dms(stub, "UA1", 2, stored) < MINUTE, log.read_text()[-2000:]
            assert wait_for_dms(stub, "UA2", 1, stored) < MINUTE
            later = stub.dms("UA1")[1]["text"]
            assert "Workers KV" in later and "Browser Run" not in later  # each article once
            assert "Workers KV" in stub.dms("UA2")[0]["text"]
            assert len(stub.dms("UA3")) == 1  # no Databricks in the later issue: told once
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
