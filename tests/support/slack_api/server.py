"""The stand-in's HTTP side: a threaded server on 127.0.0.1 that records every request and
hands each Web API method to the part that answers it; a response_url records what is POSTed."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from support.slack_api.faults import CHART_METHODS, Faults
from support.slack_api.files import Files
from support.slack_api.messages import Messages
from support.slack_api.oauth import Grant, Identity, OAuth, manifest_scopes
from support.slack_api.state import DEFAULT_TEAM, Call, State

JSON_FIELDS = ("blocks", "metadata", "view", "attachments")


class SlackStub(Faults, OAuth, Messages, Files):
    """Start with `with SlackStub() as stub:`; point the bot at `stub.url`."""

    def __init__(
        self,
        rate_limit_per_channel: float | None = None,
        *,
        rate_limit_per_team: float | None = None,
        teams: dict[str, str] | None = None,
        lean: bool = False,
    ) -> None:
        self.rate_limit_per_channel = rate_limit_per_channel
        self.rate_limit_per_team = rate_limit_per_team
        self.teams = dict(teams or {})
        # Lean (benchmarks): calls are counted, not kept, and messages keep no text or blocks.
        self.lean = lean
        self.posts = 0
        self.users: dict[str, dict[str, Any]] = {}
        # What auth.test reports in x-oauth-scopes and tokens Slack answers invalid_auth for.
        self.scopes: set[str] = manifest_scopes()
        self.invalid_tokens: set[str] = set()
        self.members: dict[str, set[str]] = {}
        # What auth.test answers for a token the OAuth flow did not issue (team_id, team,
        # enterprise_id); a token in neither belongs to T111 "Example".
        self.token_teams: dict[str, dict[str, Any]] = {}
        self.rate_limited = 0
        # OAuth (`oauth_app`): the app's credentials, codes issued by `authorize`, and every
        # token issued with the identity it stands for. Once an app is set up, a token the
        # stand-in did not issue answers invalid_auth, as Slack's would.
        self.client_id: str | None = None
        self.client_secret: str | None = None
        self.app_id = "A0DIGEST"
        self.token_rotation = False
        self.token_lifetime = 43_200.0  # seconds a rotating access token lives (Slack: 12 h)
        self.codes: dict[str, Grant] = {}
        self.identities: dict[str, Identity] = {}
        self.refresh_tokens: dict[str, str] = {}  # unused refresh token -> its team's key
        self.used_refresh_tokens: set[str] = set()
        self._state = State()
        self._lock = threading.RLock()
        self._last_ts = 0.0
        self._server = _Server(("127.0.0.1", 0), self._handler())
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

    def tokens_used(self, method: str | None = None) -> list[str | None]:
        """The token of every call (of one method), in order."""
        return [c.token for c in self.calls if method is None or c.method == method]

    def reset(self) -> None:
        """Forget calls, messages and faults."""
        with self._lock:
            self._state = State()
            self.rate_limited = 0
            self.posts = 0

    # --- serving -----------------------------------------------------------------------------

    def _answer(
        self, method: str, params: dict[str, Any], team: str = DEFAULT_TEAM
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if method in CHART_METHODS:
            blocks = params.get("blocks")
            if method == "views.publish" and isinstance(params.get("view"), dict):
                blocks = params["view"].get("blocks")
            refused = self._chart_refusal(blocks)
            if refused:
                return 200, {"ok": False, "error": "invalid_blocks", "errors": refused}, {}
        if method == "auth.test":
            token = str(params.get("_token", ""))
            return 200, self._auth_test(token), {"x-oauth-scopes": ",".join(sorted(self.scopes))}
        if method == "chat.postMessage":
            return self._post_message(params, team)
        if method == "chat.postEphemeral":
            return 200, {"ok": True, "message_ts": self._new_ts()}, {}
        if method == "chat.update":
            return self._update_message(params, team)
        if method in ("conversations.history", "conversations.replies"):
            return 200, self._history(params, method == "conversations.replies", team), {}
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
        if method == "conversations.open":
            return 200, self._conversations_open(params), {}
        if method == "conversations.members":
            return 200, self._members(params), {}
        if method == "chat.getPermalink":
            return 200, self._permalink(params, team), {}
        if method == "files.getUploadURLExternal":
            return 200, self._get_upload_url(params, team), {}
        if method == "files.completeUploadExternal":
            return 200, self._complete_upload(params, team), {}
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
                # Headers and body in one write, as Slack's servers send them: a body written
                # after the headers waits for the client's delayed ACK (Nagle), 40 ms a call
                # on a kept-alive connection.
                self._headers_buffer.append(b"\r\n" + data)
                try:
                    self.flush_headers()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client is gone (killed or timed out)

            def do_GET(self) -> None:
                self.do_POST()

            def _upload(self, file_id: str) -> None:
                """The bytes of a file, POSTed to the upload_url files.getUploadURLExternal
                gave (Slack answers 200 'OK - LENGTH'); fail_next("upload_url", …) fails it."""
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                call = Call("upload_url", {"file_id": file_id}, dict(self.headers), time.time())
                with stub._lock:
                    stub._state.calls.append(call)
                fault = stub._take_fault("upload_url")
                status = fault.status if fault is not None else stub._receive_bytes(file_id, data)
                body = f"OK - {len(data)}" if status == 200 else "error"
                raw = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_POST(self) -> None:
                path = urllib.parse.urlparse(self.path).path
                if path.startswith("/upload/"):
                    self._upload(path.removeprefix("/upload/"))
                    return
                params, _ = self._params()
                headers = {k.lower(): v for k, v in self.headers.items()}
                call = Call("", params, headers, time.time())
                if path.startswith("/response/"):
                    call.method = "response_url"
                    with stub._lock:
                        stub._state.responses.append(call)
                    # hold_next/drop_response_next("response_url"): a slow or dropped hook.
                    slow = stub._take_fault("response_url")
                    if slow is not None and slow.drop:
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    if slow is not None:
                        time.sleep(slow.hold or slow.timeout)
                    # A refused message: HTTP 400 and the error, as Slack's hooks answer.
                    call.refused = stub._chart_refusal(params.get("blocks"))
                    if call.refused:
                        self._send(400, {"ok": False, "error": "invalid_blocks"}, {})
                        return
                    self._send(200, {"ok": True}, {})
                    return
                method = path.removeprefix("/api/")
                call.method = method
                if not stub.lean:
                    with stub._lock:
                        stub._state.calls.append(call)
                if method == "oauth.v2.access":  # authenticated by the app, not a token
                    fault = stub._take_fault(method)
                    if fault is not None and (fault.drop or fault.timeout):
                        time.sleep(fault.timeout)  # the code is not used: Slack never saw it
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    if fault is not None:
                        error = fault.error or "internal_error"
                        self._send(fault.status, {"ok": False, "error": error}, {})
                        return
                    self._send(200, stub._oauth_access(params, headers), {})
                    return
                authorization = headers.get("authorization") or ""
                team = stub.team_of(authorization.removeprefix("Bearer "))
                if method == "apps.connections.open" and (
                    authorization.removeprefix("Bearer ") in stub.invalid_tokens
                ):
                    # An app-level (xapp-) token Slack does not accept: bad or revoked.
                    self._send(200, {"ok": False, "error": "invalid_auth"}, {})
                    return
                if not authorization.startswith("Bearer xox"):
                    self._send(200, {"ok": False, "error": "not_authed"}, {})
                    return
                token = authorization.removeprefix("Bearer ")
                if token in stub.invalid_tokens:
                    self._send(200, {"ok": False, "error": "invalid_auth"}, {})
                    return
                refused = stub._token_error(token)
                if refused:
                    self._send(200, {"ok": False, "error": refused}, {})
                    return
                params = params | {"_token": token}
                fault = stub._take_fault(method)
                if fault is not None:
                    if fault.drop:
                        stub._answer(method, params, team)
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    if fault.hold:
                        status, body, extra = stub._answer(method, params, team)
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
                status, body, extra = stub._answer(method, params, team)
                if body.get("error") == "invalid_blocks":
                    call.refused = list(body.get("errors") or ["invalid_blocks"])
                self._send(status, body, extra)

        return Handler


class _Server(ThreadingHTTPServer):
    """Slack accepts many connections at once: a listen backlog of 5 (socketserver's default)
    would reset connections a fan-out opens together, which Slack never does."""

    request_queue_size = 1024
