"""Migration 0014: followed gains name (waiting company follows); down drops only those."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import create_engine, inspect, text
from test_migrations import migrate

from bot.config import normalise_database_url
from bot.core import follows
from bot.store.db import Database
from bot.workspace import Workspace

BEFORE = "0013"  # the revision 0014 follows
WS = Workspace("T111")


def _columns(url: str) -> set[str]:
    engine = create_engine(normalise_database_url(url))
    try:
        return {c["name"] for c in inspect(engine).get_columns("followed")}
    finally:
        engine.dispose()


def _labels(url: str) -> list[str]:
    engine = create_engine(normalise_database_url(url))
    with engine.connect() as connection:
        labels = connection.execute(text("SELECT label FROM follows ORDER BY label")).scalars()
        found = list(labels)
    engine.dispose()
    return found


def test_0014_adds_waiting_follows_and_down_keeps_the_others(database_url: str) -> None:
    now = dt.datetime.now(dt.UTC)
    migrate(database_url, BEFORE, down=True)
    assert "name" not in _columns(database_url)
    migrate(database_url, "head")
    database = Database(database_url)
    try:
        assert follows.follow(database, WS, "U1", "topic rate limiting", now).ok
        assert follows.follow(database, WS, "U1", "company Databricks", now).ok  # waiting
    finally:
        database.dispose()
    assert _labels(database_url) == ["Databricks", "rate limiting"]
    migrate(database_url, BEFORE, down=True)
    assert "name" not in _columns(database_url)
    assert _labels(database_url) == ["rate limiting"]
    migrate(database_url, "head")
