"""Buttons on /digest answers: Show more, Share in channel."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from slack_bolt import App, Respond

from bot.slack.answers import Asker
from bot.slack.listeners.events import ack_at_once
from bot.slack.rendering import ACTION_MORE, ACTION_SHARE, decode_action, render_text
from bot.slack.services import Services
from bot.workspace import Workspace

log = logging.getLogger(__name__)


def _asker(body: dict[str, Any], context: Any) -> Asker:
    """Who clicked, where, in which workspace (Bolt's context)."""
    user_id = str((body.get("user") or {}).get("id", ""))
    channel_id = str((body.get("channel") or {}).get("id", ""))
    return Asker(user_id, channel_id, Workspace.from_context(context))


def handle_page(
    share: bool,
    services: Services,
    action: dict[str, Any],
    body: dict[str, Any],
    respond: Respond,
    context: Any,
) -> None:
    """Show more (replace the ephemeral answer with its next page) or Share in channel (post
    the same answer for everyone)."""
    decoded = decode_action(str(action.get("value", "")))
    if decoded is None or (share and decoded.kind == "saved"):
        refusal = "That cannot be shared." if share else "That button has expired."
        respond(text=render_text(refusal).text, replace_original=False)
        return
    asker = _asker(body, context)
    message = services.answers.page(decoded, asker, shareable=not share)
    if not share:
        respond(text=message.text, blocks=message.blocks, replace_original=True)
        return
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
    app.action(ACTION_MORE)(ack=ack_at_once, lazy=[partial(handle_page, False, services)])
    app.action(ACTION_SHARE)(ack=ack_at_once, lazy=[partial(handle_page, True, services)])
