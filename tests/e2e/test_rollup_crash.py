"""Crash safety of roll-ups: `python -m bot rollup` killed with SIGKILL at many points, then rerun.

The same protocol as an issue's thread (tests/e2e/test_crash.py): whether the kill lands
before a post, while Slack holds an accepted post, or after Slack accepted one that was never
recorded, an immediate rerun takes the roll-up over from the dead sender and ends with exactly
one parent and each reply exactly once, in order; a further run posts nothing.
"""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from support.helpers import WS
from support.slack_api import SlackStub
from test_crash import base_env, kill_when

from bot.core.ingestion import expand_paths, ingest_files
from bot.store import rollups as rollup_store
from bot.store.db import Database
from bot.store.saves import apply_reaction
from bot.store.tables import ArticleRow

pytestmark = pytest.mark.slow  # real bot processes

REPO = Path(__file__).resolve().parents[2]
ENDING = "2026-04-01"  # in 2026-W14: two issues
PARTS = 4  # the parent, Signals of the Day, Patterns Across Companies, most saved
NOW = dt.datetime(2026, 4, 6, 9, tzinfo=dt.UTC)
# (messages Slack has when the kill lands, whether Slack holds the answer to the last of them)
KILLS = [(0, True), (0, False), (1, True), (1, False), (2, True), (3, True)]


def run_rollup(env: dict[str, str], channel: str, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "rollup", "--channel", channel, "--ending", ENDING],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def rerun(env: dict[str, str], channel: str, cwd: Path) -> str:
    """One immediate rerun, which must succeed (no waiting for the dead run's lease)."""
    process = run_rollup(env, channel, cwd)
    output = process.communicate(timeout=60)[0].decode()
    assert process.returncode == 0, output
    assert "waiting" not in output, output  # the dead sender was recognised as gone
    return output


def prepare(database_url: str, channel: str) -> None:
    """The archive, the channel's weekly roll-up, and saves in W14 (so it has four parts)."""
    database = Database(database_url)
    ingest_files(database, expand_paths([REPO / "seeds"]))
    with database.write() as session:
        rollup_store.set_rollup(
            session,
            WS,
            channel,
            period="week",
            weekday=0,
            hour=9,
            minute=0,
            timezone="UTC",
            user_id="U1",
            now=NOW,
        )
        article = session.scalar(
            select(ArticleRow.id).where(ArticleRow.issue_date == dt.date.fromisoformat(ENDING))
        )
        assert article is not None
        apply_reaction(session, WS, "U1", article, removed=False, event_us=1, at=NOW)
    database.dispose()


def assert_rollup_once(stub: SlackStub, channel: str, label: str) -> None:
    parents = stub.messages(channel)
    assert len(parents) == 1, f"{label}: {len(parents)} parents"
    assert parents[0]["metadata"]["event_payload"]["period"] == "2026-W14"
    replies = stub.thread(channel, parents[0]["ts"])
    parts = [r["metadata"]["event_payload"]["part"] for r in replies]
    assert parts == list(range(1, PARTS)), f"{label}: {parts}"
    assert "Most saved" in replies[-1]["text"], label
    assert len(stub.all_messages(channel)) == PARTS


@pytest.mark.parametrize(("target", "held"), KILLS)
def test_sigkill_at_a_point_then_immediate_rerun_posts_each_message_once(
    database_url: str, tmp_path: Path, target: int, held: bool
) -> None:
    channel = f"CROLL{target}{'H' if held else 'P'}"
    prepare(database_url, channel)
    with SlackStub() as stub:
        # Not held: paced a second apart, so the kill lands between two posts.
        env = base_env(database_url, stub) | {"DIGEST_POST_INTERVAL": "0.01" if held else "1"}
        if held:  # the kill lands while Slack holds an accepted post
            stub.hold_next("chat.postMessage", seconds=30, after=target)
        sender = run_rollup(env, channel, tmp_path)
        kill_when(sender, stub, channel, target)
        killed_at = len(stub.all_messages(channel))
        assert sender.returncode == -signal.SIGKILL, sender.returncode
        assert target < killed_at < PARTS or (held and killed_at == PARTS), (target, killed_at)
        stub.reset_faults()
        rerun(env, channel, tmp_path)
        assert_rollup_once(stub, channel, f"kill after {target} (held: {held})")
        assert "already posted" in rerun(env, channel, tmp_path)
        assert len(stub.all_messages(channel)) == PARTS
