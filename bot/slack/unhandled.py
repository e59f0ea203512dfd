"""Requests no listener is for: answered 200 and ignored, so Slack neither retries them nor,
after an hour of failed deliveries, turns the app's event subscriptions off."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from slack_bolt.response import BoltResponse

log = logging.getLogger(__name__)


def _rate_limited_minute(body: dict[str, Any]) -> str:
    """The minute Slack started dropping events, from either shape of app_rate_limited."""
    event = body.get("event")
    minute: Any = body.get("minute_rate_limited")
    if minute is None and isinstance(event, dict):
        minute = event.get("minute_rate_limited")
    try:
        seconds = int(minute)
        when = dt.datetime.fromtimestamp(seconds, dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return "an unknown minute"
    return f"{when:%Y-%m-%d %H:%M} UTC ({seconds})"


def _kind(body: dict[str, Any]) -> str:
    """The request's kind: the event type inside an event_callback, else the body's type."""
    event = body.get("event")
    kind = event.get("type") if isinstance(event, dict) else None
    return str(kind or body.get("type") or body.get("command") or "?")


def ignore_unhandled(body: dict[str, Any]) -> BoltResponse:
    """HTTP 200 with an empty body; `app_rate_limited` is worth one warning line."""
    kind = _kind(body)
    if kind == "app_rate_limited":
        log.warning(
            "app_rate_limited: Slack drops this app's events in team %.20s since %s until "
            "they fall under 30,000 an hour",
            body.get("team_id") or "?",
            _rate_limited_minute(body),
        )
    else:
        log.debug("ignored %.80s: no listener for it", kind)
    return BoltResponse(status=200, body="")
