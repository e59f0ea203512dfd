"""Migration 0005 on a database that already has saves and handled events (both backends)."""

from __future__ import annotations

import datetime as dt

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from bot.config import normalise_database_url
from bot.store import saves
from bot.store.db import MIGRATIONS, Database
from bot.workspace import UNASSIGNED


def migrate(url: str, revision: str, *, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    engine = create_engine(normalise_database_url(url))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)
    engine.dispose()


def test_0005_keeps_existing_saves_and_widens_event_ids(database_url: str) -> None:
    migrate(database_url, "0004", down=True)
    engine = create_engine(normalise_database_url(database_url))
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO issues (id, date, signal, sources, categories, content_hash,"
                " ingested_at, updated_at) VALUES (1, '2026-01-05', 's', '[]', '[]', 'h',"
                " '2026-01-05 00:00:00', '2026-01-05 00:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO articles (id, issue_id, issue_date, position, title, publisher,"
                " summary) VALUES (7, 1, '2026-01-05', 0, 't', 'p', 's')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO saves (user_id, article_id, saved_at)"
                " VALUES ('U1', 7, '2026-01-05 10:00:00')"
            )
        )
    engine.dispose()
    migrate(database_url, "head")
    database = Database(database_url)
    try:
        with database.read() as session:
            assert saves.is_saved(session, UNASSIGNED, "U1", 7)
        with database.write() as session:
            assert saves.first_time_event(session, UNASSIGNED, "E" * 500, saves_now())
            # A save from before 0005 has no event time: any event decides over it.
            assert saves.apply_reaction(
                session, UNASSIGNED, "U1", 7, removed=True, event_us=1, at=saves_now()
            )
        with database.read() as session:
            assert not saves.is_saved(session, UNASSIGNED, "U1", 7)
    finally:
        database.dispose()


def saves_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
