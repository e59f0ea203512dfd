"""Setup that many tests share: a clean environment for `python -m bot`, subscribed channels."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
from pathlib import Path

from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from sqlalchemy import update

from bot.schedule import Days
from bot.store import subscriptions
from bot.store.db import Database
from bot.store.tables import ArticleCompanyRow, ArticleRow, IssueRow
from bot.workspace import Workspace

# The bot's own settings: a test states the ones it means, never inherits the developer's.
# The workspace of the Slack stand-in's token (auth.test) and of the signed test payloads.
WS = Workspace("T111")
# A lookup client's retries of Slack's 5xx and dropped connections, at once (no real waits).
NO_BACKOFF = FixedValueRetryIntervalCalculator(0.0)

SETTING_PREFIXES = ("SLACK_", "DIGEST_", "DATABASE_")


def start_worker(env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    """`python -m bot worker` with this environment, its output written to `log`."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "worker"],
        env=env,
        cwd=cwd,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without the bot's settings, plus `extra`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(SETTING_PREFIXES)}
    return base | extra


def subscribe(
    database: Database,
    *channels: str,
    now: dt.datetime,
    hour: int = 9,
    minute: int = 0,
    timezone: str = "UTC",
    days: Days = "daily",
    user_id: str | None = "U1",
) -> None:
    """Subscribe each channel (as `/digest subscribe` would) in one transaction."""
    with database.write() as session:
        for channel in channels:
            subscriptions.subscribe(
                session,
                WS,
                channel,
                hour=hour,
                minute=minute,
                timezone=timezone,
                days=days,
                user_id=user_id,
                now=now,
            )


SEED_NEWEST = dt.date(2026, 5, 13)  # the newest issue in seeds/


def due_now(database: Database, *channels: str) -> None:
    """Move the newest seed issue to today and subscribe `channels` for a minute ago.

    Subscribed an hour before their slot, so each channel's delivery is due right now, and the
    issue is fresh enough for the max-age rule (the slot's own day, also just after midnight).
    """
    slot = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    today = slot.date()
    with database.write() as session:
        session.execute(update(IssueRow).where(IssueRow.date == SEED_NEWEST).values(date=today))
        for table in (ArticleRow, ArticleCompanyRow):
            session.execute(
                update(table).where(table.issue_date == SEED_NEWEST).values(issue_date=today)
            )
    subscribe(
        database,
        *channels,
        hour=slot.hour,
        minute=slot.minute,
        now=slot - dt.timedelta(hours=1),
    )


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` in this process (typer's runner), as `clean_env(**env)` in `cwd` would
    run it; an exception the command line lets escape is raised here, not hidden in exit 1."""
    import contextlib

    from typer.testing import CliRunner

    from bot.cli import app

    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith(SETTING_PREFIXES)}
    with contextlib.chdir(cwd):
        result = CliRunner().invoke(app, list(args), env=unset | (env or {}))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)
