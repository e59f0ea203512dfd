"""`python -m bot rollup`: a channel's roll-up of a week or month (printed, or as JSON)."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.common import (
    CHANNEL_RE,
    TEAM_RE,
    TeamOption,
    check_mode,
    fail,
    load_settings,
    open_db,
    out,
    resolve_workspace,
    setup_logging,
    table,
)

if TYPE_CHECKING:
    from rich.table import Table

    from bot.core.rollups import Period, Rollup
    from bot.delivery.deliverer import Deliverer, DeliveryResult
    from bot.store.db import Database
    from bot.store.rollups import PeriodKind
    from bot.workspace import Workspace

BAR_WIDTH = 30


def rollup(
    channel: Annotated[
        str, typer.Option(help="Slack channel id, e.g. C0123456789.", metavar="CHANNEL")
    ],
    team: TeamOption = None,
    period: Annotated[
        str | None,
        typer.Option(
            help="week (Monday to Sunday) or month; default: the channel's roll-up, else week.",
            metavar="week|month",
        ),
    ] = None,
    ending: Annotated[
        str | None,
        typer.Option(
            help="YYYY-MM-DD: the period containing this day (default: the last complete one).",
            metavar="DAY",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the messages and figures; post nothing.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the figures as JSON; post nothing.")
    ] = False,
) -> None:
    """A channel's roll-up of a week or month: its issues, top companies and most saved, posted
    as a thread (once: the delivery ledger remembers), or printed."""
    from bot.clock import utc_now
    from bot.core import rollups

    if not CHANNEL_RE.match(channel):
        fail(f"{channel[:40]!r} is not a Slack channel id (like C0123456789; not a #name)", 2)
    if period is not None and period not in ("week", "month"):
        fail(f"--period is week or month, not {period[:20]!r}", 2)
    day = None
    if ending is not None:
        try:
            day = dt.date.fromisoformat(ending.strip())
        except ValueError:
            fail(f"--ending {ending[:20]!r} is not a date (YYYY-MM-DD)", 2)
    settings = load_settings()
    setup_logging(settings)
    database = open_db(settings)
    posting = not (as_json or dry_run)
    if posting:
        check_mode(settings)
        if settings.slack_bot_token is None and not settings.multi_workspace:
            fail("SLACK_BOT_TOKEN is not set (use --dry-run or --json to see it without Slack)", 2)
        workspace = resolve_workspace(settings, database, team)
    else:
        workspace = _workspace(database, team)
    if not rollups.channel_known(database, workspace, channel):
        fail(
            f"unknown channel {channel} in {workspace or 'this workspace'}: not subscribed, "
            "no roll-up, nothing posted there",
            2,
        )
    setting = rollups.get_rollup(database, workspace, channel)
    kind: PeriodKind = "month" if period == "month" else "week"
    if period is None and setting is not None:
        kind = setting.period
    if day is not None:
        chosen = rollups.period_containing(kind, day)
    else:
        zone = rollups.channel_timezone(database, workspace, channel)
        chosen = rollups.last_complete(kind, utc_now(), zone)
    if as_json:
        found = rollups.rollup(database, workspace, channel, chosen)
        typer.echo(json.dumps(found.as_json(), ensure_ascii=False))
        return
    if dry_run:
        _preview(database, workspace, channel, chosen)
        return
    from bot import bootstrap

    # Through the delivery engine, as `post`: exactly once, paced, resumed after a crash.
    result = _deliver_waiting(bootstrap.deliverer(settings, database), workspace, channel, chosen)
    database.dispose()
    text = _outcome_text(result, chosen, channel)
    if result.outcome in ("failed", "retry_later"):
        fail(text)
    out.print(text, markup=False)


def _deliver_waiting(
    deliverer: Deliverer, workspace: Workspace, channel: str, period: Period
) -> DeliveryResult:
    """Deliver; while another live process holds the roll-up, wait for it (saying so)."""
    import time

    from bot.cli.common import err
    from bot.owners import describe

    said = ""
    while True:
        result = deliverer.deliver_rollup(workspace, channel, period.label, retry_failed=True)
        if result.outcome != "busy":
            return result
        holder = describe(result.holder) if result.holder else "another process"
        if holder != said:
            err.print(
                f"waiting: {holder} is posting the roll-up of {period.label} to {channel} now",
                markup=False,
            )
            said = holder
        time.sleep(1.0)


def _outcome_text(result: DeliveryResult, period: Period, channel: str) -> str:
    """What `rollup` says about a delivery's outcome."""
    what = f"the roll-up of {period.label} ({period.start} to {period.end})"
    if result.forgotten:
        return f"could not reach Slack ({result.error}); nothing was sent. Run again to retry"
    messages = {
        "posted": f"posted {what} to {channel}: {result.posted} messages",
        "already": f"{what} was already posted to {channel}; nothing sent",
        "skipped": f"nothing posted to {channel}: {result.error}",
        "failed": f"Slack refused: {result.error}",
        "retry_later": f"Slack did not answer reliably ({result.error}); run again to resume",
    }
    return messages.get(result.outcome, f"{result.outcome}: {result.error}")


def _workspace(database: Database, team: str | None) -> Workspace:
    """The workspace the roll-up is for, from what the database knows (no Slack call)."""
    from bot.core.workspaces import known, named
    from bot.workspace import UNASSIGNED

    workspaces = known(database)
    if team is not None:
        found = named(workspaces, team) if TEAM_RE.match(team) else None
        if found is None:
            fail(f"unknown workspace {team[:40]!r} (see python -m bot workspaces list)", 2)
        return found
    if len(workspaces) == 1:
        return workspaces[0]
    if not workspaces:
        return UNASSIGNED  # one workspace from before workspaces were recorded
    fail(f"--team is required: {len(workspaces)} workspaces use the bot", 2)


def _preview(database: Database, workspace: Workspace, channel: str, period: Period) -> None:
    """The roll-up's messages as they would be posted, then its figures as tables with bars."""
    from bot.cli.terminal import print_thread
    from bot.core import rollups
    from bot.slack.rollup_rendering import render_rollup

    found = rollups.rollup(database, workspace, channel, period)
    messages = render_rollup(found)
    print_thread(out, channel, messages)
    out.print(_figures(found))
    if found.most_saved:
        rows = [(a.title, a.issue_date.isoformat(), str(n)) for a, n in found.most_saved]
        out.print(table(("Most saved", "Issue", "Saves"), rows, numeric=("Saves",)))
    out.print(f"(dry run: {len(messages)} messages, nothing sent)", markup=False)


def _figures(found: Rollup) -> Table:
    """The period's headline and top companies as a table with bars."""
    period = found.period
    top = max((count for _, count in found.top_companies), default=1) or 1
    rows = [
        (name, str(count), "█" * max(1, round(BAR_WIDTH * count / top)))
        for name, count in found.top_companies
    ]
    shown = table(("Company", "Articles", ""), rows, numeric=("Articles",))
    shown.title = (
        f"{period.label} ({period.start} to {period.end}): {len(found.issues)} issues, "
        f"{found.deep_dives} deep dives"
    )
    return shown
