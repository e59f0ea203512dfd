"""`python -m bot post`: post one issue to a channel (or preview it with --dry-run)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from bot.cli.common import (
    CHANNEL_RE,
    TeamOption,
    check_mode,
    err,
    fail,
    load_settings,
    open_db,
    out,
    parse_day_option,
    resolve_workspace,
    setup_logging,
)
from bot.config import Settings

if TYPE_CHECKING:
    from bot.delivery.deliverer import Deliverer, DeliveryResult, ProgressReport
    from bot.store.db import Database
    from bot.workspace import Workspace


def post(
    channel: Annotated[
        str, typer.Option(help="Slack channel id, e.g. C0123456789.", metavar="CHANNEL")
    ],
    date: Annotated[
        str, typer.Option(help="YYYY-MM-DD, today, yesterday or latest.", metavar="DAY")
    ] = "latest",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print instead of posting.")] = False,
    team: TeamOption = None,
) -> None:
    """Post an issue to a channel as a thread (once: the delivery ledger remembers)."""
    from bot import bootstrap
    from bot.cli.terminal import print_thread
    from bot.core import lookups
    from bot.slack.rendering import issue_messages

    settings = load_settings()
    setup_logging(settings)
    day = parse_day_option(date)
    if not CHANNEL_RE.match(channel):
        fail(f"{channel!r} is not a Slack channel id (like C0123456789; not a #name)", 2)
    database = open_db(settings)
    found = lookups.issue(database, day)
    issue = found.issue
    if issue is None:
        fail(found.missing_text())
    if dry_run:
        thread = issue_messages(issue, preview_emoji(settings, database, team))
        print_thread(out, channel, thread)
        out.print(f"(dry run: {len(thread)} messages, nothing sent)")
        return
    check_mode(settings)
    if settings.slack_bot_token is None and not settings.multi_workspace:
        fail("SLACK_BOT_TOKEN is not set (use --dry-run to preview without Slack)", 2)
    workspace = resolve_workspace(settings, database, team)
    deliverer = bootstrap.deliverer(settings, database)
    with _progress(err, channel, issue.date, settings.post_interval) as report:
        result = _deliver_waiting(deliverer, workspace, channel, issue.date, report)
    database.dispose()
    text = _outcome_text(result, issue.date, channel)
    if result.outcome in ("failed", "retry_later", "no_issue"):
        fail(text)
    out.print(text, markup=False)


def _outcome_text(result: DeliveryResult, day: dt.date, channel: str) -> str:
    """What `post` says about a delivery's outcome."""
    if result.forgotten:
        return f"could not reach Slack ({result.error}); nothing was sent. Run again to retry"
    if result.outcome == "posted" and result.edited:
        return (
            f"brought issue {day} in {channel} up to date: {result.edited} messages edited, "
            f"{result.posted} added"
        )
    messages = {
        "posted": f"posted issue {day} to {channel}: {result.posted} messages",
        "already": f"issue {day} was already posted to {channel} and is up to date; nothing sent",
        "skipped": f"nothing posted to {channel}: {result.error}",
        "failed": f"Slack refused: {result.error}{_refusal_hint(result.error, channel)}",
        "retry_later": f"Slack did not answer reliably ({result.error}); run again to resume",
        "no_issue": f"no issue {day}",
    }
    return messages[result.outcome]


def _refusal_hint(error: str | None, channel: str) -> str:
    from bot.core.status import INVITE_HINT

    if error in ("not_in_channel", "channel_not_found"):
        return f" (the bot is not in {channel}: {INVITE_HINT} there, then run this again)"
    return ""


@contextmanager
def _progress(
    console: Console, channel: str, day: dt.date, interval: float
) -> Iterator[ProgressReport]:
    """How far a thread is while it is paced into Slack: a bar on a terminal, else one line
    when the posting starts (a thread of 30 messages takes half a minute)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    if not console.is_terminal:
        said = False

        def line(done: int, total: int) -> None:
            nonlocal said
            if not said and done < total:
                said = True
                console.print(
                    f"posting {total - done} of {total} messages to {channel} (issue {day}), "
                    f"one every {interval:g} s",
                    markup=False,
                )

        yield line
        return
    bar = Progress(
        TextColumn(f"posting issue {day} to {channel}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("messages"),
        console=console,
        transient=True,
    )
    task = bar.add_task("post", total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        yield update


def _deliver_waiting(
    deliverer: Deliverer,
    workspace: Workspace,
    channel: str,
    day: dt.date,
    report: ProgressReport,
) -> DeliveryResult:
    """Deliver; while another live process holds the delivery, wait for it (saying so)."""
    import time

    from bot.owners import describe

    said = ""
    while True:
        result = deliverer.deliver_issue(
            workspace, channel, day, retry_failed=True, update=True, report=report
        )
        if result.outcome != "busy":
            return result
        holder = describe(result.holder) if result.holder else "another process"
        if holder != said:
            err.print(
                f"waiting: {holder} is posting issue {day} to {channel} right now", markup=False
            )
            said = holder
        time.sleep(1.0)


def preview_emoji(settings: Settings, database: Database, team: str | None) -> str:
    """The save emoji a `post --dry-run` shows: `--team`'s own when it has one (no Slack call)."""
    from bot.core.settings import save_emoji
    from bot.core.workspaces import known, named

    if team is None:
        return settings.save_emoji
    found = named(known(database), team)
    return save_emoji(database, found, settings.save_emoji) if found else settings.save_emoji
