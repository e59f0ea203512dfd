"""Migration 0005 on a database that already has saves and handled events (both backends)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from bot.config import normalise_database_url
from bot.store import saves
from bot.store.db import HEAD, MIGRATIONS, Database, open_database
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


def test_head_is_alembics_newest_revision() -> None:
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD


def test_a_database_at_head_opens_without_loading_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'at-head.db'}"
    open_database(url).dispose()  # migrated here
    code = (
        "import sys; from bot.store.db import open_database; "
        f"open_database({url!r}).dispose(); print('alembic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_database_behind_head_is_still_upgraded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'behind.db'}"
    open_database(url).dispose()
    migrate(url, "0011", down=True)
    database = open_database(url)
    assert database.revisions() == (HEAD, HEAD)
    database.dispose()
