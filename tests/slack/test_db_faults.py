"""Every request answered within Slack's 3 s whatever the database does, and no save lost
(issue 24, points 9 and 11): a real PostgreSQL stopped and frozen (SIGSTOP), a real SQLite
file locked by another process, under the app served over real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from support.pg_cluster import Cluster, server_binaries
from support.served_app import install, reaction, record_post, saves_of, served, settings_for
from support.slack_api import SlackStub

from bot.core.ingestion import expand_paths, ingest_files
from bot.slack.unavailable import APOLOGY
from bot.store.db import Database, open_database

pytestmark = pytest.mark.slow  # each test starts bot or database processes

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
TS = "1790000000.000200"
# Slack's limit is 3 s; the app answers at 2.5 s at the latest. The margin is for a loaded
# two-core machine.
SLACK_LIMIT = 3.0

FAULTS = [("sqlite", "locked")]
# PostgreSQL runs where the suite runs it (DIGEST_TEST_POSTGRES_URL), on a server of its own.
if os.environ.get("DIGEST_TEST_POSTGRES_URL") and server_binaries() is not None:
    FAULTS += [("postgres", "stopped"), ("postgres", "frozen")]


@contextmanager
def sqlite_locked(path: Path, *open_: Database) -> Iterator[None]:
    """Another process holds the file exclusively (locking_mode=EXCLUSIVE in a write
    transaction): nobody else can read or write it until that process lets go. It can only
    take the file while nobody has it open: `open_` databases close their idle connections."""
    for database in open_:
        database.dispose()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            f"c = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
            "c.execute('PRAGMA locking_mode=EXCLUSIVE')\n"
            "c.execute('BEGIN EXCLUSIVE')\n"
            "c.execute('CREATE TABLE IF NOT EXISTS lock_holder (x)')\n"
            "print('held', flush=True)\n"
            "sys.stdin.readline()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    try:
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(10)


@dataclass
class Backend:
    """A database for one test, and the fault to put it in."""

    url: str
    fault: Callable[..., AbstractContextManager[None]]  # given the databases open on it


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite archive with the seed issues (each test gets a copy)."""
    path = tmp_path_factory.mktemp("archive") / "digest.db"
    database = open_database(f"sqlite:///{path}", upgrade=True)
    ingest_files(database, expand_paths([SEEDS]))
    database.dispose()
    return path


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A PostgreSQL server of this module's own, with a template archive (seeds ingested)."""
    server = Cluster()
    admin = create_engine(server.url.replace("postgresql://", "postgresql+psycopg://"))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CREATE DATABASE archive"))
    admin.dispose()
    database = open_database(server.url_of("archive"), upgrade=True)
    ingest_files(database, expand_paths([SEEDS]))
    database.dispose()
    yield server
    server.close()


@contextmanager
def pg_stopped(server: Cluster) -> Iterator[None]:
    server.stop()
    try:
        yield
    finally:
        server.start()


@contextmanager
def pg_frozen(server: Cluster) -> Iterator[None]:
    server.freeze()
    try:
        yield
    finally:
        server.thaw()


@pytest.fixture(params=FAULTS, ids=["-".join(f) for f in FAULTS])
def backend(request: pytest.FixtureRequest, archive: Path, tmp_path: Path) -> Backend:
    kind, fault = request.param
    if kind == "sqlite":
        copy = tmp_path / "digest.db"
        copy.write_bytes(archive.read_bytes())
        return Backend(f"sqlite:///{copy}", lambda *open_: sqlite_locked(copy, *open_))
    server: Cluster = request.getfixturevalue("cluster")
    name = f"digest_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server.url.replace("postgresql://", "postgresql+psycopg://"))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE archive'))
    admin.dispose()
    url = server.url_of(name)
    if fault == "stopped":
        return Backend(url, lambda *_: pg_stopped(server))
    return Backend(url, lambda *_: pg_frozen(server))


def wait_for(predicate: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_many_workspaces_answer_within_3_s_whatever_the_database_does(backend: Backend) -> None:
    with SlackStub() as stub:
        settings = settings_for(stub, backend.url, many=True)
        setup = Database(backend.url)
        install(settings, setup, "TAAA")
        record_post(setup, "TAAA", "C1", TS)
        web = Database(backend.url, request_path=True)  # as `serve` opens it
        with served(settings, web, stub) as app:
            assert app.command("help", team="TAAA")[0] == 200  # connections pooled
            with backend.fault(web, setup):
                status, body, seconds = app.command("help", team="TAAA")
                assert status == 200 and seconds < SLACK_LIMIT
                assert APOLOGY in body
                status, seconds = app.event(reaction("U1", "C1", TS), "EvDown", "TAAA")
                assert status == 503 and seconds < SLACK_LIMIT  # Slack delivers it again
                status, health, seconds = app.healthz()
                assert (status, health["database"]) == (503, "down") and seconds < 1.5
            # Back: Slack's retry of the event saves it, once.
            wait_for(lambda: app.healthz()[0] == 200)
            for retry in (1, 2):
                status, _ = app.event(reaction("U1", "C1", TS), "EvDown", "TAAA", retry=retry)
                assert status == 200
            assert saves_of(setup, "TAAA", "U1") == 1
            status, body, _ = app.command("help", team="TAAA")
            assert status == 200 and "/digest" in body and APOLOGY not in body
        web.dispose()
        setup.dispose()


def test_a_reaction_during_an_outage_is_saved_once_when_slack_delivers_it_again(
    backend: Backend,
) -> None:
    with SlackStub() as stub:
        settings = settings_for(stub, backend.url, many=False)
        setup = Database(backend.url)
        record_post(setup, "T111", "C1", TS)
        web = Database(backend.url, request_path=True)
        with served(settings, web, stub) as app:
            assert app.event(reaction("U0", "C1", TS), "EvWarm")[0] == 200
            with backend.fault(web, setup):
                status, seconds = app.event(reaction("U2", "C1", TS), "EvOut")
                assert status == 503 and seconds < SLACK_LIMIT
            wait_for(lambda: app.healthz()[0] == 200)
            # Slack's retries (the same event_id, X-Slack-Retry-Num 1 and 2): one save.
            assert app.event(reaction("U2", "C1", TS), "EvOut", retry=1)[0] == 200
            assert app.event(reaction("U2", "C1", TS), "EvOut", retry=2)[0] == 200
            assert saves_of(setup, "T111", "U2") == 1
            wait_for(lambda: len(stub.calls_to("chat.postEphemeral")) >= 2)
            confirmations = [
                c for c in stub.calls_to("chat.postEphemeral") if c.params.get("user") == "U2"
            ]
            assert len(confirmations) == 1
        web.dispose()
        setup.dispose()
