"""A message with a chart that Slack refuses (`invalid_blocks`) goes again without the chart.

Charts are new in Block Kit (2026-06) and a workspace or client may refuse one that passes our
own checks (bot.slack.charts.problems). Every message with a chart carries the same figures as
text, so the message without its chart loses nothing. Slack posts nothing for a refused
message, so sending it again still sends it exactly once. The refusal is logged once per
process: it says something about Slack, not about each message.

One rule for every sender: `send_with_chart_fallback(send, blocks)` for a Web API call
(chat.postMessage, chat.postEphemeral, chat.update, views.publish: SlackApiError) or a post to
a response_url (Bolt's `respond`: a WebhookResponse), and the async twin for async clients.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookResponse

from bot.slack.charts import is_chart, without_charts

log = logging.getLogger(__name__)

REFUSAL = "invalid_blocks"
Blocks = list[dict[str, Any]]
R = TypeVar("R")

_warned = False
_warn_lock = threading.Lock()


def has_chart(blocks: Sequence[dict[str, Any]]) -> bool:
    """Whether any block is a chart."""
    return any(is_chart(block) for block in blocks)


def is_refusal(outcome: object) -> bool:
    """Whether Slack refused the blocks: a SlackApiError or a response_url answer (HTTP 4xx,
    the error as JSON or as plain text) saying invalid_blocks."""
    if isinstance(outcome, SlackApiError):
        return bool(outcome.response.get("error") == REFUSAL)
    if isinstance(outcome, WebhookResponse):
        if outcome.status_code < 400:
            return False
        body = (outcome.body or "").strip()
        try:
            parsed = json.loads(body)
        except ValueError:
            return body == REFUSAL
        return isinstance(parsed, dict) and parsed.get("error") == REFUSAL
    return False


def note_refusal() -> None:
    """One WARNING per process that Slack refused a chart (the rest are left out quietly)."""
    global _warned
    with _warn_lock:
        if _warned:
            return
        _warned = True
    log.warning(
        "Slack refused a chart block (%s): messages go without their charts (the figures stay "
        "as text)",
        REFUSAL,
    )


def send_with_chart_fallback(send: Callable[[Blocks], R], blocks: Sequence[dict[str, Any]]) -> R:
    """`send(blocks)`; if Slack answers invalid_blocks and a block is a chart, `send` once more
    with the charts left out and return that answer. Other errors pass through unchanged."""
    charted = has_chart(blocks)
    try:
        result = send(list(blocks))
    except SlackApiError as exc:
        if not (charted and is_refusal(exc)):
            raise
        note_refusal()
        return send(without_charts(blocks))
    if charted and is_refusal(result):
        note_refusal()
        return send(without_charts(blocks))
    return result


async def send_with_chart_fallback_async(
    send: Callable[[Blocks], Awaitable[R]], blocks: Sequence[dict[str, Any]]
) -> R:
    """`send_with_chart_fallback` for an async sender (AsyncWebClient, AsyncWebhookClient)."""
    charted = has_chart(blocks)
    try:
        result = await send(list(blocks))
    except SlackApiError as exc:
        if not (charted and is_refusal(exc)):
            raise
        note_refusal()
        return await send(without_charts(blocks))
    if charted and is_refusal(result):
        note_refusal()
        return await send(without_charts(blocks))
    return result
