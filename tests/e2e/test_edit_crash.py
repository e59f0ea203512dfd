"""Corrections under SIGKILL: `bot post` killed between edits of a corrected issue, then rerun
at once, leaves every message edited once, every added deep dive appended once, no new parent."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.corrected_issue import ADDED_TITLE, write_corrected
from support.helpers import WS, clean_env
from support.slack_api import SlackStub

from bot.core.ingestion import expand_paths, ingest_files
from bot.delivery.deliverer import Deliverer, everywhere
from bot.delivery.poster import ChannelPacer, SlackPoster, make_web_client
from bot.slack.rendering import REMOVED_ARTICLE
from bot.store.db import Database

pytestmark = pytest.mark.slow  # real bot processes

REPO = Path(__file__).resolve().parents[2]
LATEST = dt.date(2026, 5, 13)
PARTS = 30  # parent, 28 deep dives, patterns
EDITS = 3  # the parent, the changed deep dive, the removed one


def post(env: dict[str, str], channel: str, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "post", "--channel", channel, "--date", "2026-05-13"],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def kill_when(process: subprocess.Popen[bytes], ready: Callable[[], bool]) -> None:
    deadline = time.time() + 30
    while time.time() < deadline and process.poll() is None and not ready():
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait()


def updates(stub: SlackStub, channel: str) -> list[str]:
    return [
        str(c.params["ts"]) for c in stub.calls_to("chat.update") if c.params["channel"] == channel
    ]


def edited(stub: SlackStub, channel: str) -> int:
    return sum(1 for m in stub.all_messages(channel) if "edited" in m)


def content(message: dict[str, Any]) -> str:
    return json.dumps([message["text"], message["blocks"]], sort_keys=True, ensure_ascii=False)


def test_sigkill_between_edits_then_immediate_rerun_edits_once_and_appends_once(
    database_url: str, tmp_path: Path
) -> None:
    database = Database(database_url)
    ingest_files(database, expand_paths([REPO / "seeds"]))
    channels = [f"CEDIT{k}" for k in range(4)]
    with SlackStub() as stub:
        client = make_web_client("xoxb-crash-test", stub.url, timeout=5)
        deliverer = Deliverer(database, everywhere(SlackPoster(client, ChannelPacer(0.0))))
        for channel in channels:
            assert deliverer.deliver_issue(WS, channel, LATEST).outcome == "posted"
        assert not ingest_files(database, [write_corrected(tmp_path / "fix")]).failed
        env = clean_env(
            DATABASE_URL=database_url,
            SLACK_BOT_TOKEN="xoxb-crash-test",
            SLACK_API_URL=stub.url,
            DIGEST_POST_INTERVAL="0.01",
            LOG_LEVEL="WARNING",
        )
        # Where each run dies: Slack holds an edit it made (0, 2); an edit Slack never made
        # is cut short (1); Slack holds the appended deep dive it accepted (3).
        unmade: dict[str, int] = {}
        for k, channel in enumerate(channels):
            posts_before = len(stub.all_messages(channel))
            if k in (0, 2):
                stub.hold_next("chat.update", seconds=30, after=k)
                ready: Callable[[], bool] = lambda c=channel, n=k + 1: edited(stub, c) >= n  # noqa: E731
            elif k == 1:
                stub.fail_next("chat.update", timeout=30, after=1)
                ready = lambda c=channel: len(updates(stub, c)) >= 2  # noqa: E731
            else:
                stub.hold_next("chat.postMessage", seconds=30)
                ready = lambda c=channel, n=posts_before: len(stub.all_messages(c)) > n  # noqa: E731
            kill_when(post(env, channel, tmp_path), ready)
            if k == 1:
                unmade[channel] = updates(stub, channel)[1]
            stub.reset_faults()
            rerun = post(env, channel, tmp_path)
            output = rerun.communicate(timeout=60)[0].decode()
            assert rerun.returncode == 0, output
            assert "waiting" not in output, output

        assert deliverer.deliver_issue(WS, "CFRESH", LATEST).outcome == "posted"
        fresh = stub.all_messages("CFRESH")
        for channel in channels:
            messages = stub.all_messages(channel)
            parents = stub.messages(channel)
            assert len(parents) == 1, channel
            replies = stub.thread(channel, parents[0]["ts"])
            parts = [r["metadata"]["event_payload"]["part"] for r in replies]
            assert parts == list(range(1, PARTS + 1)), (channel, parts)
            assert ADDED_TITLE in replies[-1]["text"]
            # Each message edited once; an edit Slack never made is made on the rerun.
            calls = updates(stub, channel)
            expected = EDITS + (1 if channel in unmade else 0)
            assert len(calls) == expected, (channel, calls)
            assert len(set(calls)) == EDITS
            removed = [
                m
                for m in messages
                if REMOVED_ARTICLE in json.dumps(m["blocks"], ensure_ascii=False)
            ]
            assert len(removed) == 1, channel
            kept = [m for m in messages if m is not removed[0]]
            assert content(kept[0]) == content(fresh[0])
            assert sorted(map(content, kept[1:])) == sorted(map(content, fresh[1:])), channel
    database.dispose()
