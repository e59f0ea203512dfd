"""Crash safety: `bot post` and `bot worker` killed with SIGKILL at many points, then rerun at once.

Whatever the moment of the kill (before a post, while Slack holds an accepted post, after Slack
accepted it but before the ts was recorded), an immediate rerun recognises the dead sender on
this host (pid and process start time), takes the delivery over without waiting for its lease,
and ends with exactly one parent message and every reply exactly once, in order.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.helpers import clean_env, due_now
from support.slack_api import SlackStub

from bot.core.ingestion import expand_paths, ingest_files
from bot.store.db import Database

pytestmark = pytest.mark.slow  # real bot processes

REPO = Path(__file__).resolve().parents[2]
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


def rerun(env: dict[str, str], channel: str, cwd: Path) -> str:
    """One immediate rerun, which must succeed (no waiting for the dead run's lease)."""
    process = run_post(env, channel, cwd)
    output = process.communicate(timeout=60)[0].decode()
    assert process.returncode == 0, output
    assert "waiting" not in output, output  # the dead sender was recognised as gone
    return output


def kill_when(process: subprocess.Popen[bytes], stub: SlackStub, channel: str, count: int) -> None:
    """SIGKILL the process once the channel has more than `count` messages."""
    deadline = time.time() + 30
    while time.time() < deadline and process.poll() is None:
        if len(stub.all_messages(channel)) > count:
            break
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait()


def assert_thread_once(stub: SlackStub, channel: str, label: str) -> None:
    parents = stub.messages(channel)
    assert len(parents) == 1, f"{label}: {len(parents)} parents"
    replies = stub.thread(channel, parents[0]["ts"])
    parts = [r["metadata"]["event_payload"]["part"] for r in replies]
    assert parts == list(range(1, PARTS)), f"{label}: {parts}"
    assert len(stub.all_messages(channel)) == PARTS


def base_env(database_url: str, stub: SlackStub) -> dict[str, str]:
    # The default lease (15 s) on purpose: an immediate rerun must not depend on it running out.
    return clean_env(
        DATABASE_URL=database_url,
        SLACK_BOT_TOKEN="xoxb-crash-test",
        SLACK_API_URL=stub.url,
        DIGEST_POST_INTERVAL="0.01",
        LOG_LEVEL="WARNING",
    )


# One kill point per test, so pytest-xdist workers share the matrix: each is two or three
# `bot post` processes, each paying Python's start-up (seconds on a busy 2-core box).
@pytest.mark.parametrize("k", range(KILL_POINTS))
def test_sigkill_at_a_point_then_immediate_rerun_posts_each_message_once(
    database_url: str, tmp_path: Path, k: int
) -> None:
    database = Database(database_url)
    ingest_files(database, expand_paths([REPO / "seeds"]))
    database.dispose()
    with SlackStub() as stub:
        env = base_env(database_url, stub)
        channel = f"CKILL{k}"
        target = (k * PARTS) // KILL_POINTS  # spread the kills over the whole thread
        held = k % 3 == 1
        if held:  # the kill lands while Slack holds an accepted post
            stub.hold_next("chat.postMessage", seconds=30, after=target)
        sender = run_post(env, channel, tmp_path)
        kill_when(sender, stub, channel, target)
        # The kill landed where it was aimed: after `target` messages, on a running sender.
        killed_at = len(stub.all_messages(channel))
        assert sender.returncode == -signal.SIGKILL, sender.returncode
        assert target < killed_at <= PARTS, (target, killed_at)
        stub.reset_faults()
        rerun(env, channel, tmp_path)
        assert_thread_once(stub, channel, f"kill point {k}")
        if k % 7 == 0:  # and a further run posts nothing
            assert "already posted" in rerun(env, channel, tmp_path)
        assert len(stub.all_messages(channel)) == PARTS


def test_rerun_waits_for_a_live_sender_and_says_so(database_url: str, tmp_path: Path) -> None:
    database = Database(database_url)
    ingest_files(database, expand_paths([REPO / "seeds"]))
    database.dispose()
    with SlackStub() as stub:
        env = base_env(database_url, stub)
        # Slack holds the fourth post's answer long enough for the second run to start
        # (process start-up takes seconds on a loaded machine).
        stub.hold_next("chat.postMessage", seconds=8, after=3)
        first = run_post(env, "CLIVE", tmp_path)
        started = time.time() + 30
        while len(stub.all_messages("CLIVE")) < 4 and time.time() < started:
            time.sleep(0.01)
        second = run_post(env, "CLIVE", tmp_path)
        out_second = second.communicate(timeout=60)[0].decode()
        out_first = first.communicate(timeout=60)[0].decode()
        assert first.returncode == 0, out_first
        assert second.returncode == 0, out_second
        assert "waiting:" in out_second and "is posting issue 2026-05-13" in out_second
        assert "already posted" in out_second
        assert_thread_once(stub, "CLIVE", "two posts at once")


def test_worker_killed_then_restarted_finishes_the_thread_within_30s(
    database_url: str, tmp_path: Path
) -> None:
    database = Database(database_url)
    ingest_files(database, expand_paths([REPO / "seeds"]))
    due_now(database, "CWORK")
    database.dispose()
    with SlackStub() as stub:
        env = base_env(database_url, stub) | {"DIGEST_POST_INTERVAL": "0.1"}
        log = (tmp_path / "worker.log").open("wb")

        def start() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                [sys.executable, "-m", "bot", "worker"],
                env=env,
                cwd=tmp_path,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

        stub.hold_next("chat.postMessage", seconds=60, after=12)  # killed while Slack holds one
        kill_when(start(), stub, "CWORK", 12)
        assert len(stub.all_messages("CWORK")) < PARTS
        stub.reset_faults()
        restarted_at = time.time()
        worker = start()
        try:
            while len(stub.all_messages("CWORK")) < PARTS and time.time() < restarted_at + 45:
                time.sleep(0.05)
            took = time.time() - restarted_at
            time.sleep(1.0)  # a duplicate, if any, would arrive now
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(20)
            log.close()
        output = (tmp_path / "worker.log").read_text()
        assert took < 30, f"{took:.1f}s\n{output[-2000:]}"
        assert_thread_once(stub, "CWORK", "worker restart")
