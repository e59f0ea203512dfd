"""The composition root: builds the Slack clients, use cases, Bolt app, deliverer and worker
from settings and a database, with the one clock, for `serve`, `worker` and `post`.

Imports are local so that `worker` never loads the web server and `post` never loads Bolt.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import TYPE_CHECKING

from bot.clock import Clock, utc_now
from bot.config import Settings
from bot.store.db import Database

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.core.workspaces import ForgetInstallation
    from bot.delivery.deliverer import Deliverer
    from bot.delivery.follower_dms import FollowerDms
    from bot.delivery.transports import SlackClients
    from bot.slack.installations import InstalledTokens
    from bot.slack.server import WSGIApp
    from bot.worker.scheduler import Worker


def bolt_app(
    settings: Settings, database: Database, *, socket_mode: bool = False, clock: Clock = utc_now
) -> App:
    """The Bolt app with every listener, its Web API client and the use cases they call."""
    from bot.core.workspaces import forget_nothing, set_installer
    from bot.slack.answers import Answers
    from bot.slack.app import create_app, make_client, user_timezone_lookup
    from bot.slack.membership import Membership
    from bot.slack.services import Services, answer_executor

    client = make_client(settings)
    lookups = Answers(database, settings, clock, user_timezone_lookup(client), Membership(client))
    # Many workspaces: one installation store serves Bolt's authorize and the uninstall listener.
    tokens = installed_tokens(settings, database, clock) if settings.multi_workspace else None
    services = Services(
        lookups,
        database,
        clock,
        settings.save_emoji,
        answer_executor(),
        tokens.forget if tokens is not None else forget_nothing,
        multi_workspace=settings.multi_workspace,
    )
    return create_app(
        settings,
        services,
        client=client,
        socket_mode=socket_mode,
        tokens=tokens,
        # The installing user may manage that workspace's schedules.
        on_installed=partial(set_installer, database),
    )


def installed_tokens(
    settings: Settings, database: Database, clock: Clock = utc_now
) -> InstalledTokens:
    """Many workspaces: the installations (encrypted, refreshed, forgettable)."""
    from bot.slack.installations import installed_tokens as build

    return build(settings, database, clock)


def forget_installation(settings: Settings, database: Database) -> ForgetInstallation:
    """What deletes a workspace's installation when it uninstalls or an operator removes it.

    One workspace: its token lives in the environment, so nothing is stored to delete; many:
    the OAuth installation store's rows for that workspace.
    """
    from bot.core.workspaces import forget_nothing

    if settings.multi_workspace:
        return installed_tokens(settings, database).forget
    return forget_nothing


def wsgi_app(settings: Settings, database: Database, signing_secret: str) -> WSGIApp:
    """One web worker's app (built after gunicorn forks, with the worker's own database);
    /healthz says whether the database answers within a second."""
    from bot.slack.server import BoundedCheck, make_wsgi_app

    health = BoundedCheck(database.ping)
    return make_wsgi_app(bolt_app(settings, database), signing_secret, health)


def slack_clients(settings: Settings, database: Database, clock: Clock = utc_now) -> SlackClients:
    """The one cache of each workspace's async Slack clients (SLACK_BOT_TOKEN, or the
    workspace's installation), shared by channel threads and follower DMs."""
    from bot.delivery.transports import SlackClients
    from bot.slack.installations import token_source

    return SlackClients(
        token_source(settings, database, clock),
        settings.slack_api_url,
        connections=settings.fanout_threads,
    )


def deliverer(
    settings: Settings,
    database: Database,
    clock: Clock = utc_now,
    *,
    clients: SlackClients | None = None,
) -> Deliverer:
    """The delivery path shared by `post` and the worker: each workspace's poster with its own
    bot token, paced by one Pacer (DIGEST_POST_INTERVAL per channel, the workspace cap).
    Callers check the mode's settings."""
    from bot.delivery.deliverer import Deliverer
    from bot.delivery.pacer import Pacer
    from bot.delivery.transports import PosterCache

    posters = PosterCache(clients or slack_clients(settings, database, clock))
    pacer = Pacer(settings.post_interval, settings.workspace_posts_per_minute or None)
    lease = dt.timedelta(seconds=settings.lease_seconds)
    return Deliverer(
        database, posters, clock, lease=lease, save_emoji=settings.save_emoji, pacer=pacer
    )


def follower_dms(
    settings: Settings,
    database: Database,
    clock: Clock = utc_now,
    *,
    clients: SlackClients | None = None,
) -> FollowerDms:
    """Matching new articles to follows and the DMs to followers, each workspace's DMs sent
    with that workspace's bot token (SLACK_BOT_TOKEN, or its installation's, refreshed)."""
    from bot.delivery.follower_dms import FollowerDms
    from bot.delivery.pacer import Pacer
    from bot.delivery.transports import PosterCache

    # DIGEST_DM_PER_SECOND in each workspace, and one a second to each person.
    pacer = Pacer(1.0, settings.dm_per_second * 60)
    return FollowerDms(
        database,
        PosterCache(clients or slack_clients(settings, database, clock)),
        clock,
        lease=dt.timedelta(seconds=settings.lease_seconds),
        recent_days=settings.max_issue_age_days,
        pacer=pacer,
    )


def worker(settings: Settings, database: Database, clock: Clock = utc_now) -> Worker:
    """Scheduled posting through the fan-out (each workspace with its own token), source
    polling (when sources are configured) and, with many workspaces, the refresh of rotating
    tokens."""
    from bot.slack.identity import adopt_at_start
    from bot.worker.dispatcher import Dispatcher
    from bot.worker.scheduler import Worker

    adopt_at_start(settings, database, clock)
    clients = slack_clients(settings, database, clock)
    dispatcher = Dispatcher(
        database,
        deliverer(settings, database, clock, clients=clients),
        clock,
        max_age=dt.timedelta(days=settings.max_issue_age_days),
        grace=dt.timedelta(hours=settings.catchup_grace_hours),
        edit_window=dt.timedelta(days=settings.edit_window_days),
    )
    poller = None
    if settings.source_dir or settings.feed_url:
        from bot.sources import Poller  # feed parsing and HTML: only a worker with a source

        poller = Poller(database, settings.source_dir, settings.feed_url)
    refresh = None
    if settings.multi_workspace:
        refresh = installed_tokens(settings, database, clock).refresh_due
    follows = None
    if settings.multi_workspace or settings.slack_bot_token is not None:
        follows = follower_dms(settings, database, clock, clients=clients)
    return Worker(
        dispatcher,
        poller,
        dt.timedelta(minutes=settings.poll_minutes),
        refresh_tokens=refresh,
        follows=follows,
        follow_seconds=settings.follow_poll_seconds,
    )
