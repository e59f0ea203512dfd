"""Buttons: Show more, Share in channel (lookups); Save (follower DMs); Unfollow (Home);
the choices of a 'did you mean …?' on /digest follow company."""

from __future__ import annotations

import logging
import re
from functools import partial
from typing import Any

from slack_bolt import App, BoltContext, Respond
from slack_sdk import WebClient

from bot.core import follows, saves
from bot.slack.answers import Asker
from bot.slack.chart_fallback import send_with_chart_fallback
from bot.slack.listeners.events import ack_at_once, publish_home
from bot.slack.rendering import (
    ACTION_FOLLOW_AS_TYPED,
    ACTION_FOLLOW_SAVE,
    ACTION_FOLLOW_SUGGESTED,
    ACTION_MORE,
    ACTION_SHARE,
    ACTION_UNFOLLOW,
    BUTTON_VALUE_LIMIT,
    decode_action,
    render_text,
)
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
        send_with_chart_fallback(
            lambda blocks: respond(text=message.text, blocks=blocks, replace_original=True),
            message.blocks,
        )
        return
    send_with_chart_fallback(
        lambda blocks: respond(
            text=message.text,
            blocks=blocks,
            response_type="in_channel",
            replace_original=False,
            unfurl_links=False,
            unfurl_media=False,
        ),
        message.blocks,
    )


def _number(value: object) -> int | None:
    text = str(value or "")
    return int(text) if text.isdigit() and len(text) < 19 else None


def handle_follow_save(
    services: Services,
    action: dict[str, Any],
    body: dict[str, Any],
    respond: Respond,
    context: BoltContext,
) -> None:
    """The Save button on a follower's DM: save the article, as the reaction does."""
    user_id = str((body.get("user") or {}).get("id", ""))
    article_id = _number(action.get("value"))
    now = services.clock()
    if article_id is None or not user_id:
        respond(text=render_text("That button has expired.").text, replace_original=False)
        return
    when = saves.reaction_time(action.get("action_ts"), None, now)
    saved = saves.save_article(
        services.database, Workspace.from_context(context), user_id, article_id, when, now
    )
    text = (
        "Saved. Find it with `/digest saved` or in the app's Home tab."
        if saved
        else "That article is no longer in the archive."
    )
    respond(text=render_text(text).text, replace_original=False, response_type="ephemeral")


def handle_unfollow(
    services: Services,
    action: dict[str, Any],
    body: dict[str, Any],
    client: WebClient,
    context: BoltContext,
) -> None:
    """The Unfollow button on the Home tab: remove that follow and show the tab again."""
    user_id = str((body.get("user") or {}).get("id", ""))
    follow_id = _number(action.get("value"))
    workspace = Workspace.from_context(context)
    if follow_id is not None and user_id:
        follows.unfollow_id(services.database, workspace, user_id, follow_id)
    publish_home(services, workspace, user_id, client)


def handle_follow_company(
    as_typed: bool,
    services: Services,
    action: dict[str, Any],
    body: dict[str, Any],
    respond: Respond,
    context: BoltContext,
) -> None:
    """A choice under 'did you mean …?': follow the close name, or the name as typed (it then
    waits for its first article). The name is checked again as if typed; who follows, and in
    which workspace, comes from Bolt's context, never from the button."""
    user_id = context.user_id or str((body.get("user") or {}).get("id", ""))
    value = action.get("value")
    if not user_id or not isinstance(value, str) or len(value) > BUTTON_VALUE_LIMIT:
        respond(text=render_text("That button has expired.").text, replace_original=False)
        return
    asker = Asker(user_id, "", Workspace.from_context(context))
    message = services.answers.follow_company(value, asker, as_typed=as_typed)
    respond(text=message.text, blocks=message.blocks, replace_original=True)


def register(app: App, services: Services) -> None:
    """Attach the button handlers (services bound first: Bolt injects the rest by name)."""
    # Acked at once; the lookup and the post to response_url follow in Bolt's lazy runner.
    app.action(ACTION_MORE)(ack=ack_at_once, lazy=[partial(handle_page, False, services)])
    app.action(ACTION_SHARE)(ack=ack_at_once, lazy=[partial(handle_page, True, services)])
    app.action(ACTION_FOLLOW_SAVE)(ack=ack_at_once, lazy=[partial(handle_follow_save, services)])
    app.action(ACTION_UNFOLLOW)(ack=ack_at_once, lazy=[partial(handle_unfollow, services)])
    suggested = re.compile(rf"^{ACTION_FOLLOW_SUGGESTED}_\d$")
    follow_suggested = partial(handle_follow_company, False, services)
    app.action(suggested)(ack=ack_at_once, lazy=[follow_suggested])
    follow_as_typed = partial(handle_follow_company, True, services)
    app.action(ACTION_FOLLOW_AS_TYPED)(ack=ack_at_once, lazy=[follow_as_typed])
