"""Events: save/unsave by reaction, and the App Home tab."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.rendering import render_home
from bot.slack.services import Services
from bot.store import saves
from bot.store.queries import get_issue

log = logging.getLogger(__name__)

HOME_SAVED = 10


def ack_at_once(ack: Ack) -> None:
    """Acknowledge an event or click before any work (its listener runs lazily, after)."""
    ack()


def _save_emoji_matches(reaction: str, wanted: str) -> bool:
    # Skin-tone variants arrive as 'name::skin-tone-2'.
    return reaction.split("::", 1)[0] == wanted


def register(app: App, services: Services) -> None:
    """Attach the event handlers."""

    def handle_reaction(event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        """Save (reaction_added) or unsave (reaction_removed) the article a bot post stands for."""
        if not _save_emoji_matches(str(event.get("reaction", "")), services.settings.save_emoji):
            return
        item = event.get("item") or {}
        if item.get("type") != "message":
            return
        user_id, channel_id, ts = event.get("user"), item.get("channel"), item.get("ts")
        if not (user_id and channel_id and ts):
            return
        added = event.get("type") == "reaction_added"
        now = services.clock()
        # Events arrive in any order (and lazily, on a thread pool): the event's own time decides.
        event_us = saves.event_micros(event.get("event_ts"))
        if event_us is None:
            event_us = saves.event_micros(body.get("event_time")) or int(now.timestamp() * 1e6)
        event_id = str(body.get("event_id", ""))
        reaction = saves.Reaction(user_id, channel_id, ts, not added, event_us)
        changed = services.database.write_retrying(
            lambda session: saves.record_reaction(session, event_id, reaction, now)
        )
        if changed:
            text = (
                "Saved. Find it with `/digest saved` or in the app's Home tab."
                if added
                else "Removed from your saved articles."
            )
            try:
                client.chat_postEphemeral(channel=channel_id, user=user_id, text=text)
            except SlackApiError as exc:
                # The save stands; the confirmation is a courtesy (e.g. bot not in channel).
                log.info("save confirmation not shown: %s", exc.response.get("error"))

    def handle_app_home_opened(event: dict[str, Any], client: WebClient) -> None:
        """Publish the Home tab: latest signal, the person's saves, short help."""
        if event.get("tab", "home") != "home":
            return
        user_id = str(event.get("user", ""))
        with services.database.read() as session:
            latest = get_issue(session, None)
            saved = saves.saved_articles(session, user_id, HOME_SAVED, 0)
        view = render_home(latest, saved, services.settings.save_emoji)
        client.views_publish(user_id=user_id, view=view)

    # Slack wants the HTTP answer within 3 s; the work (database, Slack API calls) comes after.
    app.event("reaction_added")(ack=ack_at_once, lazy=[handle_reaction])
    app.event("reaction_removed")(ack=ack_at_once, lazy=[handle_reaction])
    app.event("app_home_opened")(ack=ack_at_once, lazy=[handle_app_home_opened])
