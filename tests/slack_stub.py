"""A small Slack Web API stand-in over real HTTP on 127.0.0.1, for tests and benchmarks.

It records every call, keeps posted messages per channel (threads, metadata), answers the
methods the bot uses with Slack's response shapes, and injects faults: HTTP 429 with
Retry-After, 5xx, slow answers (client timeouts), per-channel permanent errors, a post that is
stored but never answered, and an optional one-message-per-second-per-channel rate limit.

Membership is enforced like Slack: a channel nobody declared is public and the bot is not in it.
Posting to a public channel works anyway (chat:write.public), but conversations.history and
.replies answer `not_in_channel` until the bot joins (conversations.join) or is invited
(`set_member`). A private channel (`add_channel(..., private=True)`) cannot be joined and
refuses posts from a bot that is not in it. Slack sends reaction events only for channels the
bot is in, so tests check that with `require_member` before sending one.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.parse
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

JSON_FIELDS = ("blocks", "metadata", "view", "attachments")
MANIFEST = Path(__file__).resolve().parent.parent / "manifest.yml"


def manifest_scopes() -> set[str]:
    """The bot scopes manifest.yml asks for: what an installed app is granted by default."""
    return set(yaml.safe_load(MANIFEST.read_text())["oauth_config"]["scopes"]["bot"])


@dataclass
class Call:
    """One request the stand-in received."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    time: float


@dataclass
class Fault:
    """A fault waiting to be injected into calls of one method."""

    method: str
    status: int = 200
    error: str | None = None
    retry_after: float | None = None
    timeout: float = 0.0
    drop: bool = False  # store the post, then close the connection without answering
    hold: float = 0.0  # store the post, then wait this long before answering
    times: int = 1
    after: int = 0  # let this many calls of the method succeed first


@dataclass
class Channel:
    """A channel as the stand-in knows it."""

    private: bool = False
    bot_member: bool = False
    archived: bool = False
    name: str = ""


@dataclass
class _State:
    calls: list[Call] = field(default_factory=list)
    responses: list[Call] = field(default_factory=list)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    faults: list[Fault] = field(default_factory=list)
    channel_errors: dict[str, str] = field(default_factory=dict)
    recent_posts: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    channels: dict[str, Channel] = field(default_factory=lambda: defaultdict(Channel))


class SlackStub:
    """Start with `with SlackStub() as stub:`; point the bot at `stub.url`."""

    def __init__(self, rate_limit_per_channel: float | None = None) -> None:
        self.rate_limit_per_channel = rate_limit_per_channel
        self.users: dict[str, dict[str, Any]] = {}
        # What auth.test reports in x-oauth-scopes and tokens Slack answers invalid_auth for.
        self.scopes: set[str] = manifest_scopes()
        self.invalid_tokens: set[str] = set()
        self.rate_limited = 0
        self._state = _State()
        self._lock = threading.RLock()
        self._last_ts = 0.0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> SlackStub:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SlackStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base(self) -> str:
        """http://127.0.0.1:PORT"""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        """Web API base URL (what SLACK_API_URL / WebClient base_url take)."""
        return self.base + "/api/"

    def response_url(self, name: str = "r") -> str:
        """A response_url that records what is POSTed to it."""
        return f"{self.base}/response/{urllib.parse.quote(name)}"

    # --- inspection --------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """Every Web API call so far."""
        with self._lock:
            return list(self._state.calls)

    @property
    def responses(self) -> list[Call]:
        """Every POST to a response_url so far."""
        with self._lock:
            return list(self._state.responses)

    def calls_to(self, method: str) -> list[Call]:
        """Calls of one Web API method."""
        return [c for c in self.calls if c.method == method]

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Top-level messages of a channel, oldest first."""
        with self._lock:
            return [m for m in self._state.messages[channel] if not m.get("thread_ts")]

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """Replies in a thread, oldest first (without the parent)."""
        with self._lock:
            return [m for m in self._state.messages[channel] if m.get("thread_ts") == ts]

    def all_messages(self, channel: str) -> list[dict[str, Any]]:
        """Everything posted to a channel, in order."""
        with self._lock:
            return list(self._state.messages[channel])

    def reset_faults(self) -> None:
        """Drop every pending fault (messages and calls stay)."""
        with self._lock:
            self._state.faults.clear()
            self._state.channel_errors.clear()

    def reset(self) -> None:
        """Forget calls, messages and faults."""
        with self._lock:
            self._state = _State()
            self.rate_limited = 0

    # --- channels and membership ------------------------------------------------------------

    def add_channel(
        self,
        channel: str,
        *,
        private: bool = False,
        member: bool = False,
        archived: bool = False,
        name: str = "",
    ) -> None:
        """Declare a channel: public or private, with or without the bot in it."""
        with self._lock:
            self._state.channels[channel] = Channel(private, member, archived, name)

    def set_member(self, channel: str, member: bool = True) -> None:
        """The bot is invited to (or removed from) a channel."""
        with self._lock:
            self._state.channels[channel].bot_member = member

    def is_member(self, channel: str) -> bool:
        """Whether the bot is in the channel now."""
        with self._lock:
            return self._state.channels[channel].bot_member

    def require_member(self, channel: str) -> None:
        """Fail a test that would send a reaction event Slack would never send: Slack sends
        reaction_added/removed only for channels the bot is a member of."""
        assert self.is_member(channel), (
            f"Slack sends no reaction events from {channel}: bot not in it"
        )

    # --- faults ------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int = 429,
        *,
        retry_after: float | None = None,
        error: str | None = None,
        timeout: float = 0.0,
        times: int = 1,
        after: int = 0,
    ) -> None:
        """Make the next `times` calls of `method` (after `after` more successes) fail.

        status 429 answers `ratelimited` with Retry-After; 5xx answers an error page; a
        `timeout` holds the answer that long (nothing is stored) so the client gives up.
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._lock:
            done = self._state.counts[method]
            self._state.faults.append(
                Fault(
                    method,
                    status,
                    error,
                    retry_after,
                    timeout,
                    times=times,
                    after=done + after,
                )
            )

    def drop_response_next(self, method: str = "chat.postMessage", *, after: int = 0) -> None:
        """Accept (store) the next call, then drop the connection without answering."""
        with self._lock:
            done = self._state.counts[method]
            self._state.faults.append(Fault(method, drop=True, after=done + after))

    def hold_next(
        self, method: str = "chat.postMessage", seconds: float = 5.0, *, after: int = 0
    ) -> None:
        """Accept (store) the next call but answer only after `seconds`."""
        with self._lock:
            done = self._state.counts[method]
            self._state.faults.append(Fault(method, hold=seconds, after=done + after))

    def fail_channel(self, channel: str, error: str = "channel_not_found") -> None:
        """Every post to this channel answers ok:false with `error`."""
        with self._lock:
            self._state.channel_errors[channel] = error

    # --- serving -----------------------------------------------------------------------------

    def _take_fault(self, method: str) -> Fault | None:
        with self._lock:
            count = self._state.counts[method]
            for fault in self._state.faults:
                if fault.method == method and fault.times > 0 and count >= fault.after:
                    fault.times -= 1
                    return fault
            self._state.counts[method] = count + 1
            return None

    def _new_ts(self) -> str:
        # Like Slack: the epoch time of the post, unique and increasing.
        with self._lock:
            now = max(time.time(), self._last_ts + 0.000001)
            self._last_ts = now
            return f"{now:.6f}"

    def _post_message(self, params: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        channel = str(params.get("channel", ""))
        with self._lock:
            error = self._state.channel_errors.get(channel) or self._post_refusal(channel)
            if error:
                return 200, {"ok": False, "error": error}, {}
            if self.rate_limit_per_channel:
                window = self._state.recent_posts[channel]
                now = time.monotonic()
                while window and now - window[0] >= 1.0:
                    window.popleft()
                if len(window) >= self.rate_limit_per_channel:
                    self.rate_limited += 1
                    return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}
                window.append(now)
            ts = self._new_ts()
            message = {
                "type": "message",
                "ts": ts,
                "user": "UBOT",
                "bot_id": "BBOT",
                "text": params.get("text", ""),
                "blocks": params.get("blocks") or [],
            }
            if params.get("thread_ts"):
                message["thread_ts"] = str(params["thread_ts"])
            if params.get("metadata"):
                message["metadata"] = params["metadata"]
            self._state.messages[channel].append(message)
        return 200, {"ok": True, "channel": channel, "ts": ts, "message": message}, {}

    def _update_message(self, params: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        """chat.update: replaces a message's text and blocks (and metadata, when given)."""
        channel, ts = str(params.get("channel", "")), str(params.get("ts", ""))
        with self._lock:
            error = self._state.channel_errors.get(channel)
            if error:
                return 200, {"ok": False, "error": error}, {}
            found = next((m for m in self._state.messages[channel] if m["ts"] == ts), None)
            if found is None:
                return 200, {"ok": False, "error": "message_not_found"}, {}
            found["text"] = params.get("text", "")
            found["blocks"] = params.get("blocks") or []
            found["edited"] = {"user": "UBOT", "ts": self._new_ts()}
            if params.get("metadata"):
                found["metadata"] = params["metadata"]
            message = dict(found)
        return 200, {"ok": True, "channel": channel, "ts": ts, "text": message["text"]}, {}

    def _post_refusal(self, channel: str) -> str | None:
        info = self._state.channels[channel]
        if info.archived:
            return "is_archived"
        if info.private and not info.bot_member:
            return "not_in_channel"
        return None  # public: chat:write.public posts without membership

    def _join(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        with self._lock:
            info = self._state.channels[channel]
            if info.private:
                return {"ok": False, "error": "method_not_supported_for_channel_type"}
            if info.archived:
                return {"ok": False, "error": "is_archived"}
            already = info.bot_member
            info.bot_member = True
        body: dict[str, Any] = {"ok": True, "channel": {"id": channel, "is_member": True}}
        if already:
            body["warning"] = "already_in_channel"
        return body

    def _info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        with self._lock:
            info = self._state.channels[channel]
            if info.private and not info.bot_member:
                return {"ok": False, "error": "channel_not_found"}  # invisible to the bot
            return {
                "ok": True,
                "channel": {
                    "id": channel,
                    "name": info.name or channel.lower(),
                    "is_channel": True,
                    "is_private": info.private,
                    "is_archived": info.archived,
                    "is_member": info.bot_member,
                },
            }

    def _history(self, params: dict[str, Any], replies: bool) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        with self._lock:
            error = self._state.channel_errors.get(channel)
            if not error and not self._state.channels[channel].bot_member:
                error = "not_in_channel"
            if error:
                return {"ok": False, "error": error}
            if replies:
                ts = str(params.get("ts", ""))
                items = [
                    m
                    for m in self._state.messages[channel]
                    if m["ts"] == ts or m.get("thread_ts") == ts
                ]
            else:
                items = [m for m in self._state.messages[channel] if not m.get("thread_ts")]
                items = list(reversed(items))  # history is newest first
            oldest = float(params.get("oldest") or 0)
            items = [m for m in items if float(m["ts"]) >= oldest]
        start = int(params.get("cursor") or 0)
        limit = int(params.get("limit") or 100)
        page = items[start : start + limit]
        with_meta = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        if not with_meta:
            page = [{k: v for k, v in m.items() if k != "metadata"} for m in page]
        more = start + limit < len(items)
        return {
            "ok": True,
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _answer(
        self, method: str, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if method == "auth.test":
            return (
                200,
                {
                    "ok": True,
                    "user_id": "UBOT",
                    "bot_id": "BBOT",
                    "team_id": "T111",
                    "url": "https://example.slack.com/",
                    "team": "Example",
                },
                {"x-oauth-scopes": ",".join(sorted(self.scopes))},
            )
        if method == "chat.postMessage":
            return self._post_message(params)
        if method == "chat.postEphemeral":
            return 200, {"ok": True, "message_ts": self._new_ts()}, {}
        if method == "chat.update":
            return self._update_message(params)
        if method in ("conversations.history", "conversations.replies"):
            return 200, self._history(params, method == "conversations.replies"), {}
        if method == "users.info":
            user_id = str(params.get("user", ""))
            user = {"id": user_id, "name": user_id.lower(), "tz": "America/New_York"}
            user |= self.users.get(user_id, {})
            return 200, {"ok": True, "user": user}, {}
        if method == "views.publish":
            view = params.get("view") or {}
            if len(view.get("blocks", [])) > 100:
                return 200, {"ok": False, "error": "invalid_arguments"}, {}
            return 200, {"ok": True, "view": view}, {}
        if method == "conversations.info":
            return 200, self._info(params), {}
        if method == "conversations.join":
            return 200, self._join(params), {}
        return 200, {"ok": True}, {}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _params(self) -> tuple[dict[str, Any], str]:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8") if length else ""
                if "json" in (self.headers.get("Content-Type") or ""):
                    params = json.loads(raw or "{}")
                else:
                    params = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))
                query = urllib.parse.urlparse(self.path).query
                params |= dict(urllib.parse.parse_qsl(query))
                for name in JSON_FIELDS:
                    if isinstance(params.get(name), str):
                        with contextlib.suppress(ValueError):
                            params[name] = json.loads(params[name])
                return params, raw

            def _send(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client is gone (killed or timed out)

            def do_GET(self) -> None:
                self.do_POST()

            def do_POST(self) -> None:
                params, _ = self._params()
                path = urllib.parse.urlparse(self.path).path
                headers = {k.lower(): v for k, v in self.headers.items()}
                call = Call("", params, headers, time.time())
                if path.startswith("/response/"):
                    call.method = "response_url"
                    with stub._lock:
                        stub._state.responses.append(call)
                    self._send(200, {"ok": True}, {})
                    return
                method = path.removeprefix("/api/")
                call.method = method
                with stub._lock:
                    stub._state.calls.append(call)
                authorization = headers.get("authorization") or ""
                if not authorization.startswith("Bearer xox"):
                    self._send(200, {"ok": False, "error": "not_authed"}, {})
                    return
                if authorization.removeprefix("Bearer ") in stub.invalid_tokens:
                    self._send(200, {"ok": False, "error": "invalid_auth"}, {})
                    return
                fault = stub._take_fault(method)
                if fault is not None:
                    if fault.drop:
                        stub._answer(method, params)
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    if fault.hold:
                        status, body, extra = stub._answer(method, params)
                        time.sleep(fault.hold)
                        self._send(status, body, extra)
                        return
                    if fault.timeout:
                        time.sleep(fault.timeout)
                        self.close_connection = True
                        return
                    extra = {}
                    if fault.retry_after is not None:
                        extra["Retry-After"] = str(int(fault.retry_after))
                    error = fault.error or (
                        "ratelimited" if fault.status == 429 else "internal_error"
                    )
                    self._send(fault.status, {"ok": False, "error": error}, extra)
                    return
                status, body, extra = stub._answer(method, params)
                self._send(status, body, extra)

        return Handler
