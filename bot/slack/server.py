"""Serving the Bolt app: gunicorn (threads) over Bolt's WSGI adapter, or Socket Mode."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextvars import copy_context
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk.errors import SlackClientError

from bot.logs import one_line_handlers
from bot.slack import request_scope
from bot.slack.gate import Refusal, RefusalLog, SignatureCheck, read_body
from bot.slack.oauth import SLACK_UNREACHABLE, install_page
from bot.slack.request_scope import RequestScope
from bot.slack.unavailable import answer, parse_body

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
# Add to Slack (many workspaces only): Bolt's OAuth flow answers these two GETs.
OAUTH_PATHS = frozenset({"/slack/install", "/slack/oauth_redirect"})
# A redirect carries a code and a state (well under 1 KB); anything longer is not from Slack.
MAX_QUERY_BYTES = 4096

# Every request is answered this long after it arrived at the latest, whatever the database
# or Slack's Web API do (Slack gives up after 3 s and counts a failed delivery).
ANSWER_SECONDS = 2.5
# Threads running Bolt for this process's requests; one stuck on a frozen database stays stuck
# until the database answers, so there are more than gunicorn's request threads.
BOLT_THREADS = 32

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Captured = tuple[str, list[tuple[str, str]], bytes]


class _AfterAnswer:
    """A WSGI body whose close() (called once the answer has been sent) starts the request's
    after-answer work on another thread."""

    def __init__(self, body: bytes, scope: RequestScope, pool: ThreadPoolExecutor) -> None:
        self.body, self.scope, self.pool = body, scope, pool

    def __iter__(self) -> Iterator[bytes]:
        yield self.body

    def close(self) -> None:
        """The answer is out: now the work that had to wait for it (Bolt, if it was not
        waited for, runs what it adds later at once)."""
        self.scope.answered = True
        work, self.scope.after = self.scope.after, []
        for job in work:
            self.pool.submit(RequestScope(self.scope.arrival, [job]).run_after)


def _html(start_response: Callable[..., Any], status: str, page: str) -> list[bytes]:
    body = page.encode()
    headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))]
    start_response(status, headers)
    return [body]


def _plain(start_response: Callable[..., Any], status: str, text: str) -> list[bytes]:
    body = text.encode()
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


class _Front:
    """The WSGI app: /slack/events (gated, then Bolt), GET /healthz, Add to Slack's two GETs
    (many workspaces), 404 otherwise."""

    def __init__(
        self,
        app: App,
        signing_secret: str,
        health: Callable[[], bool],
        answer_seconds: float = ANSWER_SECONDS,
    ) -> None:
        self.slack = SlackRequestHandler(app, path=EVENTS_PATH)
        self.answer_seconds = answer_seconds
        self.bolt = ThreadPoolExecutor(BOLT_THREADS, thread_name_prefix="bolt")
        self.after = ThreadPoolExecutor(4, thread_name_prefix="after-answer")
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
        """{"ok": true} with 200, or {"ok": false, "database": "down"} with 503."""
        ok = self.health()
        body = json.dumps({"ok": ok, "database": "ok" if ok else "down"}).encode()
        status = "200 OK" if ok else "503 Service Unavailable"
        start_response(
            status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    def events(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """A POST from Slack: size and signature checked before Bolt sees it, and answered
        within `answer_seconds` of its arrival whatever Bolt is waiting for."""
        arrival = time.monotonic()
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
        context = copy_context()
        scope = context.run(request_scope.enter, arrival)
        future = self.bolt.submit(context.run, self._run_bolt, environ, scope)
        try:
            captured = future.result(timeout=scope.seconds_left(self.answer_seconds))
        except FutureTimeout:
            captured = self._without_bolt(body)
        except (ValueError, RecursionError, AttributeError, TypeError) as exc:
            # Signed but unreadable (not UTF-8, not JSON, too deeply nested): Slack never sends
            # that, so it is a bad request, told in one line without the body.
            log.warning("signed request not understood: %s", type(exc).__name__)
            return _plain(start_response, "400 Bad Request", "request not understood")
        if captured is None:  # only when Bolt never started: the time was already up
            captured = self._without_bolt(body)
        status, headers, data = captured
        start_response(status, headers)
        return _AfterAnswer(data, scope, self.after)

    def _run_bolt(self, environ: dict[str, Any], scope: RequestScope) -> Captured | None:
        """Bolt's answer to one request; None when it was already answered without Bolt (its
        time ran out while it waited for a thread)."""
        if scope.seconds_left(self.answer_seconds) <= 0:
            return None
        started: list[Any] = []

        def start(status: str, headers: list[tuple[str, str]], _exc: Any = None) -> Any:
            started[:] = [status, headers]
            return lambda _data: None

        chunks = self.slack(environ, start)
        try:
            data = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return started[0], started[1], data

    def _without_bolt(self, raw: bytes) -> Captured:
        """The answer when Bolt did not finish in time (a frozen or locked database): events
        503 (Slack delivers them again; saves are idempotent), people a short apology."""
        body = parse_body(raw)
        reply = answer(body, retry=True)
        log.warning(
            "answered a %s without waiting longer (%.1f s): database or Slack too slow",
            body.get("type") or ("command" if "command" in body else "request"),
            self.answer_seconds,
        )
        headers = [("Content-Type", reply.content_type), ("Content-Length", str(len(reply.body)))]
        return reply.status_line, headers, reply.body.encode()

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
        except (OSError, SlackClientError) as exc:
            # oauth.v2.access timed out or Slack was unreachable (Bolt lets that through): the
            # admin gets a page saying so, the log one line without the code.
            log.warning("install failed: Slack did not answer (%s)", type(exc).__name__)
            return _html(start_response, "502 Bad Gateway", install_page(*SLACK_UNREACHABLE))
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
    app: App,
    signing_secret: str,
    health: Callable[[], bool] = lambda: True,
    answer_seconds: float = ANSWER_SECONDS,
) -> WSGIApp:
    """/slack/events (gated, then Bolt), GET /healthz for load balancers, 404 otherwise."""
    return _Front(app, signing_secret, health, answer_seconds)


class BoundedCheck:
    """A health check that answers within `seconds`: a check still running (a frozen database
    holds it) counts as failed, and no second one is started beside it."""

    def __init__(self, check: Callable[[], object], seconds: float = 1.0) -> None:
        self.check, self.seconds = check, seconds
        self._running: threading.Event | None = None
        self._ok = False
        self._lock = threading.Lock()

    def __call__(self) -> bool:
        """Whether the check passed within the time."""
        with self._lock:
            if self._running is not None and not self._running.is_set():
                return False  # the last one has not come back yet
            done = threading.Event()
            self._running = done

        def run() -> None:
            try:
                self.check()
                self._ok = True
            except Exception as exc:
                self._ok = False
                log.warning("health check failed: %s", type(exc).__name__)
            finally:
                done.set()

        threading.Thread(target=run, name="healthz", daemon=True).start()
        return done.wait(self.seconds) and self._ok


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
