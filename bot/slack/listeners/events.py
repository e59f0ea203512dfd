"""Events: save/unsave by reaction, and the App Home tab."""

from __future__ import annotations

import datetime as dt
import logging
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import DBAPIError

from bot.core import rollups, saves, settings, workspaces
from bot.slack.rendering import FollowItem, render_home
from bot.slack.request_scope import seconds_left
from bot.slack.request_token import with_request_token
from bot.slack.rollup_rendering import home_this_week
from bot.slack.services import Services
from bot.store.db import is_busy
from bot.store.saves import Reaction
from bot.workspace import Workspace

log = logging.getLogger(__name__)

# A reaction is saved before Slack is answered, within this much of the request's arrival; if
# the database cannot take it by then, Slack is answered 503 and delivers it again.
SAVE_SECONDS = 2.0
# ...unless the database answers but another process holds the write lock (an ingest writes
# in batches of ~50 ms): after this long the ack goes, and the save follows once the lock is
# free (retried for minutes, as every write after an ack).
BUSY_SECONDS = 0.1
# Set on the request's context when the ack saved (or unsaved): the confirmation follows.
CHANGED = "digest_reaction_changed"
# Set instead when the save waits for the write lock: the listener after the ack makes it.
WAITING = "digest_reaction_waiting"


def ack_at_once(ack: Ack) -> None:
    """Acknowledge an event or click before any work (its listener runs lazily, after)."""
    ack()


def _save_emoji_matches(reaction: str, wanted: str) -> bool:
    # Skin-tone variants arrive as 'name::skin-tone-2'.
    return reaction.split("::", 1)[0] == wanted


def _reaction(
    services: Services,
    workspace: Workspace,
    event: dict[str, Any],
    body: dict[str, Any],
    now: dt.datetime,
    posted_by: Workspace | None = None,
) -> Reaction | None:
    """The save-emoji reaction (the posting workspace's own emoji) an event stands for; None
    for any other reaction or item."""
    reaction = str(event.get("reaction", ""))
    item = event.get("item") or {}
    if item.get("type") != "message":
        return None
    user_id, channel_id, ts = event.get("user"), item.get("channel"), item.get("ts")
    if not (user_id and channel_id and ts and reaction):
        return None
    # Read only for reactions to messages: the cheap checks above drop most other events.
    emoji_of = posted_by or workspace
    wanted = settings.save_emoji(services.database, emoji_of, services.save_emoji)
    if not _save_emoji_matches(reaction, wanted):
        return None
    when = saves.reaction_time(event.get("event_ts"), body.get("event_time"), now)
    removed = event.get("type") != "reaction_added"
    return Reaction(user_id, channel_id, ts, removed, when)


def _team_of_user(client: WebClient, user_id: str) -> Workspace | None:
    """users.info: the person's own team and org (None when Slack cannot tell now)."""
    try:
        user = client.users_info(user=user_id).get("user") or {}
    except SlackApiError as exc:
        log.info("users.info failed for a Slack Connect reaction: %s", exc.response.get("error"))
        return None
    team = str(user.get("team_id") or "")
    enterprise = str((user.get("enterprise_user") or {}).get("enterprise_id") or "")
    return Workspace(team, enterprise) if team else None


def _person_mapped(here: Workspace, person: Workspace, context: Any) -> Workspace:
    """Where a person's saves live: their own workspace, or the installation that is theirs."""
    installed_team = str(getattr(context, "team_id", None) or "")
    if person.team_id == installed_team and person.enterprise_id in ("", here.enterprise_id):
        return here
    if here.team_id == "" and person.enterprise_id and person.enterprise_id == here.enterprise_id:
        return here  # installed org-wide in the person's own org: saves are keyed by the org
    return person


def _person_from_payload(
    event: dict[str, Any], body: dict[str, Any], context: Any
) -> Workspace | None:
    """The reacting person's own workspace as the request tells it; None when only users.info
    can tell (a Slack Connect event that names no team for the person).

    Outside Slack Connect it is the installation's. In a channel shared between organisations
    Slack lists whichever installation can see the event, so the person's team comes from the
    event (user_team, or Bolt's actor ids).
    """
    here = Workspace.from_context(context)
    if body.get("is_ext_shared_channel") is not True:
        return here
    user_team = str(event.get("user_team") or "")
    team = user_team if user_team.startswith("T") else ""
    team = team or str(getattr(context, "actor_team_id", None) or "")
    if not team:
        return None
    enterprise = str(getattr(context, "actor_enterprise_id", None) or "")
    return _person_mapped(here, Workspace(team, enterprise), context)


def reactor_workspace(
    event: dict[str, Any], body: dict[str, Any], context: Any, client: WebClient
) -> Workspace | None:
    """The reacting person's own workspace, where their save lives (None: Slack cannot tell)."""
    found = _person_from_payload(event, body, context)
    if found is not None:
        return found
    looked_up = _team_of_user(client, str(event.get("user", "")))
    if looked_up is None:
        return None
    return _person_mapped(Workspace.from_context(context), looked_up, context)


def _posted_by(
    services: Services, event: dict[str, Any], body: dict[str, Any]
) -> tuple[bool, Workspace | None]:
    """(whether to go on, the installation that posted the message): in Slack Connect the post
    may be another installation's, found by channel and ts; elsewhere it is this one's."""
    if body.get("is_ext_shared_channel") is not True:
        return True, None
    item = event.get("item") or {}
    if item.get("type") != "message" or not (item.get("channel") and item.get("ts")):
        return False, None
    posted_by = saves.posted_by(services.database, str(item["channel"]), str(item["ts"]))
    return posted_by is not None, posted_by


def ack_reaction(
    services: Services,
    ack: Ack,
    event: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
) -> None:
    """Save (reaction_added) or unsave (reaction_removed) the article a bot post stands for,
    then ack. A database that cannot take the save makes this raise: Slack is answered 503
    and delivers the event again (once saved, a retry of the same event_id changes nothing).
    A database busy with another writer, or a person whose workspace only users.info can tell,
    gets the save right after the ack instead."""
    now = services.clock()
    workspace = Workspace.from_context(context)
    go_on, posted_by = _posted_by(services, event, body)
    reaction = _reaction(services, workspace, event, body, now, posted_by) if go_on else None
    if reaction is not None:
        event_id = str(body.get("event_id", ""))
        pending = {"event_id": event_id, "reaction": reaction, "now": now, "posted_by": posted_by}
        saver = _person_from_payload(event, body, context)
        if saver is None:
            context[WAITING] = pending
        else:
            within = min(BUSY_SECONDS, seconds_left(SAVE_SECONDS))
            try:
                changed = saves.record_reaction(
                    services.database, saver, event_id, reaction, now, posted_by, within=within
                )
            except DBAPIError as exc:
                if not is_busy(exc):
                    raise
                context[WAITING] = pending
            else:
                if changed:
                    context[CHANGED] = {
                        "removed": reaction.removed,
                        "channel": reaction.channel_id,
                    }
    ack()


def handle_reaction(
    services: Services,
    client: WebClient,
    event: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
) -> None:
    """After the ack: make a save the ack could not, then tell the person it is saved (or
    unsaved)."""
    changed = context.get(CHANGED)
    waiting = context.get(WAITING)
    if waiting:
        reaction: Reaction = waiting["reaction"]
        saver = reactor_workspace(event, body, context, client)
        if saver is None:
            log.warning("save by reaction not recorded: could not tell the person's workspace")
            return
        if saves.record_reaction(
            services.database,
            saver,
            waiting["event_id"],
            reaction,
            waiting["now"],
            waiting["posted_by"],
        ):
            changed = {"removed": reaction.removed, "channel": reaction.channel_id}
    if not changed:
        return
    text = (
        "Removed from your saved articles."
        if changed["removed"]
        else "Saved. Find it with `/digest saved` or in the app's Home tab."
    )
    try:
        client.chat_postEphemeral(
            channel=changed["channel"], user=str(event.get("user", "")), text=text
        )
    except SlackApiError as exc:
        # The save stands; the confirmation is a courtesy (e.g. bot not in channel).
        log.info("save confirmation not shown: %s", exc.response.get("error"))


def publish_home(services: Services, workspace: Workspace, user_id: str, client: WebClient) -> None:
    """Publish a person's Home tab: latest signal, this week so far, their follows and saves,
    short help."""
    home = saves.home(services.database, workspace, user_id)
    follows = [FollowItem(f.id, f.kind, f.label, f.waiting) for f in home.follows]
    emoji = settings.save_emoji(services.database, workspace, services.save_emoji)
    # "This week" is the person's week: their timezone, through this workspace's token.
    zone = with_request_token(client.token).run(services.answers.user_timezone, user_id) or "UTC"
    week = rollups.this_week(services.database, workspace, user_id, services.clock(), zone)
    view = render_home(home.latest, home.saved, emoji, follows, home_this_week(week))
    client.views_publish(user_id=user_id, view=view)


def handle_app_home_opened(
    services: Services, event: dict[str, Any], client: WebClient, context: Any
) -> None:
    """Publish the Home tab when the person opens it."""
    if event.get("tab", "home") != "home":
        return
    publish_home(services, Workspace.from_context(context), str(event.get("user", "")), client)


def handle_uninstall(services: Services, event: dict[str, Any], context: Any) -> None:
    """app_uninstalled, or tokens_revoked naming bot tokens: forget the workspace's data (many
    workspaces; one workspace keeps it and says so)."""
    if event.get("type") == "tokens_revoked" and not (event.get("tokens") or {}).get("bot"):
        return  # only user tokens were revoked: the bot still works there
    if not services.multi_workspace:
        log.warning(
            "%s received: data kept (one workspace: subscriptions, saves and ledger stay); after "
            "reinstalling, replace SLACK_BOT_TOKEN",
            event.get("type"),
        )
        return
    workspace = Workspace.from_context(context)
    if not (workspace.team_id or workspace.enterprise_id):
        log.warning("%s without a workspace; ignored", event.get("type"))
        return
    workspaces.uninstall(services.database, workspace, services.forget_installation)


def register(app: App, services: Services) -> None:
    """Attach the event handlers (services bound first: Bolt injects the rest by name)."""
    # Slack wants the HTTP answer within 3 s; the work (database, Slack API calls) comes after.
    # Except reactions: saved before the ack, so a database outage makes Slack deliver it again.
    save, confirm = partial(ack_reaction, services), partial(handle_reaction, services)
    app.event("reaction_added")(ack=save, lazy=[confirm])
    app.event("reaction_removed")(ack=save, lazy=[confirm])
    home = partial(handle_app_home_opened, services)
    app.event("app_home_opened")(ack=ack_at_once, lazy=[home])
    uninstall = partial(handle_uninstall, services)
    app.event("app_uninstalled")(ack=ack_at_once, lazy=[uninstall])
    app.event("tokens_revoked")(ack=ack_at_once, lazy=[uninstall])
