"""The posting client keeps its connection open: one connection carries many calls, a server
that closes idle connections or answers `Connection: close` costs nothing but a reconnect, and
Slack's refusals reach the poster exactly as through slack_sdk's own transport."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from support.slack_api import SlackStub

from bot.delivery.poster import (
    AmbiguousError,
    NotSentError,
    PermanentError,
    RateLimitedError,
    SlackPoster,
    make_lookup_client,
    make_web_client,
)
from bot.slack import keepalive
from bot.slack.rendering import Message

MESSAGE = Message(text="hello", blocks=[])


class _Api:
    """A tiny HTTP/1.1 Web API: records which connection (client port) carried each call."""

    def __init__(
        self, *, close_after_answer: bool = False, idle_timeout: float | None = None
    ) -> None:
        self.ports: list[int] = []
        self.close_after_answer = close_after_answer
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = idle_timeout  # the server closes a connection idle this long

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                api.ports.append(self.client_address[1])
                data = json.dumps({"ok": True, "ts": f"{time.time():.6f}"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                if api.close_after_answer:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                # Headers and body in two writes, as many servers do (the client must not
                # wait for its delayed ACK in between).
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    @contextmanager
    def running(self) -> Iterator[_Api]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()


def _post(poster: SlackPoster, n: int) -> list[str]:
    return [poster.post("C1", MESSAGE, thread_ts=None, metadata={}) for _ in range(n)]


def test_one_connection_carries_many_posts() -> None:
    with _Api().running() as api:
        poster = SlackPoster(make_web_client("xoxb-1", api.url), None)
        assert len(set(_post(poster, 5))) == 5
        assert len(api.ports) == 5
        assert len(set(api.ports)) == 1


def test_a_server_that_closes_after_each_answer_is_simply_reconnected() -> None:
    with _Api(close_after_answer=True).running() as api:
        poster = SlackPoster(make_web_client("xoxb-1", api.url), None)
        assert len(_post(poster, 4)) == 4
        assert len(set(api.ports)) == 4


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    # Written into a connection the server has closed, a post would be ambiguous (it may or
    # may not have been read): the client sees the close first and reconnects.
    with _Api(idle_timeout=0.2).running() as api:
        poster = SlackPoster(make_web_client("xoxb-1", api.url), None)
        _post(poster, 1)
        time.sleep(0.6)  # longer than RECENT_SECONDS
        assert len(_post(poster, 2)) == 2
        assert len(set(api.ports)) == 2


def test_an_idle_connection_is_not_reused_after_the_idle_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with _Api().running() as api:
        poster = SlackPoster(make_web_client("xoxb-1", api.url), None)
        _post(poster, 1)
        monkeypatch.setattr(keepalive, "RECENT_SECONDS", 0.0)
        monkeypatch.setattr(keepalive, "IDLE_SECONDS", 0.0)
        _post(poster, 1)
        assert len(set(api.ports)) == 2


def test_each_thread_keeps_its_own_connection() -> None:
    with _Api().running() as api:
        poster = SlackPoster(make_web_client("xoxb-1", api.url), None)
        threads = [threading.Thread(target=_post, args=(poster, 3)) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(api.ports) == 9
        assert len(set(api.ports)) == 3


def test_slack_refusals_are_classified_as_before() -> None:
    with SlackStub() as stub:
        poster = SlackPoster(make_web_client("xoxb-1", stub.url), None)
        stub.fail_next("chat.postMessage", status=429, retry_after=7)
        with pytest.raises(RateLimitedError) as limited:
            _post(poster, 1)
        assert limited.value.retry_after == 7
        stub.fail_next("chat.postMessage", status=500)
        with pytest.raises(AmbiguousError):
            _post(poster, 1)
        stub.invalid_tokens.add("xoxb-1")
        with pytest.raises(PermanentError, match="invalid_auth"):
            _post(poster, 1)
        stub.invalid_tokens.clear()
        assert _post(poster, 1)


def test_a_refused_connection_means_nothing_was_sent() -> None:
    with _Api().running() as api:
        url = api.url
    poster = SlackPoster(make_web_client("xoxb-1", url), None)
    with pytest.raises(NotSentError):
        _post(poster, 1)


def test_lookups_retry_a_server_error_on_the_kept_connection() -> None:
    with SlackStub() as stub:
        client = make_lookup_client("xoxb-1", stub.url, sleep=lambda _s: None)
        stub.fail_next("conversations.join", status=503)
        assert client.conversations_join(channel="C1")["ok"]
        stub.fail_next("conversations.join", status=503, times=9)
        with pytest.raises(SlackApiError):
            client.conversations_join(channel="C1")
