"""Events: save/unsave by reaction, and the App Home tab."""

from __future__ import annotations

import datetime as dt
import logging
from functools import partial
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.core import saves, settings, workspaces
from bot.slack.rendering import FollowItem, render_home
from bot.slack.services import Services
from bot.store.saves import Reaction
from bot.workspace import Workspace

log = logging.getLogger(__name__)


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
) -> Reaction | None:
    """The save-emoji reaction (the workspace's own) an event stands for; None for any other
    reaction or item."""
    reaction = str(event.get("reaction", ""))
    item = event.get("item") or {}
    if item.get("type") != "message":
        return None
    user_id, channel_id, ts = event.get("user"), item.get("channel"), item.get("ts")
    if not (user_id and channel_id and ts and reaction):
        return None
    # Read only for reactions to messages: the cheap checks above drop most other events.
    wanted = settings.save_emoji(services.database, workspace, services.save_emoji)
    if not _save_emoji_matches(reaction, wanted):
        return None
    when = saves.reaction_time(event.get("event_ts"), body.get("event_time"), now)
    removed = event.get("type") != "reaction_added"
    return Reaction(user_id, channel_id, ts, removed, when)


def handle_reaction(
    services: Services,
    event: dict[str, Any],
    body: dict[str, Any],
    client: WebClient,
    context: Any,
) -> None:
    """Save (reaction_added) or unsave (reaction_removed) the article a bot post stands for."""
    now = services.clock()
    workspace = Workspace.from_context(context)
    reaction = _reaction(services, workspace, event, body, now)
    if reaction is None:
        return
    event_id = str(body.get("event_id", ""))
    if not saves.record_reaction(services.database, workspace, event_id, reaction, now):
        return
    text = (
        "Removed from your saved articles."
        if reaction.removed
        else "Saved. Find it with `/digest saved` or in the app's Home tab."
    )
    try:
        client.chat_postEphemeral(channel=reaction.channel_id, user=reaction.user_id, text=text)
    except SlackApiError as exc:
        # The save stands; the confirmation is a courtesy (e.g. bot not in channel).
        log.info("save confirmation not shown: %s", exc.response.get("error"))


def publish_home(services: Services, workspace: Workspace, user_id: str, client: WebClient) -> None:
    """Publish a person's Home tab: latest signal, their follows and saves, short help."""
    home = saves.home(services.database, workspace, user_id)
    follows = [FollowItem(f.id, f.kind, f.label, f.waiting) for f in home.follows]
    emoji = settings.save_emoji(services.database, workspace, services.save_emoji)
    view = render_home(home.latest, home.saved, emoji, follows)
    client.views_publish(user_id=user_id, view=view)


def handle_app_home_opened(
    services: Services, event: dict[str, Any], client: WebClient, context: Any
) -> None:
    """Publish the Home tab when the person opens it."""
    if event.get("tab", "home") != "home":
        return
    publish_home(services, Workspace.from_context(context), str(event.get("user", "")), client)


def handle_uninstall(services: Services, event: dict[str, Any], context: Any) -> None:
    """app_uninstalled, or tokens_revoked naming bot tokens: forget the workspace's data."""
    if event.get("type") == "tokens_revoked" and not (event.get("tokens") or {}).get("bot"):
        return  # only user tokens were revoked: the bot still works there
    workspace = Workspace.from_context(context)
    if not (workspace.team_id or workspace.enterprise_id):
        log.warning("%s without a workspace; ignored", event.get("type"))
        return
    workspaces.uninstall(services.database, workspace, services.forget_installation)


def register(app: App, services: Services) -> None:
    """Attach the event handlers (services bound first: Bolt injects the rest by name)."""
    # Slack wants the HTTP answer within 3 s; the work (database, Slack API calls) comes after.
    reaction = partial(handle_reaction, services)
    app.event("reaction_added")(ack=ack_at_once, lazy=[reaction])
    app.event("reaction_removed")(ack=ack_at_once, lazy=[reaction])
    home = partial(handle_app_home_opened, services)
    app.event("app_home_opened")(ack=ack_at_once, lazy=[home])
    uninstall = partial(handle_uninstall, services)
    app.event("app_uninstalled")(ack=ack_at_once, lazy=[uninstall])
    app.event("tokens_revoked")(ack=ack_at_once, lazy=[uninstall])
