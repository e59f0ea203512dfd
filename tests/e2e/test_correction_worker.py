"""The running worker brings posted threads of a corrected issue up to date (default edit
window, `DIGEST_EDIT_WINDOW_DAYS`), and tells followers of the deep dive the correction added,
once (real processes, the Slack stand-in over HTTP)."""

from __future__ import annotations

import datetime as dt
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import update
from support.corrected_issue import ADDED_TITLE, ORIGINAL, write_corrected
from support.helpers import WS, clean_env, start_worker
from support.slack_api import SlackStub

from bot.clock import utc_now
from bot.core import follows
from bot.core.ingestion import expand_paths, ingest_files
from bot.delivery.deliverer import Deliverer, everywhere
from bot.delivery.poster import ChannelPacer, SlackPoster, make_web_client
from bot.store.db import Database
from bot.store.tables import DeliveryRow

pytestmark = pytest.mark.slow  # real bot processes

REPO = Path(__file__).resolve().parents[2]
LATEST = dt.date(2026, 5, 13)
PARTS = 30  # parent, 28 deep dives, patterns
EDITS = 3  # the parent, the changed deep dive, the removed one


def updates(stub: SlackStub, channel: str) -> list[str]:
    return [
        str(c.params["ts"]) for c in stub.calls_to("chat.update") if c.params["channel"] == channel
    ]


def until(done: Callable[[], object], seconds: float) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if done():
            return True
        time.sleep(0.1)
    return False


def test_the_worker_edits_recent_threads_of_a_corrected_issue_and_tells_followers_once(
    database_url: str, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(ORIGINAL, inbox / ORIGINAL.name)
    database = Database(database_url)
    ingest_files(database, expand_paths([REPO / "seeds"]))
    with SlackStub() as stub:
        client = make_web_client("xoxb-correction", stub.url, timeout=5)
        deliverer = Deliverer(database, everywhere(SlackPoster(client, ChannelPacer(0.0))))
        for channel in ("CRECENT", "COLDER"):
            assert deliverer.deliver_issue(WS, channel, LATEST).outcome == "posted"
        with database.write() as session:  # posted 8 days ago: outside the default 7 days
            session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.channel_id == "COLDER")
                .values(created_at=utc_now() - dt.timedelta(days=8))
            )
        assert follows.follow(database, WS, "UC1", "company Cloudflare", utc_now()).ok
        env = clean_env(
            DATABASE_URL=database_url,
            SLACK_BOT_TOKEN="xoxb-correction",
            SLACK_API_URL=stub.url,
            DIGEST_SOURCE_DIR=str(inbox),
            DIGEST_POLL_MINUTES="0.05",
            DIGEST_POST_INTERVAL="0.01",
            LOG_LEVEL="INFO",
        )
        log = tmp_path / "worker.log"
        worker = start_worker(env, tmp_path, log)
        try:
            assert until(lambda: "worker started" in log.read_text(), 30)
            time.sleep(4)  # a poll of the unchanged folder and a first follows run: nothing
            assert stub.calls_to("chat.update") == [] and stub.dms("UC1") == []
            write_corrected(inbox)  # the feed's entry changes: the same issue, corrected
            fixed = lambda: len(updates(stub, "CRECENT")) >= EDITS and stub.dms("UC1")  # noqa: E731
            assert until(fixed, 60), log.read_text()[-3000:]
            time.sleep(3)  # anything more (a second edit, a re-post) would show now
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
    database.dispose()
    assert len(updates(stub, "CRECENT")) == EDITS == len(set(updates(stub, "CRECENT")))
    assert updates(stub, "COLDER") == []  # outside the edit window: left as it was
    [parent] = stub.messages("CRECENT")
    replies = stub.thread("CRECENT", parent["ts"])
    assert len(replies) == PARTS and ADDED_TITLE in replies[-1]["text"]
    assert "12x reduction" in parent["text"]
    [dm] = stub.dms("UC1")  # the added Cloudflare deep dive only, once
    assert ADDED_TITLE in dm["text"] and "Browser Run" not in dm["text"]
