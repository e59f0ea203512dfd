"""The /digest slash command."""

from __future__ import annotations

import logging
from concurrent.futures import TimeoutError as FutureTimeout
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.core.grammar import parse_request
from bot.slack.answers import Asker
from bot.slack.chart_fallback import has_chart, send_with_chart_fallback
from bot.slack.command_text import conversation_of, plain_text
from bot.slack.people import slack_admin_check
from bot.slack.rendering import Message, render_text
from bot.slack.request_scope import after_answer, seconds_left
from bot.slack.request_token import with_request_token
from bot.slack.services import INLINE_ANSWER_SECONDS, Services
from bot.workspace import Workspace

log = logging.getLogger(__name__)


def handle_digest(
    services: Services,
    ack: Ack,
    command: dict[str, Any],
    respond: Respond,
    context: BoltContext,
    client: WebClient,
) -> None:
    """Answer in the HTTP response when fast, else ack at once and follow up via respond."""
    request = parse_request(plain_text(command.get("text")))
    asker = Asker(
        command.get("user_id", ""),
        command.get("channel_id", ""),
        Workspace.from_context(context),
        slack_admin_check(client),
        conversation_of(command.get("channel_id", ""), command.get("channel_name", "")),
    )
    # Lookups built once per process use the asking workspace's token (bot.slack.request_token).
    work = with_request_token(context.bot_token)
    future = services.executor.submit(work.run, services.answers.answer, request, asker)
    try:
        # Slack's 3 s run from the request's arrival, not from this listener's start.
        message = future.result(timeout=seconds_left(INLINE_ANSWER_SECONDS))
    except FutureTimeout:
        ack(response_type="ephemeral", text="Looking that up…")
        future.add_done_callback(lambda done: _follow_up(done.result, respond))
        return
    except Exception:
        log.exception("/digest %s failed", request.verb)
        message = render_text("Sorry, that lookup failed. Please try again in a moment.")
    if has_chart(message.blocks):
        # Slack's refusal of a chart (invalid_blocks) cannot be seen in the HTTP answer: the
        # answer goes to response_url right after it, where a refusal is answered.
        ack()
        after_answer(partial(_respond, respond, message))
        return
    ack(response_type="ephemeral", text=message.text, blocks=message.blocks)


def _follow_up(result: Any, respond: Respond) -> None:
    try:
        message: Message = result()
    except Exception:
        log.exception("/digest follow-up failed")
        message = render_text("Sorry, that lookup failed. Please try again in a moment.")
    _respond(respond, message)


def _respond(respond: Respond, message: Message) -> None:
    """An ephemeral answer via response_url, sent again without its chart if Slack refuses it."""
    send_with_chart_fallback(
        lambda blocks: respond(response_type="ephemeral", text=message.text, blocks=blocks),
        message.blocks,
    )


def register(app: App, services: Services) -> None:
    """Attach /digest (services bound first: Bolt injects the rest by name)."""
    app.command("/digest")(partial(handle_digest, services))
