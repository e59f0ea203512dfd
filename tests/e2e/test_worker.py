"""The worker: one tick on every minute, and two worker processes at once."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from support.helpers import clean_env, due_now, subscribe
from support.slack_api import SlackStub

from bot.core.ingestion import expand_paths, ingest_files
from bot.delivery.deliverer import Deliverer, everywhere
from bot.delivery.poster import ChannelPacer, SlackPoster, make_web_client
from bot.store.db import Database
from bot.worker.dispatcher import Dispatcher
from bot.worker.scheduler import Worker

REPO = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 5, 13, 12, 0, tzinfo=dt.UTC)


def test_one_tick_on_every_minute_sends_every_channel_due_then(database: Database) -> None:
    # Every schedule is HH:MM in a zone: one wake-up on every minute is on time for each,
    # however many channels and times there are, and a subscription made while the worker
    # runs needs no job of its own. (A cron job per channel once put thousands of ticks at
    # 09:00 into the scheduler's threads.)
    ingest_files(database, expand_paths([REPO / "seeds"]))
    channels = [f"CS{i:02d}" for i in range(12)]
    subscribe(database, *channels, hour=NOW.hour, now=NOW - dt.timedelta(days=1))
    with SlackStub() as stub:
        poster = SlackPoster(make_web_client("xoxb-x", stub.url), ChannelPacer(0))
        dispatcher = Dispatcher(database, Deliverer(database, everywhere(poster)), lambda: NOW)
        worker = Worker(dispatcher, None, dt.timedelta(minutes=5))
        worker._add_jobs()
        jobs = {job.id: job for job in worker.scheduler.get_jobs()}
        assert set(jobs) == {"tick", "resume"}
        trigger = jobs["tick"].trigger
        assert trigger.get_next_fire_time(None, NOW - dt.timedelta(seconds=59)) == NOW
        kolkata = dt.datetime(2026, 5, 14, 7, 30, tzinfo=ZoneInfo("Asia/Kolkata"))
        assert trigger.get_next_fire_time(None, kolkata - dt.timedelta(seconds=1)) == kolkata
        # A long fan-out (minutes for thousands of channels) must not hold the next minute's
        # channels back: a tick starts while an earlier one still runs.
        assert jobs["tick"].max_instances > 1

        async def at_noon() -> None:
            try:
                await jobs["tick"].func()  # what the scheduler runs at 12:00
            finally:
                await dispatcher.aclose()

        asyncio.run(at_noon())
        parents = {c: stub.messages(c) for c in channels}
    assert all(len(p) == 1 for p in parents.values()), parents


@pytest.mark.slow
def test_two_worker_processes_post_each_message_once(database_url: str, tmp_path: Path) -> None:
    database = Database(database_url)
    ingest_files(database, expand_paths([REPO / "seeds"]))
    channels = [f"CW{i}" for i in range(4)]
    due_now(database, *channels)
    database.dispose()
    with SlackStub() as stub:
        env = clean_env(
            DATABASE_URL=database_url,
            SLACK_BOT_TOKEN="xoxb-workers",
            SLACK_API_URL=stub.url,
            DIGEST_POST_INTERVAL="0.01",
            LOG_LEVEL="INFO",
        )
        logs = [(tmp_path / f"worker{i}.log").open("wb") for i in range(2)]
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "bot", "worker"],
                env=env,
                cwd=tmp_path,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            for log in logs
        ]
        try:
            deadline = time.time() + 90
            while time.time() < deadline:
                if all(len(stub.all_messages(c)) >= 30 for c in channels):
                    break
                time.sleep(0.2)
            time.sleep(1.0)  # a duplicate, if any, would arrive now
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                worker.wait(20)
            for log in logs:
                log.close()
        output = "".join((tmp_path / f"worker{i}.log").read_text() for i in range(2))
        for channel in channels:
            parents = stub.messages(channel)
            assert len(parents) == 1, output[-3000:]
            parts = [
                m["metadata"]["event_payload"]["part"]
                for m in stub.thread(channel, parents[0]["ts"])
            ]
            assert parts == list(range(1, 30))
        assert "xoxb-workers" not in output
