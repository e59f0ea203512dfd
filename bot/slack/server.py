"""Serving the Bolt app: gunicorn (threads) over Bolt's WSGI adapter, or Socket Mode."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.logs import one_line_handlers
from bot.slack.gate import Refusal, RefusalLog, SignatureCheck, read_body

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
# Add to Slack (many workspaces only): Bolt's OAuth flow answers these two GETs.
OAUTH_PATHS = frozenset({"/slack/install", "/slack/oauth_redirect"})
# A redirect carries a code and a state (well under 1 KB); anything longer is not from Slack.
MAX_QUERY_BYTES = 4096

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _plain(start_response: Callable[..., Any], status: str, text: str) -> list[bytes]:
    body = text.encode()
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


class _Front:
    """The WSGI app: /slack/events (gated, then Bolt), GET /healthz, Add to Slack's two GETs
    (many workspaces), 404 otherwise."""

    def __init__(self, app: App, signing_secret: str, health: Callable[[], bool]) -> None:
        self.slack = SlackRequestHandler(app, path=EVENTS_PATH)
        self.check = SignatureCheck(signing_secret.encode())
        self.refusals = RefusalLog()
        self.health = health
        flow = app.oauth_flow
        self.oauth_paths = OAUTH_PATHS if flow is not None else frozenset()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Route one request."""
        path = environ.get("PATH_INFO", "")
        if path == HEALTH_PATH and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            return self.healthz(start_response)
        if path == EVENTS_PATH:
            return self.events(environ, start_response)
        if path in self.oauth_paths:
            return self.oauth(environ, start_response)
        return _plain(start_response, "404 Not Found", "Not Found")

    def healthz(self, start_response: Callable[..., Any]) -> list[bytes]:
        """{"ok": true} with 200, or {"ok": false} with 503."""
        ok = self.health()
        body = json.dumps({"ok": ok}).encode()
        status = "200 OK" if ok else "503 Service Unavailable"
        start_response(
            status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    def events(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """A POST from Slack: size and signature checked before Bolt sees it."""
        if environ.get("REQUEST_METHOD") != "POST":
            return _plain(start_response, "405 Method Not Allowed", "POST only")
        body = read_body(environ)
        if isinstance(body, Refusal):
            return self.refuse(body, environ, start_response)
        refusal = self.check.refusal(environ, body)
        if refusal is not None:
            return self.refuse(refusal, environ, start_response)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        try:
            return self.slack(environ, start_response)
        except (ValueError, RecursionError, AttributeError, TypeError) as exc:
            # Signed but unreadable (not UTF-8, not JSON, too deeply nested): Slack never sends
            # that, so it is a bad request, told in one line without the body.
            log.warning("signed request not understood: %s", type(exc).__name__)
            return _plain(start_response, "400 Bad Request", "request not understood")

    def oauth(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """The install page or Slack's redirect back: a GET whose body is never read."""
        if environ.get("REQUEST_METHOD") != "GET":
            return _plain(start_response, "405 Method Not Allowed", "GET only")
        if len(str(environ.get("QUERY_STRING") or "")) > MAX_QUERY_BYTES:
            return _plain(start_response, "414 URI Too Long", "query string too long")
        environ["wsgi.input"] = io.BytesIO(b"")
        environ["CONTENT_LENGTH"] = "0"
        try:
            return self.slack(environ, start_response)
        except (ValueError, UnicodeError, KeyError, TypeError, AttributeError) as exc:
            # A mangled query string or cookie: say so in one line, never echo it.
            log.warning("install request not understood: %s", type(exc).__name__)
            return _plain(start_response, "400 Bad Request", "request not understood")

    def refuse(
        self, refusal: Refusal, environ: dict[str, Any], start: Callable[..., Any]
    ) -> list[bytes]:
        """Answer a refused request (and note it in the refusal log)."""
        self.refusals.note(refusal, environ)
        return _plain(start, refusal.status, refusal.reason)


def make_wsgi_app(
    app: App, signing_secret: str, health: Callable[[], bool] = lambda: True
) -> WSGIApp:
    """/slack/events (gated, then Bolt), GET /healthz for load balancers, 404 otherwise."""
    return _Front(app, signing_secret, health)


def serve_http(
    make_app: Callable[[], WSGIApp], host: str, port: int, *, workers: int = 1, threads: int = 16
) -> None:
    """Run under gunicorn: `workers` processes, each with a thread pool and its own app.

    `make_app` runs in each worker after the fork, so no database connection or thread pool is
    shared between processes.
    """
    from gunicorn.app.base import BaseApplication

    options = _gunicorn_options(host, port, workers, threads)

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> WSGIApp:
            return make_app()

    _Server().run()


def _gunicorn_options(host: str, port: int, workers: int, threads: int) -> dict[str, Any]:
    """gunicorn's settings: threaded workers, no timeout, our one-line logs."""

    def when_ready(_server: object) -> None:
        """The one startup line: gunicorn's own are below our log level."""
        log.info(
            "serving Slack over HTTP on http://%s:%d%s (and %s), %d processes × %d threads",
            host,
            port,
            EVENTS_PATH,
            HEALTH_PATH,
            workers,
            threads,
        )

    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 0,
        "graceful_timeout": 20,
        "accesslog": None,
        "loglevel": "warning",
        "when_ready": when_ready,
        "logger_class": _one_line_logger_class(),
    }


def _one_line_logger_class() -> type:
    """gunicorn's logger, with our one-line formatter on its handlers."""
    from gunicorn.glogging import Logger

    class OneLineLogger(Logger):  # type: ignore[misc]
        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            one_line_handlers(self.error_log.handlers)
            one_line_handlers(self.access_log.handlers)

    return OneLineLogger


class SocketModeError(Exception):
    """Socket Mode could not connect: Slack refused the app token, or could not be reached."""

    def __init__(self, message: str, *, refused: bool) -> None:
        super().__init__(message)
        self.refused = refused  # Slack answered no (a bad setting), rather than no answer


def serve_socket_mode(app: App, app_token: str) -> None:
    """Connect over Socket Mode (no public URL needed); SocketModeError when the first
    connection fails."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk.errors import SlackApiError

    socket_log = logging.getLogger("bot.slack.socket_mode")
    handler = SocketModeHandler(app, app_token, logger=socket_log)
    # A failed first connection is reported once, by the caller: the client's own error line
    # (with Slack's whole answer) would say it twice.
    socket_log.setLevel(logging.CRITICAL)
    try:
        handler.connect()  # type: ignore[no-untyped-call]
    except SlackApiError as exc:
        handler.close()  # type: ignore[no-untyped-call]
        error = exc.response.get("error") if exc.response is not None else None
        raise SocketModeError(str(error or "no error code"), refused=True) from None
    except OSError as exc:
        handler.close()  # type: ignore[no-untyped-call]
        raise SocketModeError(f"{type(exc).__name__}: {exc}", refused=False) from None
    finally:
        socket_log.setLevel(logging.NOTSET)
    log.info("serving Slack in Socket Mode (outbound WebSocket, no port), 1 process")
    try:
        threading.Event().wait()  # the connection lives in the client's threads
    except KeyboardInterrupt:  # Ctrl-C: leave without a traceback
        log.info("interrupted: closing the Socket Mode connection")
        handler.close()  # type: ignore[no-untyped-call]
