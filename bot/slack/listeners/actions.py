"""Buttons on /digest answers: Show more, Share in channel."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from slack_bolt import App, Respond

from bot.slack.listeners.events import ack_at_once
from bot.slack.rendering import ACTION_MORE, ACTION_SHARE, decode_action, render_text
from bot.slack.services import Services

log = logging.getLogger(__name__)


def handle_more(
    services: Services, action: dict[str, Any], body: dict[str, Any], respond: Respond
) -> None:
    """Replace the ephemeral answer with its next page."""
    decoded = decode_action(str(action.get("value", "")))
    user_id = (body.get("user") or {}).get("id", "")
    if decoded is None:
        respond(text=render_text("That button has expired.").text, replace_original=False)
        return
    message = services.answers.page(decoded, user_id, shareable=True)
    respond(text=message.text, blocks=message.blocks, replace_original=True)


def handle_share(
    services: Services, action: dict[str, Any], body: dict[str, Any], respond: Respond
) -> None:
    """Post the answer for everyone in the channel."""
    decoded = decode_action(str(action.get("value", "")))
    user_id = (body.get("user") or {}).get("id", "")
    if decoded is None or decoded.kind == "saved":
        respond(text=render_text("That cannot be shared.").text, replace_original=False)
        return
    message = services.answers.page(decoded, user_id, shareable=False)
    respond(
        text=message.text,
        blocks=message.blocks,
        response_type="in_channel",
        replace_original=False,
        unfurl_links=False,
        unfurl_media=False,
    )


def register(app: App, services: Services) -> None:
    """Attach the button handlers (services bound first: Bolt injects the rest by name)."""
    # Acked at once; the lookup and the post to response_url follow in Bolt's lazy runner.
    app.action(ACTION_MORE)(ack=ack_at_once, lazy=[partial(handle_more, services)])
    app.action(ACTION_SHARE)(ack=ack_at_once, lazy=[partial(handle_share, services)])
