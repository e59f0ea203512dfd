"""Migration 0008 and adoption: a single-workspace database keeps every row, now its team's."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from support.helpers import clean_env
from support.slack_api import SlackStub
from test_migrations import migrate

from bot import bootstrap
from bot.config import Settings, normalise_database_url
from bot.core import lookups, workspaces
from bot.core.status import channel_status
from bot.slack.identity import adopt_token_workspace
from bot.store import ledger, saves, subscriptions
from bot.store import workspaces as store
from bot.store.db import Database
from bot.store.tables import (
    DeliveryMessageRow,
    DeliveryRow,
    ProcessedEventRow,
    SaveRow,
    SubscriptionRow,
)
from bot.worker.dispatcher import Dispatcher
from bot.workspace import UNASSIGNED, Workspace

TOKEN = "xoxb-adopt-0123456789"
TEAM = Workspace("T0ADOPT")
# Every subscription's slot was a minute ago (subscribed an hour before it): due right now.
SLOT = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
TODAY = SLOT.date()
OLD_ROWS = [
    "INSERT INTO issues (id, date, signal, sources, categories, content_hash, ingested_at,"
    " updated_at) VALUES (1, :day, 'Signal', '[]', '[]', 'h', :now, :now)",
    "INSERT INTO articles (id, issue_id, issue_date, position, title, publisher, summary)"
    " VALUES (7, 1, :day, 0, 'Queues at scale', 'Acme', 'Acme shards queues.')",
    "INSERT INTO subscriptions (id, channel_id, hour, minute, timezone, days, active, failing,"
    " created_at, updated_at) VALUES (1, 'C1', :hour, :minute, 'UTC', 'daily', true, false,"
    " :before, :before)",
    "INSERT INTO subscriptions (id, channel_id, hour, minute, timezone, days, active, failing,"
    " created_at, updated_at) VALUES (3, 'C3', :hour, :minute, 'UTC', 'daily', true, false,"
    " :before, :before)",
    "INSERT INTO subscriptions (id, channel_id, hour, minute, timezone, days, active, failing,"
    " last_error, created_at, updated_at) VALUES (2, 'C2', 9, 0, 'Europe/Berlin', 'weekdays',"
    " true, true, 'not_in_channel', :now, :now)",
    "INSERT INTO deliveries (id, channel_id, issue_id, state, origin, attempt, parent_ts,"
    " created_at, finished_at) VALUES (1, 'C1', 1, 'posted', 'schedule', 1, '100.1', :now, :now)",
    "INSERT INTO delivery_messages (delivery_id, part, channel_id, ts, article_id, posted_at)"
    " VALUES (1, 0, 'C1', '100.1', NULL, :now)",
    "INSERT INTO delivery_messages (delivery_id, part, channel_id, ts, article_id, posted_at)"
    " VALUES (1, 1, 'C1', '100.2', 7, :now)",
    "INSERT INTO delivery_messages (delivery_id, part, channel_id, ts, article_id, posted_at)"
    " VALUES (1, 2, 'C1', '100.3', NULL, :now)",
    "INSERT INTO saves (user_id, article_id, saved_at, removed, event_us)"
    " VALUES ('U1', 7, :now, false, 5)",
    "INSERT INTO processed_events (event_id, received_at) VALUES ('EvOld', :now)",
]
TABLES = (SubscriptionRow, DeliveryRow, DeliveryMessageRow, SaveRow, ProcessedEventRow)


def old_database(url: str) -> None:
    """A database at revision 0007 with what one workspace had."""
    migrate(url, "0007", down=True)
    engine = create_engine(normalise_database_url(url))
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    before = SLOT.replace(tzinfo=None) - dt.timedelta(hours=1)
    values = {"day": TODAY, "now": now, "before": before, "hour": SLOT.hour, "minute": SLOT.minute}
    with engine.begin() as connection:
        for statement in OLD_ROWS:
            connection.execute(text(statement), values)
    engine.dispose()


def teams(database: Database) -> dict[str, set[tuple[str, str]]]:
    with database.read() as session:
        return {
            t.__tablename__: set(session.execute(select(t.enterprise_id, t.team_id)).tuples())
            for t in TABLES
        }


def count(database: Database) -> dict[str, int]:
    with database.read() as session:
        return {t.__tablename__: len(session.scalars(select(t)).all()) for t in TABLES}


def test_upgrade_then_adopt_keeps_every_row_for_the_tokens_team(database_url: str) -> None:
    old_database(database_url)
    migrate(database_url, "head")
    database = Database(database_url)
    try:
        expected = {
            "subscriptions": 3,
            "deliveries": 1,
            "delivery_messages": 3,
            "saves": 1,
            "processed_events": 1,
        }
        assert count(database) == expected
        assert all(v == {("", "")} for v in teams(database).values())
        with SlackStub() as stub:
            stub.token_teams[TOKEN] = {"team_id": TEAM.team_id, "team": "Adopters"}
            settings = Settings(  # type: ignore[call-arg]
                SLACK_BOT_TOKEN=TOKEN, SLACK_API_URL=stub.url, DATABASE_URL=database_url
            )
            assert adopt_token_workspace(settings, database) == TEAM
            assert adopt_token_workspace(settings, database) == TEAM  # idempotent
            assert len(stub.calls_to("auth.test")) == 2
        assert count(database) == expected
        assert all(v == {("", TEAM.team_id)} for v in teams(database).values())
        with database.read() as session:
            assert saves.is_saved(session, TEAM, "U1", 7)
            assert saves.article_for_message(session, TEAM, "C1", "100.2") == 7
            assert not saves.first_time_event(session, TEAM, "EvOld", dt.datetime.now(dt.UTC))
            sub = subscriptions.get_subscription(session, TEAM, "C2")
            assert sub is not None and sub.failing and sub.timezone == "Europe/Berlin"
            assert ledger.delivered_dates(session, TEAM, ["C1"]) == {"C1": {TODAY}}
            assert subscriptions.list_subscriptions(session, UNASSIGNED) == []
            [summary] = store.summaries(session)
        assert (summary.workspace, summary.name, summary.installed) == (TEAM, "Adopters", True)
        assert (summary.channels, summary.failing) == (3, 1)
    finally:
        database.dispose()


def test_two_processes_adopting_at_once_move_each_row_once(database_url: str) -> None:
    old_database(database_url)
    migrate(database_url, "head")
    first, second = Database(database_url), Database(database_url)
    try:
        now = dt.datetime.now(dt.UTC)
        moved = [workspaces.adopt(db, TEAM, now, "A") for db in (first, second)]
        assert sorted(moved) == [0, 9]
        assert all(v == {("", TEAM.team_id)} for v in teams(first).values())
    finally:
        first.dispose()
        second.dispose()


@pytest.mark.slow
def test_after_adoption_the_bot_works_for_the_team(database_url: str, tmp_path: Path) -> None:
    """status and saved answer from the adopted rows; the worker does not re-post the issue."""
    old_database(database_url)
    migrate(database_url, "head")
    with SlackStub() as stub:
        stub.token_teams[TOKEN] = {"team_id": TEAM.team_id, "team": "Adopters"}
        env = clean_env(DATABASE_URL=database_url, SLACK_BOT_TOKEN=TOKEN, SLACK_API_URL=stub.url)
        listed = run_bot(["subscriptions", "list"], env, tmp_path)
        assert listed.returncode == 0, listed.stderr
        assert "C1" in listed.stdout and "Last delivery: issue" in listed.stdout
        assert "FAILING: not_in_channel" in listed.stdout
        posted = run_bot(["post", "--channel", "C1", "--date", "latest"], env, tmp_path)
        assert posted.returncode == 0, posted.stderr
        assert "already posted" in posted.stdout
        database = Database(database_url)
        try:
            settings = Settings(  # type: ignore[call-arg]
                SLACK_BOT_TOKEN=TOKEN, SLACK_API_URL=stub.url, DATABASE_URL=database_url
            )
            dispatcher = Dispatcher(
                database, bootstrap.deliverer(settings, database), lambda: dt.datetime.now(dt.UTC)
            )
            results = dispatcher.tick()
            # C3 had no delivery of today's issue: posted now. C1 had it before the migration:
            # nothing is posted there again.
            assert [(r.channel_id, r.outcome) for r in results] == [("C3", "posted")]
            posted_to = {c.params.get("channel") for c in stub.calls_to("chat.postMessage")}
            assert posted_to == {"C3"}
            with database.read() as session:
                assert ledger.delivered_dates(session, TEAM, ["C3"]) == {"C3": {TODAY}}
            saved = lookups.saved(database, TEAM, "U1")
            assert "Queues at scale" in [article.title for article in saved.items]
            now = dt.datetime.now(dt.UTC)
            status = channel_status(database, TEAM, "C1", now, dt.timedelta(days=2)).text
            assert f"Schedule: {SLOT:%H:%M} UTC, every day." in status
        finally:
            database.dispose()


def run_bot(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
