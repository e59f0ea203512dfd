"""Serving the Bolt app: gunicorn (threads) over Bolt's WSGI adapter, or Socket Mode."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def make_wsgi_app(app: App, health: Callable[[], bool] = lambda: True) -> WSGIApp:
    """/slack/events to Bolt, GET /healthz for load balancers, 404 for everything else."""
    slack = SlackRequestHandler(app, path=EVENTS_PATH)

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == HEALTH_PATH and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            ok = health()
            body = json.dumps({"ok": ok}).encode()
            status = "200 OK" if ok else "503 Service Unavailable"
            start_response(
                status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return [body]
        if path == EVENTS_PATH:
            return slack(environ, start_response)
        body = b"Not Found"
        start_response(
            "404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
        )
        return [body]

    return wsgi


def serve_http(
    make_app: Callable[[], WSGIApp], host: str, port: int, *, workers: int = 1, threads: int = 16
) -> None:
    """Run under gunicorn: `workers` processes, each with a thread pool and its own app.

    `make_app` runs in each worker after the fork, so no database connection or thread pool is
    shared between processes.
    """
    from gunicorn.app.base import BaseApplication

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

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in {
                "bind": f"{host}:{port}",
                "workers": workers,
                "worker_class": "gthread",
                "threads": threads,
                "timeout": 0,
                "graceful_timeout": 20,
                "accesslog": None,
                "loglevel": "warning",
                "when_ready": when_ready,
            }.items():
                self.cfg.set(key, value)

        def load(self) -> WSGIApp:
            return make_app()

    _Server().run()


def serve_socket_mode(app: App, app_token: str) -> None:
    """Connect over Socket Mode (no public URL needed)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(app, app_token)
    log.info("serving Slack in Socket Mode (outbound WebSocket, no port), 1 process")
    try:
        handler.start()  # type: ignore[no-untyped-call]
    except KeyboardInterrupt:  # Ctrl-C: leave without a traceback
        log.info("interrupted: closing the Socket Mode connection")
        handler.close()  # type: ignore[no-untyped-call]
