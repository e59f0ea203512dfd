"""What one HTTP request from Slack carries through Bolt: when it arrived (Slack's 3 s count
from there, not from when a listener starts) and work to do once its answer has been sent."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

# A post to response_url after the answer: Slack's hooks answer in milliseconds; a slow or
# dropped one is given up after this long, in one log line.
RESPONSE_URL_TIMEOUT = 3.0


@dataclass
class RequestScope:
    """One request: its arrival (time.monotonic()) and what runs after its answer."""

    arrival: float
    after: list[Callable[[], None]] = field(default_factory=list)
    answered: bool = False  # the answer went (late work then runs at once, in a thread)

    def seconds_left(self, budget: float) -> float:
        """What is left of `budget` seconds counted from the arrival (never negative)."""
        return max(0.0, budget - (time.monotonic() - self.arrival))

    def run_after(self) -> None:
        """Run the after-answer work (each bounded; a failure is logged, never raised)."""
        self.answered = True
        work, self.after = self.after, []
        for job in work:
            try:
                job()
            except Exception as exc:  # one line: the answer itself has gone out already
                log.warning("after-answer work failed: %s", type(exc).__name__)


_SCOPE: ContextVar[RequestScope | None] = ContextVar("slack_request_scope", default=None)


def enter(arrival: float) -> RequestScope:
    """Start a request's scope in the current context (the front does, per request)."""
    scope = RequestScope(arrival)
    _SCOPE.set(scope)
    return scope


def seconds_left(budget: float) -> float:
    """What is left of `budget` since the current request arrived (all of it outside one)."""
    scope = _SCOPE.get()
    return budget if scope is None else scope.seconds_left(budget)


def after_answer(job: Callable[[], None]) -> None:
    """Run `job` once the current request's answer has been sent (now, in a thread, outside a
    request: Socket Mode and tests have no HTTP answer to wait for)."""
    scope = _SCOPE.get()
    if scope is not None and not scope.answered:
        scope.after.append(job)
        return
    threading.Thread(target=job, name="after-answer", daemon=True).start()


def post_to_response_url(url: str, message: str) -> None:
    """An ephemeral message via response_url, bounded; a failure is one log line."""
    body = json.dumps(
        {"text": message, "response_type": "ephemeral", "replace_original": False}
    ).encode()
    request = urllib.request.Request(  # noqa: S310  Slack's hooks URL from a signed request
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=RESPONSE_URL_TIMEOUT):  # noqa: S310
            pass
    except (OSError, ValueError) as exc:
        log.warning("response_url post failed: %s", type(exc).__name__)


def respond_after_ack(url: str, message: str) -> None:
    """Post `message` to response_url after the HTTP answer has been sent."""
    after_answer(lambda: post_to_response_url(url, message))
