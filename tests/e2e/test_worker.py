"""The worker: cron jobs built from the subscriptions table, and two worker processes at once."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.helpers import WS, clean_env, due_now, subscribe
from support.slack_api import SlackStub

from bot.core.ingestion import expand_paths, ingest_files
from bot.delivery.deliverer import Deliverer, everywhere
from bot.delivery.poster import ChannelPacer, SlackPoster, make_web_client
from bot.store import subscriptions
from bot.store.db import Database
from bot.worker.dispatcher import Dispatcher
from bot.worker.scheduler import Worker

REPO = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 5, 13, 12, 0, tzinfo=dt.UTC)


def worker_for(database: Database) -> Worker:
    poster = SlackPoster(make_web_client("xoxb-x", "http://127.0.0.1:9/api/"), ChannelPacer(0))
    dispatcher = Dispatcher(database, Deliverer(database, everywhere(poster)), lambda: NOW)
    return Worker(dispatcher, None, dt.timedelta(minutes=5))


def test_jobs_follow_the_subscriptions_table(database: Database) -> None:
    worker = worker_for(database)
    subscribe(database, "C1", timezone="Europe/Berlin", days="weekdays", now=NOW)
    subscribe(database, "C2", hour=7, minute=30, timezone="Asia/Kolkata", now=NOW)
    subscribe(database, "C3", timezone="Europe/Berlin", days="weekdays", now=NOW)
    worker.sync_jobs()
    jobs = {job.id: job for job in worker.scheduler.get_jobs()}
    # One wake-up per time channels post at, however many channels share it.
    assert set(jobs) == {"slot:09:00:Europe/Berlin:weekdays", "slot:07:30:Asia/Kolkata:daily"}
    berlin = jobs["slot:09:00:Europe/Berlin:weekdays"].trigger
    assert str(berlin.timezone) == "Europe/Berlin"
    fields = {f.name: str(f) for f in berlin.fields}
    assert (fields["hour"], fields["minute"], fields["day_of_week"]) == ("9", "0", "mon-fri")
    # A change made through /digest subscribe is picked up by the next sync (every 30 s).
    with database.write() as session:
        subscriptions.subscribe(
            session,
            WS,
            "C1",
            hour=10,
            minute=15,
            timezone="UTC",
            days="daily",
            user_id="U1",
            now=NOW,
        )
        subscriptions.unsubscribe(session, WS, "C2")
    worker.sync_jobs()
    jobs = {job.id: job for job in worker.scheduler.get_jobs()}
    assert set(jobs) == {"slot:10:15:UTC:daily", "slot:09:00:Europe/Berlin:weekdays"}  # C3's
    fields = {f.name: str(f) for f in jobs["slot:10:15:UTC:daily"].trigger.fields}
    assert (fields["hour"], fields["minute"], fields["day_of_week"]) == ("10", "15", "*")
    with database.write() as session:
        subscriptions.unsubscribe(session, WS, "C3")
    worker.sync_jobs()
    assert [job.id for job in worker.scheduler.get_jobs()] == ["slot:10:15:UTC:daily"]


def test_one_wake_up_at_a_shared_time_sends_every_channel_due_then(database: Database) -> None:
    # A cron job per channel put thousands of ticks at 09:00 into the scheduler's ten
    # threads, each holding its thread until its own channel was posted.
    ingest_files(database, expand_paths([REPO / "seeds"]))
    channels = [f"CS{i:02d}" for i in range(12)]
    subscribe(database, *channels, hour=NOW.hour, now=NOW - dt.timedelta(days=1))
    with SlackStub() as stub:
        poster = SlackPoster(make_web_client("xoxb-x", stub.url), ChannelPacer(0))
        dispatcher = Dispatcher(database, Deliverer(database, everywhere(poster)), lambda: NOW)
        worker = Worker(dispatcher, None, dt.timedelta(minutes=5))
        worker.sync_jobs()
        (job,) = worker.scheduler.get_jobs()
        job.func(*job.args, **job.kwargs)  # what the scheduler runs at 12:00
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
