"""Subscribing a channel and stopping: the one implementation behind /digest and the CLI."""

from __future__ import annotations

import datetime as dt

from bot.core.grammar import Schedule
from bot.store import subscriptions
from bot.store.db import Database
from bot.store.subscriptions import Subscription
from bot.workspace import Workspace


def subscribe(
    database: Database,
    workspace: Workspace,
    channel_id: str,
    wanted: Schedule,
    *,
    timezone: str,
    user_id: str | None,
    now: dt.datetime,
) -> Subscription:
    """Subscribe the channel (or change its schedule); `timezone` when `wanted` names none."""
    # A command may have been acked before this write: it waits out a busy database
    # rather than fail (write_retrying).
    return database.write_retrying(
        lambda session: subscriptions.subscribe(
            session,
            workspace,
            channel_id,
            hour=wanted.hour,
            minute=wanted.minute,
            timezone=wanted.timezone or timezone,
            days=wanted.days,
            user_id=user_id,
            now=now,
        )
    )


def unsubscribe(database: Database, workspace: Workspace, channel_id: str) -> bool:
    """Stop posting to the channel; False when it was not subscribed."""
    return database.write_retrying(
        lambda session: subscriptions.unsubscribe(session, workspace, channel_id)
    )


def every_subscription(database: Database) -> list[Subscription]:
    """Every subscribed channel of every workspace."""
    with database.read() as session:
        return subscriptions.all_subscriptions(session)
