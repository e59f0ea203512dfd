"""What the worker and the poller ask the store: delivered dates, what a source last showed."""

from __future__ import annotations

from pathlib import Path

from support.helpers import WS

from bot.core.ingestion import expand_paths, ingest_files
from bot.store import feed_state, ledger, queries
from bot.store.db import Database

REPO = Path(__file__).resolve().parents[2]


def test_delivered_dates_of_many_channels_at_once(database: Database) -> None:
    ingest_files(database, expand_paths([REPO / "seeds"]))
    with database.write() as session:
        ids = queries.recent_issues(session, 3)
        assert list(ids) == sorted(ids, reverse=True) and len(ids) == 3
        newest, older, _ = ids
        ledger.ensure_delivery(session, WS, "C1", ids[newest])
        ledger.ensure_delivery(session, WS, "C1", ids[older], state=ledger.FAILED)
        ledger.ensure_delivery(session, WS, "C2", ids[older])
    with database.read() as session:
        delivered = ledger.delivered_dates(session, WS, ["C1", "C2", "C3"])
        assert ledger.delivered_dates(session, WS, []) == {}
    assert delivered == {"C1": {newest, older}, "C2": {older}, "C3": set()}


def test_feed_state_remembers_validators_and_fingerprints(database: Database) -> None:
    long_key = "entry:" + "x" * 600  # cut to the column's width, on both backends
    keys = [f"file:/in/{i}.txt" for i in range(1200)]  # more than one IN (…) query's worth
    with database.write() as session:
        assert feed_state.validators(session, "url:https://example.com/feed") == (None, None)
        feed_state.remember_validators(session, "url:https://example.com/feed", '"v1"', "Mon")
        for i, key in enumerate(keys):
            feed_state.remember_item(session, key, f"{i:064x}", None)
        feed_state.remember_item(session, long_key, "f" * 64, "not a digest")
    with database.write() as session:
        feed_state.remember_validators(session, "url:https://example.com/feed", '"v2"', None)
    with database.read() as session:
        assert feed_state.validators(session, "url:https://example.com/feed") == ('"v2"', None)
        known = feed_state.fingerprints(session, [*keys, long_key, "file:/in/unknown.txt"])
    assert len(known) == len(keys) + 1
    assert known[keys[1100]] == f"{1100:064x}"
    assert known[feed_state.source_key(long_key)] == "f" * 64
