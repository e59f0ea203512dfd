"""Upgrading an old embedded database keeps every row that points at a table the upgrade copies.

SQLite alters a table by copying it; with foreign keys enforced (every connection of the bot),
dropping the old copy would delete, through ON DELETE CASCADE, the recorded messages of every
thread (migration 0008 copies `deliveries`). `Database.upgrade` migrates with them off.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from bot.store.db import MIGRATIONS, Database

OLD = "0007"  # before 0008 copies deliveries (and most per-workspace tables)
NOW = "2026-04-01 09:00:00"
ROWS = [
    "INSERT INTO issues (id, date, signal, sources, categories, content_hash, ingested_at,"
    " updated_at) VALUES (1, '2026-04-01', 'Signal', '[]', '[]', 'h', :now, :now)",
    "INSERT INTO deliveries (id, channel_id, issue_id, state, attempt, created_at, parent_ts)"
    " VALUES (1, 'C1', 1, 'posted', 1, :now, '100.1')",
    "INSERT INTO delivery_messages (delivery_id, part, channel_id, ts, posted_at)"
    " VALUES (1, 0, 'C1', '100.1', :now), (1, 1, 'C1', '100.2', :now)",
]


def test_an_upgrade_from_before_0008_keeps_every_posted_message(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    plain = create_engine(url)  # as an old release left it (pysqlite: foreign keys off)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with plain.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, OLD)
        for row in ROWS:
            connection.execute(text(row), {"now": NOW})
    plain.dispose()

    database = Database(url)
    try:
        upgrade = database.upgrade()
        assert upgrade.before == OLD
        with database.engine.connect() as connection:
            kept = connection.execute(
                text("SELECT part, ts FROM delivery_messages ORDER BY part")
            ).all()
            enforced = connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
        assert [tuple(r) for r in kept] == [(0, "100.1"), (1, "100.2")]
        assert enforced == 1  # the connection went back to the pool enforcing them again
    finally:
        database.dispose()
