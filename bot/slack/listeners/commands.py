"""The /digest slash command."""

from __future__ import annotations

import logging
from concurrent.futures import TimeoutError as FutureTimeout
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.core import exports
from bot.core.grammar import parse_request
from bot.slack.answers import Asker
from bot.slack.chart_fallback import has_chart, send_with_chart_fallback
from bot.slack.command_text import conversation_of, plain_text
from bot.slack.file_uploads import failure_text, send_to_dm
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


# Set on the request's context by the ack: what the export after it sends (formats), or that
# the ack already said all there is to say (nothing saved, bad arguments, database down).
EXPORT_FORMATS = "digest_export_formats"
NO_DATE_RANGE = "The export holds all your saved articles: leave out the date range."
COULD_NOT_READ = "Sorry, your saved articles could not be read. Please try again in a moment."


def is_export(command: dict[str, Any]) -> bool:
    """Whether a /digest is `saved export …` (the export's own listener answers it)."""
    request = parse_request(plain_text(command.get("text")))
    words = request.argument.split()
    return request.verb == "saved" and bool(words) and words[0].casefold() == "export"


def handle_export(
    services: Services, ack: Ack, command: dict[str, Any], context: BoltContext
) -> None:
    """`/digest saved export [csv|md]`: say at once how many articles go to the DM (or why
    none); the files follow after the ack (`send_export`)."""
    request = parse_request(plain_text(command.get("text")))
    try:
        formats = exports.parse_formats(request.argument)
    except ValueError as exc:
        ack(response_type="ephemeral", text=str(exc))
        return
    if request.dates is not None or request.hint is not None:
        ack(response_type="ephemeral", text=NO_DATE_RANGE)
        return
    future = services.executor.submit(
        exports.count_saved,
        services.database,
        Workspace.from_context(context),
        str(command.get("user_id", "")),
    )
    try:
        count: int | None = future.result(timeout=seconds_left(INLINE_ANSWER_SECONDS))
    except FutureTimeout:
        count = None  # the export after the ack counts them again
    except Exception as exc:
        log.warning("/digest saved export: counting failed: %s", type(exc).__name__)
        ack(response_type="ephemeral", text=COULD_NOT_READ)
        return
    if count == 0:
        ack(response_type="ephemeral", text=exports.NOTHING_SAVED)
        return
    context[EXPORT_FORMATS] = list(formats)
    text = exports.sending_text(count) if count else "Sending your saved articles in a DM…"
    ack(response_type="ephemeral", text=text)


def send_export(
    services: Services,
    command: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    respond: Respond,
) -> None:
    """After the ack: the person's saves as files in the app's DM with them; a failure is one
    line to the person and one in the log."""
    formats = context.get(EXPORT_FORMATS)
    if not formats:
        return
    user_id = str(command.get("user_id", ""))
    try:
        articles = exports.saved_articles(
            services.database, Workspace.from_context(context), user_id
        )
    except Exception as exc:
        log.warning("/digest saved export: reading saves failed: %s", type(exc).__name__)
        respond(response_type="ephemeral", replace_original=False, text=COULD_NOT_READ)
        return
    if not articles:  # all unsaved since the ack counted them
        respond(response_type="ephemeral", replace_original=False, text=exports.NOTHING_SAVED)
        return
    chosen = tuple(f for f in exports.FORMATS if f in formats)
    files = exports.export_files(articles, chosen)
    comment = exports.uploaded_comment(len(articles), chosen)
    error = send_to_dm(client, user_id, files, comment)
    if error is not None:
        respond(response_type="ephemeral", replace_original=False, text=failure_text(error))


def register(app: App, services: Services) -> None:
    """Attach /digest (services bound first: Bolt injects the rest by name)."""
    # First: the export acks at once and uploads after, in Bolt's lazy runner.
    app.command("/digest", matchers=[is_export])(
        ack=partial(handle_export, services), lazy=[partial(send_export, services)]
    )
    app.command("/digest")(partial(handle_digest, services))
