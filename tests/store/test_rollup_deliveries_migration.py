"""Migration 0016: roll-up deliveries (no issue, a period), on a ledger that has threads already.

Run through the bot's own engine (on SQLite, foreign keys on): the batch alter that copies
`deliveries` must not take the posted messages with it through ON DELETE CASCADE.
"""

from __future__ import annotations

import datetime as dt

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from bot.store import ledger
from bot.store.db import HEAD, MIGRATIONS, Database
from bot.workspace import Workspace

BEFORE = "0015"  # the revision 0016 follows
THREAD = [("C1", 0, "100.1"), ("C1", 1, "100.2")]
WS = Workspace("T111")
NOW = dt.datetime(2026, 4, 6, 9, tzinfo=dt.UTC)
OLD_ROWS = [
    "INSERT INTO issues (id, date, signal, sources, categories, content_hash, ingested_at,"
    " updated_at) VALUES (1, '2026-04-01', 'Signal', '[]', '[]', 'h', :now, :now)",
    # Ids from the sequence (PostgreSQL's would not move past an id given here).
    "INSERT INTO deliveries (team_id, channel_id, issue_id, state, origin, attempt,"
    " parent_ts, created_at) VALUES ('T111', 'C1', 1, 'posted', 'schedule', 1, '100.1', :now)",
    "INSERT INTO delivery_messages (team_id, delivery_id, part, channel_id, ts, posted_at)"
    " SELECT 'T111', id, 0, 'C1', '100.1', :now FROM deliveries",
    "INSERT INTO delivery_messages (team_id, delivery_id, part, channel_id, ts, posted_at)"
    " SELECT 'T111', id, 1, 'C1', '100.2', :now FROM deliveries",
]


def migrate(database: Database, revision: str, *, down: bool = False) -> None:
    """Alembic on the bot's own engine (its connections' settings, SQLite's foreign keys)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def messages(database: Database) -> list[tuple[str, int, str]]:
    """(channel, part, ts) of every recorded message, with its delivery's channel."""
    with database.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT d.channel_id, m.part, m.ts FROM delivery_messages m"
                " JOIN deliveries d ON d.id = m.delivery_id ORDER BY m.ts"
            )
        )
        return [(str(c), int(p), str(t)) for c, p, t in rows]


def test_0016_keeps_posted_threads_and_down_drops_only_rollups(database_url: str) -> None:
    database = Database(database_url)
    try:
        migrate(database, BEFORE, down=True)
        with database.engine.begin() as connection:
            for statement in OLD_ROWS:
                connection.execute(text(statement), {"now": NOW})
        upgraded = database.upgrade()  # 0016, and whatever follows it
        assert (upgraded.before, upgraded.after) == (BEFORE, HEAD)
        assert messages(database) == THREAD
        with database.write() as session:
            rollup = ledger.ensure_delivery(session, WS, "C1", None, period="2026-W14", due_at=NOW)
            # One per channel and period, however often it is asked for.
            assert (
                ledger.ensure_delivery(session, WS, "C1", None, period="2026-W14", origin="manual")
                == rollup
            )
            assert ledger.ensure_delivery(session, WS, "C2", None, period="2026-W14") != rollup
            session.execute(
                text(
                    "INSERT INTO delivery_messages (team_id, delivery_id, part, channel_id, ts,"
                    " posted_at) VALUES ('T111', :d, 0, 'C1', '200.1', :now)"
                ),
                {"d": rollup, "now": NOW},
            )
        migrate(database, BEFORE, down=True)
        assert messages(database) == THREAD
        with database.engine.connect() as connection:
            kept = connection.execute(text("SELECT channel_id, issue_id FROM deliveries")).all()
        assert [tuple(r) for r in kept] == [("C1", 1)]
        migrate(database, "head")
        assert messages(database) == THREAD
    finally:
        database.dispose()
