"""Long-running commands as an operator sees them: startup line, no framework noise, Ctrl-C."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from support.helpers import clean_env, free_port
from support.slack_api import SlackStub

pytestmark = pytest.mark.slow  # real bot processes

TOKEN = "xoxb-process-token-0123456789"
SECRET = "process-signing-secret-0123"


def wait_until(predicate: object, timeout: float) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(0.1)
    return False


def test_serve_logs_one_startup_line_and_no_framework_warning(tmp_path: Path) -> None:
    port = free_port()
    with SlackStub() as stub:
        env = clean_env(
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=stub.url,
            PORT=str(port),
            WEB_CONCURRENCY="2",
            DATABASE_URL=f"sqlite:///{tmp_path / 'd.db'}",
        )
        log = tmp_path / "serve.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1"],
                env=env,
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

            def healthy() -> bool:
                try:
                    url = f"http://127.0.0.1:{port}/healthz"
                    with urllib.request.urlopen(url, timeout=1) as r:
                        return bool(r.status == 200)
                except OSError:
                    return False

            try:
                assert wait_until(healthy, 30), log.read_text()
                time.sleep(1.0)  # both web processes have built their app by now
            finally:
                process.send_signal(signal.SIGINT)
                process.wait(20)
        text = log.read_text()
    startup = [line for line in text.splitlines() if "serving Slack" in line]
    assert len(startup) == 1, text
    assert f"http://127.0.0.1:{port}/slack/events" in startup[0]
    assert "over HTTP" in startup[0] and "2 processes" in startup[0]
    assert "will be unused" not in text and "WARNING" not in text, text
    assert "Traceback" not in text and TOKEN not in text and SECRET not in text


class _SilentFeed:
    """An HTTP server that accepts connections and never answers (a feed that hangs)."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.connected = threading.Event()
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.held.append(conn)
            self.connected.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.getsockname()[1]}/feed.xml"

    def close(self) -> None:
        for conn in self.held:
            conn.close()
        self.server.close()


def test_worker_second_ctrl_c_exits_at_once_and_quietly(tmp_path: Path) -> None:
    feed = _SilentFeed()
    env = clean_env(
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_API_URL="http://127.0.0.1:9/api/",
        DIGEST_FEED_URL=feed.url,
        DATABASE_URL=f"sqlite:///{tmp_path / 'd.db'}",
    )
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "worker"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert feed.connected.wait(30), "the worker never polled the feed"
        process.send_signal(signal.SIGINT)
        time.sleep(1.0)
        assert process.poll() is None  # still waiting for the hung poll: the first ^C is polite
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=5)
    finally:
        feed.close()
    text = output.decode()
    assert process.returncode == 128 + signal.SIGINT, text
    assert "Traceback" not in text and "SchedulerNotRunningError" not in text, text
    assert "again" in text
