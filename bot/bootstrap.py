"""The composition root: builds the Slack clients, use cases, Bolt app, deliverer and worker
from settings and a database, with the one clock, for `serve`, `worker` and `post`.

Imports are local so that `worker` never loads the web server and `post` never loads Bolt.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from bot.clock import Clock, utc_now
from bot.config import Settings
from bot.store.db import Database

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.delivery import Deliverer
    from bot.slack.answers import Answers
    from bot.slack.server import WSGIApp
    from bot.worker import Worker


def answers(settings: Settings, database: Database, clock: Clock = utc_now) -> Answers:
    """The /digest answers without Slack (the CLI's lookups): no timezone or membership lookups."""
    from bot.slack.answers import Answers

    return Answers(database, settings, clock)


def bolt_app(
    settings: Settings, database: Database, *, socket_mode: bool = False, clock: Clock = utc_now
) -> App:
    """The Bolt app with every listener, its Web API client and the use cases they call."""
    from bot.slack.answers import Answers
    from bot.slack.app import create_app, make_client, user_timezone_lookup
    from bot.slack.membership import Membership
    from bot.slack.services import Services

    client = make_client(settings)
    lookups = Answers(database, settings, clock, user_timezone_lookup(client), Membership(client))
    services = Services(settings, database, lookups, clock)
    return create_app(settings, services, client=client, socket_mode=socket_mode)


def wsgi_app(settings: Settings, database: Database, signing_secret: str) -> WSGIApp:
    """One web worker's app (built after gunicorn forks, with the worker's own database)."""
    from bot.slack.server import make_wsgi_app

    return make_wsgi_app(bolt_app(settings, database), signing_secret)


def deliverer(settings: Settings, database: Database, clock: Clock = utc_now) -> Deliverer:
    """The delivery path shared by `post` and the worker (callers check SLACK_BOT_TOKEN)."""
    from bot.delivery import Deliverer
    from bot.slack.poster import ChannelPacer, SlackPoster, make_lookup_client, make_web_client

    assert settings.slack_bot_token is not None  # noqa: S101  checked by callers
    token = settings.slack_bot_token.get_secret_value()
    client = make_web_client(token, settings.slack_api_url)
    lease = dt.timedelta(seconds=settings.lease_seconds)
    pacer = ChannelPacer(interval=settings.post_interval)
    poster = SlackPoster(
        client, pacer, lookup_client=make_lookup_client(token, settings.slack_api_url)
    )
    return Deliverer(database, poster, clock, lease=lease, save_emoji=settings.save_emoji)


def worker(settings: Settings, database: Database, clock: Clock = utc_now) -> Worker:
    """Scheduled posting and (when sources are configured) source polling."""
    from bot.sources import Poller
    from bot.worker import Dispatcher, Worker

    dispatcher = Dispatcher(
        database,
        deliverer(settings, database, clock),
        clock,
        max_age=dt.timedelta(days=settings.max_issue_age_days),
        grace=dt.timedelta(hours=settings.catchup_grace_hours),
        edit_window=dt.timedelta(days=settings.edit_window_days),
    )
    poller = None
    if settings.source_dir or settings.feed_url:
        poller = Poller(database, settings.source_dir, settings.feed_url)
    return Worker(dispatcher, poller, dt.timedelta(minutes=settings.poll_minutes))
