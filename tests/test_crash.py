"""Crash safety: `python -m bot post` killed with SIGKILL at many points, then restarted.

Whatever the moment of the kill (before a post, while Slack holds an accepted post, after Slack
accepted it but before the ts was recorded), the restarted run must end with exactly one parent
message and every reply exactly once, in order.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from slack_stub import SlackStub

from bot.ingestion import expand_paths, ingest_files
from bot.store.db import open_database

REPO = Path(__file__).resolve().parent.parent
PARTS = 30  # 2026-05-13: parent + 28 deep dives + patterns
KILL_POINTS = 22


def run_post(env: dict[str, str], channel: str, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "post", "--channel", channel, "--date", "2026-05-13"],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def finish(env: dict[str, str], channel: str, cwd: Path) -> str:
    """Re-run `post` until it reports the issue posted (the dead run's lease must lapse)."""
    output = ""
    for _ in range(20):
        process = run_post(env, channel, cwd)
        output = process.communicate(timeout=60)[0].decode()
        if process.returncode == 0:
            return output
        assert "another process is posting" in output, output
        time.sleep(0.3)
    raise AssertionError(output)


def test_sigkill_at_many_points_then_restart_posts_each_message_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'digest.db'}"
    database = open_database(url, upgrade=True)
    ingest_files(database, expand_paths([REPO / "seeds"]))
    database.dispose()
    points: set[tuple[int, bool]] = set()
    with SlackStub() as stub:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "SLACK_BOT_TOKEN": "xoxb-crash-test",
            "SLACK_API_URL": stub.url,
            "DIGEST_POST_INTERVAL": "0.01",
            "DIGEST_LEASE_SECONDS": "0.5",
            "LOG_LEVEL": "WARNING",
        }
        for k in range(KILL_POINTS):
            channel = f"CKILL{k}"
            target = (k * PARTS) // KILL_POINTS  # spread the kills over the whole thread
            held = k % 3 == 1
            if held:  # the kill lands while Slack holds an accepted post
                stub.hold_next("chat.postMessage", seconds=30, after=target)
            process = run_post(env, channel, tmp_path)
            deadline = time.time() + 30
            while time.time() < deadline and process.poll() is None:
                count = len(stub.all_messages(channel))
                if count > target:
                    break
                time.sleep(0.002)
            process.send_signal(signal.SIGKILL)
            process.wait()
            points.add((len(stub.all_messages(channel)), held))
            stub.reset_faults()
            finish(env, channel, tmp_path)
            parents = stub.messages(channel)
            assert len(parents) == 1, f"kill point {k}: {len(parents)} parents"
            replies = stub.thread(channel, parents[0]["ts"])
            parts = [r["metadata"]["event_payload"]["part"] for r in replies]
            assert parts == list(range(1, PARTS)), f"kill point {k}: {parts}"
            if k % 4 == 0:  # and a further run posts nothing
                assert "already posted" in finish(env, channel, tmp_path)
            assert len(stub.all_messages(channel)) == PARTS
    assert len(points) >= 20, points
