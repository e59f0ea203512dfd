"""Many workspaces on SQLite: while another process holds the write lock (an ingest), requests
are authorized and answered at once: reading the installation never takes the write lock
(issue 24, point 10)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from support.served_app import install, reaction, record_post, saves_of, served, settings_for
from support.slack_api import SlackStub

from bot.core.ingestion import expand_paths, ingest_files
from bot.store.db import Database, open_database

# Slack's 3 s are far off; a read that waits on the lock would take the whole hold.
FAST = 0.5
TS = "1790000000.000300"


@contextmanager
def write_lock_held(path: Path) -> Iterator[None]:
    """Another connection holds SQLite's write lock (BEGIN IMMEDIATE and a write)."""
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    locker.execute("CREATE TABLE IF NOT EXISTS lock_holder (x)")
    try:
        yield
    finally:
        locker.execute("ROLLBACK")
        locker.close()


def test_requests_are_authorized_while_another_process_writes(tmp_path: Path) -> None:
    path = tmp_path / "digest.db"
    url = f"sqlite:///{path}"
    archive = open_database(url, upgrade=True)
    ingest_files(archive, expand_paths([Path(__file__).resolve().parents[2] / "seeds"]))
    archive.dispose()
    with SlackStub() as stub:
        settings = settings_for(stub, url, many=True)
        setup = Database(url)
        install(settings, setup, "TAAA")
        record_post(setup, "TAAA", "C1", TS)
        web = Database(url, request_path=True)
        with served(settings, web, stub) as app, write_lock_held(path):
            for n in range(5):
                status, body, seconds = app.command("help", team="TAAA")
                assert status == 200 and "/digest" in body and seconds < FAST, seconds
                home = {"type": "app_home_opened", "user": "U1", "tab": "home"}
                status, seconds = app.event(home, f"EvHome{n}", "TAAA")
                assert status == 200 and seconds < FAST, seconds
            status, _, seconds = app.healthz()
            assert status == 200 and seconds < FAST
            # A save waits for the lock: acked at once all the same, and made once it is free.
            status, seconds = app.event(reaction("U1", "C1", TS), "EvSave", "TAAA")
            assert status == 200 and seconds < FAST
            assert saves_of(setup, "TAAA", "U1") == 0
        deadline = time.monotonic() + 10
        while saves_of(setup, "TAAA", "U1") == 0:
            assert time.monotonic() < deadline, "the save never came"
            time.sleep(0.05)
        web.dispose()
        setup.dispose()
