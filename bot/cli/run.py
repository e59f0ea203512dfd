"""`python -m bot serve|worker|doctor`: the long-running processes and the deployment check."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.common import (
    SOCKET_MODE_SETUP,
    check_mode,
    check_startup,
    database_exists,
    fail,
    load_settings,
    open_db,
    out,
    setup_logging,
)


def serve(
    port: Annotated[
        int | None,
        typer.Option(help="HTTP port (default $PORT, else 3000).", min=1, max=65535, metavar="N"),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to bind.", metavar="ADDR")] = "0.0.0.0",  # noqa: S104
    socket: Annotated[bool, typer.Option("--socket", help="Use Socket Mode.")] = False,
) -> None:
    """Serve slash commands, events and interactivity (HTTP at /slack/events, or Socket Mode)."""
    from bot import bootstrap
    from bot.slack.server import SocketModeError, WSGIApp, serve_http, serve_socket_mode

    settings = load_settings()
    setup_logging(settings)
    socket_mode = socket or settings.slack_app_token is not None
    check_mode(settings, socket_mode=socket_mode)
    if settings.slack_bot_token is None and not settings.multi_workspace:
        fail("SLACK_BOT_TOKEN is not set (or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET)", 2)
    if socket_mode and settings.slack_app_token is None:
        fail("SLACK_APP_TOKEN is not set (Socket Mode needs an xapp- token)", 2)
    signing = settings.slack_signing_secret
    if not socket_mode and signing is None:
        fail("SLACK_SIGNING_SECRET is not set", 2)
    if not socket_mode and signing is not None and not signing.get_secret_value().strip():
        fail("SLACK_SIGNING_SECRET is empty (copy the app's Signing Secret)", 2)
    database = open_db(settings)  # fails fast on a bad URL; upgrades the embedded SQLite
    check_startup(settings, database, writes=True)
    from bot.slack.identity import adopt_at_start

    adopt_at_start(settings, database)  # once, before the web processes fork
    if socket_mode:
        assert settings.slack_app_token is not None  # noqa: S101
        bolt = bootstrap.bolt_app(settings, database, socket_mode=True)
        try:
            serve_socket_mode(bolt, settings.slack_app_token.get_secret_value())
        except SocketModeError as exc:
            if exc.refused:
                fail(f"SLACK_APP_TOKEN was refused by Slack ({exc}); {SOCKET_MODE_SETUP}", 2)
            fail(f"cannot reach Slack for Socket Mode: {exc}")
        return
    database.dispose()
    assert settings.slack_signing_secret is not None  # noqa: S101  checked above
    secret = settings.slack_signing_secret.get_secret_value()

    def make_app() -> WSGIApp:
        """One Bolt app per web worker process, with its own connection pool."""
        database = open_db(settings, upgrade=False, request_path=True)
        return bootstrap.wsgi_app(settings, database, secret)

    serve_http(make_app, host, port or settings.port, workers=settings.web_concurrency, threads=16)


def doctor() -> None:
    """Check this deployment: settings, database, archive, Slack token and scopes, sources,
    subscriptions. One line per check with what to do; exit status 1 if any check failed."""
    from bot.cli.checks import run_checks, web_client
    from bot.clock import utc_now

    settings = load_settings()
    if settings.multi_workspace and database_exists(settings):
        database = open_db(settings, upgrade=False)
        check_startup(settings, database, writes=False)
        database.dispose()
    failed = 0
    for finding in run_checks(settings, utc_now(), web_client(settings)):
        out.print(finding.line(), markup=False)
        failed += finding.status == "FAIL"
    out.print(f"{failed} check(s) failed" if failed else "all checks passed", markup=False)
    raise typer.Exit(1 if failed else 0)


def worker() -> None:
    """Run scheduled posting and source polling (one process; see Procfile `worker:`)."""
    from bot import bootstrap

    settings = load_settings()
    setup_logging(settings)
    check_mode(settings)
    if settings.slack_bot_token is None and not settings.multi_workspace:
        fail("SLACK_BOT_TOKEN is not set (or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET)", 2)
    database = open_db(settings)
    check_startup(settings, database, writes=True)
    runner = bootstrap.worker(settings, database)
    runner.start()
