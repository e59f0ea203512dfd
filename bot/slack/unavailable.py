"""What Slack is answered when a request cannot be served (the database is down, frozen or
locked, or a listener failed): never HTTP 500, never silence past Slack's 3 s.

An event is answered 503 while the database is unavailable, so Slack delivers it again later
(saves are idempotent on event_id); people get a short apology.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

APOLOGY = "Sorry, the digest cannot reach its database right now. Please try again in a moment."
FAILED = "Sorry, that did not work. Please try again in a moment."


@dataclass(frozen=True)
class Answer:
    """An HTTP answer to Slack: status, content type, body."""

    status: int
    content_type: str
    body: str

    @property
    def status_line(self) -> str:
        """WSGI's status line."""
        return {200: "200 OK", 503: "503 Service Unavailable"}.get(self.status, str(self.status))


def database_unavailable(error: BaseException) -> bool:
    """Whether an error means the database could not be reached, in time or at all."""
    if isinstance(error, PoolTimeout | OperationalError):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def kind_of(body: dict[str, Any]) -> str:
    """'command', 'event', or 'interactive' (buttons, shortcuts, views)."""
    if "command" in body:
        return "command"
    if body.get("type") == "event_callback":
        return "event"
    return "interactive"


def answer(body: dict[str, Any], *, retry: bool) -> Answer:
    """The answer when a request was not served: events 503 when `retry` (Slack delivers them
    again), else 200; commands an ephemeral apology; clicks 200 (the apology goes by
    response_url)."""
    kind = kind_of(body)
    if kind == "event":
        if retry:
            return Answer(503, "text/plain", "temporarily unavailable, deliver again later")
        return Answer(200, "text/plain", "")
    if kind == "command":
        text = APOLOGY if retry else FAILED
        return Answer(
            200, "application/json", json.dumps({"response_type": "ephemeral", "text": text})
        )
    return Answer(200, "text/plain", "")


def parse_body(raw: bytes) -> dict[str, Any]:
    """A request body as Bolt reads it (JSON, a form, or a form's JSON `payload`); {} if not."""
    try:
        text = raw.decode()
        if text.startswith("{"):
            parsed = json.loads(text)
            return parsed if isinstance(parsed, dict) else {}
        form = dict(urllib.parse.parse_qsl(text, keep_blank_values=True))
        if "payload" in form:
            payload = json.loads(form["payload"])
            return payload if isinstance(payload, dict) else {}
        return form
    except (UnicodeDecodeError, ValueError, RecursionError):
        return {}
