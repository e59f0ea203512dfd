"""Migration 0012: workspaces gain save_emoji (NULL: the default), existing rows kept."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import create_engine, inspect, text
from test_migrations import migrate

from bot.config import normalise_database_url
from bot.core import settings
from bot.store.db import Database
from bot.workspace import Workspace

BEFORE = "0011"  # the revision 0012 follows


def _columns(url: str) -> set[str]:
    engine = create_engine(normalise_database_url(url))
    try:
        return {c["name"] for c in inspect(engine).get_columns("workspaces")}
    finally:
        engine.dispose()


def test_0012_adds_save_emoji_and_keeps_workspaces(database_url: str) -> None:
    migrate(database_url, BEFORE, down=True)
    assert "save_emoji" not in _columns(database_url)
    engine = create_engine(normalise_database_url(database_url))
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO workspaces (enterprise_id, team_id, name, installer_id, updated_at)"
                " VALUES ('', 'T0OLD', 'Old Co', 'U0INST', '2026-05-01 00:00:00')"
            )
        )
    engine.dispose()
    migrate(database_url, "head")
    database = Database(database_url)
    old = Workspace("T0OLD")
    try:
        assert settings.save_emoji(database, old, "bookmark") == "bookmark"
        settings.set_save_emoji(database, old, "star", "bookmark", dt.datetime.now(dt.UTC))
        assert settings.save_emoji(database, old, "bookmark") == "star"
    finally:
        database.dispose()
    engine = create_engine(normalise_database_url(database_url))
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT name, installer_id, save_emoji FROM workspaces WHERE team_id = 'T0OLD'")
        ).one()
    engine.dispose()
    assert tuple(row) == ("Old Co", "U0INST", "star")
    # Down again: the column goes, the workspace stays.
    migrate(database_url, BEFORE, down=True)
    assert "save_emoji" not in _columns(database_url)
    migrate(database_url, "head")
    database = Database(database_url)
    try:
        assert settings.save_emoji(database, old, "bookmark") == "bookmark"
    finally:
        database.dispose()
