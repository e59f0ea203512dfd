"""`python -m bot subscriptions …`: channel subscriptions (what /digest subscribe manages)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from bot.cli.common import (
    CHANNEL_RE,
    TeamOption,
    fail,
    load_settings,
    open_db,
    out,
    resolve_workspace,
)

subs_app = typer.Typer(help="Channel subscriptions (what /digest subscribe manages).")


@subs_app.command("list")
def subscriptions_list(team: TeamOption = None) -> None:
    """Every subscribed channel with its schedule, next post and last delivery (and channels
    with a half-sent `post` thread)."""
    from bot.clock import utc_now
    from bot.core.status import all_statuses

    settings = load_settings()
    database = open_db(settings)
    workspace = resolve_workspace(settings, database, team)
    max_age = dt.timedelta(days=settings.max_issue_age_days)
    statuses = all_statuses(database, workspace, utc_now(), max_age)
    if not statuses:
        out.print("no subscriptions")
        return
    for status in statuses:
        suffix = "" if status.subscribed else " (not subscribed)"
        out.print(status.channel_id + suffix, style="bold", markup=False)
        for line in status.text.splitlines():
            out.print(f"  {line}", markup=False)


@subs_app.command("add")
def subscriptions_add(
    channel: Annotated[str, typer.Argument(help="Slack channel id.", metavar="CHANNEL")],
    schedule: Annotated[
        list[str] | None,
        typer.Argument(help="[HH:MM] [TIMEZONE] [weekdays|daily]", metavar="SCHEDULE"),
    ] = None,
    team: TeamOption = None,
) -> None:
    """Subscribe a channel (default 09:00 UTC on weekdays)."""
    from bot.clock import utc_now
    from bot.core import subscriptions
    from bot.core.grammar import parse_schedule

    settings = load_settings()
    if not CHANNEL_RE.match(channel):
        fail(f"{channel!r} is not a Slack channel id (like C0123456789; not a #name)", 2)
    try:
        wanted = parse_schedule(" ".join(schedule or []))
    except ValueError as exc:
        fail(str(exc), 2)
    database = open_db(settings)
    workspace = resolve_workspace(settings, database, team)
    sub = subscriptions.subscribe(
        database, workspace, channel, wanted, timezone="UTC", user_id=None, now=utc_now()
    )
    out.print(f"{channel}: {sub.time_text} {sub.timezone}, {sub.days}", markup=False)


@subs_app.command("remove")
def subscriptions_remove(
    channel: Annotated[str, typer.Argument(help="Slack channel id.", metavar="CHANNEL")],
    team: TeamOption = None,
) -> None:
    """Stop posting to a channel."""
    from bot.core import subscriptions

    settings = load_settings()
    database = open_db(settings)
    workspace = resolve_workspace(settings, database, team)
    if not subscriptions.unsubscribe(database, workspace, channel):
        fail(f"{channel} was not subscribed")
    out.print(f"{channel} unsubscribed")
