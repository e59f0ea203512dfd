"""A channel's status (schedule, next post, last delivery, failures) as plain text."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.rollups import period_named
from bot.schedule import Outlook, outlook
from bot.store import ledger, subscriptions
from bot.store.db import Database
from bot.store.queries import latest_issue_date
from bot.workspace import Workspace

BOT_NAME = "Engineering @ Scale"  # features.bot_user.display_name in manifest.yml
INVITE_HINT = f"invite the bot with `/invite @{BOT_NAME}`"
NOT_IN_CHANNEL = frozenset({"not_in_channel", "channel_not_found"})


@dataclass(frozen=True)
class ChannelStatus:
    """One channel's status: whether it is subscribed, and the status text."""

    channel_id: str
    subscribed: bool
    text: str


def channel_status(
    database: Database,
    workspace: Workspace,
    channel_id: str,
    now: dt.datetime,
    max_age: dt.timedelta,
) -> ChannelStatus:
    """The status of one channel (what /digest status shows)."""
    with database.read() as session:
        sub = subscriptions.get_subscription(session, workspace, channel_id)
        last = ledger.last_delivery(session, workspace, channel_id)
        newest = latest_issue_date(session)
        unfinished = ledger.open_deliveries(session, workspace, channel_id)
    text = status_text(sub, last, now, newest, max_age, unfinished)
    return ChannelStatus(channel_id, sub is not None, text)


def all_statuses(
    database: Database, workspace: Workspace, now: dt.datetime, max_age: dt.timedelta
) -> list[ChannelStatus]:
    """Every subscribed channel of a workspace, and every channel with a half-sent `post`
    thread, by id."""
    with database.read() as session:
        subs = {s.channel_id: s for s in subscriptions.list_subscriptions(session, workspace)}
        unfinished = [d for d in ledger.open_deliveries(session, workspace) if d.origin == "manual"]
        channels = sorted(set(subs) | {d.channel_id for d in unfinished})
        rows = [(c, subs.get(c), ledger.last_delivery(session, workspace, c)) for c in channels]
        newest = latest_issue_date(session)
    return [
        ChannelStatus(
            channel,
            sub is not None,
            status_text(
                sub, last, now, newest, max_age, [d for d in unfinished if d.channel_id == channel]
            ),
        )
        for channel, sub, last in rows
    ]


def status_text(
    sub: subscriptions.Subscription | None,
    last: ledger.DeliveryView | None,
    now: dt.datetime,
    newest: dt.date | None = None,
    max_age: dt.timedelta = dt.timedelta(days=2),
    unfinished: Sequence[ledger.OpenDelivery] = (),
) -> str:
    """The status text; `newest` is the archive's newest issue."""
    if sub is None:
        lines = ["This channel is not subscribed. Use /digest subscribe [HH:MM] [Timezone]."]
    else:
        delivered = last is not None and newest is not None and last.issue_date >= newest
        coming = outlook(sub.schedule, now, newest, delivered, max_age=max_age)
        lines = _schedule_lines(sub, coming)
    lines.append(_last_delivery_line(last))
    lines.extend(_unfinished_line(d) for d in unfinished if d.origin == "manual" and d.started)
    return "\n".join(lines)


def _unfinished_line(d: ledger.OpenDelivery) -> str:
    """A thread `post` (or `rollup`) left half-sent, and the command that finishes it."""
    if d.period is not None:
        period = period_named(d.period)
        return (
            f"Unfinished: the roll-up of {d.period} posted by hand, {d.messages} messages so far; "
            f"finish it with: python -m bot rollup --channel {d.channel_id} "
            f"--period {period.kind} --ending {period.end}"
        )
    return (
        f"Unfinished: issue {d.issue_date} posted by hand, {d.messages} messages so far; "
        f"finish it with: python -m bot post --channel {d.channel_id} --date {d.issue_date}"
    )


def _schedule_lines(sub: subscriptions.Subscription, coming: Outlook) -> list[str]:
    """The schedule, the next post and any failure of a subscribed channel."""
    days = "every day" if sub.days == "daily" else "weekdays"
    lines = [f"Schedule: {sub.time_text} {sub.timezone}, {days}.", next_post_text(coming)]
    if sub.failing:
        fix = INVITE_HINT if sub.last_error in NOT_IN_CHANNEL else "fix it"
        lines.append(f"FAILING: {sub.last_error}. To resume, {fix}, then subscribe again.")
    elif sub.last_error:
        lines.append(f"Note: {sub.last_error}")
    return lines


def _last_delivery_line(last: ledger.DeliveryView | None) -> str:
    if last is None:
        return "Last delivery: none yet."
    when = f" at {last.finished_at:%Y-%m-%d %H:%M} UTC" if last.finished_at else ""
    error = f" ({last.last_error})" if last.last_error else ""
    return (
        f"Last delivery: issue {last.issue_date} — {last.state}{when}, "
        f"{last.messages} messages{error}."
    )


def next_post_text(coming: Outlook) -> str:
    """'Next post: …' and what it will carry; says so when nothing is new enough to post."""
    when = f"{coming.slot:%a %Y-%m-%d %H:%M %Z}"
    match coming.state:
        case "post":
            return f"Next post: {when}, issue {coming.issue_date}."
        case "posted":
            return (
                f"Next post: {when}, if a new issue has arrived by then "
                f"(the newest, {coming.issue_date}, was already posted here)."
            )
        case "stale":
            return (
                f"Nothing new to post: the newest issue, {coming.issue_date}, is "
                f"{coming.age_days} days old, older than DIGEST_MAX_ISSUE_AGE_DAYS allows. "
                f"Next post: {when}, if a new issue has arrived by then."
            )
    return f"Nothing to post yet: the archive is empty. Next post: {when}, if an issue arrives."
