"""A busy database never loses an acked reaction: saves during a large ingest, behind a lock."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.helpers import WS, clean_env
from test_reactions import reaction, wait_applied
from test_slack_app import REPO, _record_post, served_bot

from bot.store import saves

pytestmark = pytest.mark.slow  # real bot processes

DAYS = 150  # ~3,300 articles: several ingest transactions, each holding the write lock


def test_a_save_during_a_large_ingest_is_not_lost(database_url: str, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    generator = str(REPO / "benchmarks" / "generate_corpus.py")
    subprocess.run(
        [sys.executable, generator, str(corpus), "--days", str(DAYS), "--end", "2020-12-31"],
        check=True,
        capture_output=True,
    )
    with served_bot(database_url, tmp_path) as bot:
        channel, ts = "C9B", "1790000000.000950"
        article_id = _record_post(bot.database, channel, ts)
        env = clean_env(DATABASE_URL=database_url)
        ingest = subprocess.Popen(
            [sys.executable, "-m", "bot", "ingest", str(corpus)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        sent: set[str] = set()
        users = []
        while ingest.poll() is None and len(sent) < 200:
            user = f"UB{len(sent):03d}"
            event = reaction("reaction_added", user, channel, ts, f"{time.time():.6f}")
            assert bot.event(event, f"EvBusy{len(sent)}") == 200
            sent.add(f"EvBusy{len(sent)}")
            users.append(user)
            time.sleep(0.02)
        out, err = ingest.communicate(timeout=300)
        assert ingest.returncode == 0, err
        assert f"{DAYS} new" in out
        assert len(sent) >= 10  # the saves really ran while the ingest was writing
        wait_applied(bot, sent, timeout=60)
        with bot.database.read() as session:
            lost = [u for u in users if not saves.is_saved(session, WS, u, article_id)]
        assert not lost


def test_a_save_waits_out_a_write_lock_held_longer_than_the_busy_timeout(
    tmp_path: Path,
) -> None:
    """SQLite gives up after its busy timeout (here 1 s); an acked save must not be lost then."""
    path = tmp_path / "digest.db"
    busy = {"DATABASE_BUSY_TIMEOUT": "1"}
    with served_bot(f"sqlite:///{path}", tmp_path, busy) as bot:
        channel, ts = "C9L", "1790000000.000951"
        article_id = _record_post(bot.database, channel, ts)
        locker = sqlite3.connect(path, isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")
        try:
            event = reaction("reaction_added", "U9L", channel, ts, f"{time.time():.6f}")
            assert bot.event(event, "EvLocked") == 200
            time.sleep(1.5)
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        wait_applied(bot, {"EvLocked"}, timeout=15)
        with bot.database.read() as session:
            assert saves.is_saved(session, WS, "U9L", article_id)
