"""Posting to Slack for deliveries: error classes, pacing, and finding our own messages again."""

from __future__ import annotations

import http.client
import logging
import socket
import threading
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass
from http.client import RemoteDisconnected
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web import SlackResponse

from bot.slack.keepalive import KeepAliveWebClient
from bot.slack.rendering import Message

log = logging.getLogger(__name__)

# slack_sdk formats every request and response (blocks included) for its debug log whenever
# its logger's own level is unset, before the logging filters drop it: about a tenth of a
# millisecond per call, paid thousands of times a minute in a fan-out. A logger with a level
# keeps that off; the bot's own logs say what was posted where.
WEB_LOG = logging.getLogger("bot.slack.web")
WEB_LOG.setLevel(logging.INFO)

METADATA_EVENT = "engineering_digest_part"

# Errors that no retry can fix: the channel's delivery stops and its subscription is flagged.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "channel_is_archived",
        "account_inactive",
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "restricted_action",
        "team_access_not_granted",
        "ekm_access_denied",
        "no_permission",
        "org_login_required",
    }
)
# A lookup answered with these says nothing about the message: the bot may post to a public
# channel it is not in (chat:write.public) but not read it. The part stays undecided.
UNREADABLE = frozenset({"not_in_channel"})
# Errors about the payload itself: retrying the same message cannot help either.
PAYLOAD_ERRORS = frozenset(
    {
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "too_many_attachments",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "metadata_too_large",
        "no_text",
        "msg_blocks_too_long",
        "invalid_arguments",
    }
)


@dataclass(frozen=True)
class PartSearch:
    """Where to look for a part of a delivery Slack may hold: the channel's history (no parent
    yet) from `oldest` on, or the replies to `parent_ts`."""

    channel: str
    parent_ts: str | None
    delivery_id: int
    part: int
    oldest: float


class PermanentError(Exception):
    """Slack refused for a reason retries cannot fix (e.g. channel_not_found)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


# chat.update errors about one message only: it is left as it is, the rest goes on.
MESSAGE_GONE = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})


class MessageGoneError(Exception):
    """This message can no longer be edited (deleted, or too old to edit)."""


class AmbiguousError(Exception):
    """The request may or may not have reached Slack (5xx, timeout, dropped connection)."""


class NotSentError(AmbiguousError):
    """The request never reached Slack (connection refused, unknown host): nothing was posted."""


class RateLimitedError(NotSentError):
    """Slack answered 429: nothing was posted; try again after `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited for {retry_after:g}s")
        self.retry_after = retry_after


class UndecidedLookupError(AmbiguousError):
    """Slack could not be read well enough to tell whether a part was posted."""


NETWORK_ERRORS = (
    urllib.error.URLError,
    TimeoutError,
    socket.timeout,
    ConnectionError,
    http.client.HTTPException,
    OSError,
)


@dataclass
class ChannelPacer:
    """Keeps posts to one channel at least `interval` seconds apart (Slack: ~1 msg/s/channel)."""

    interval: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, channel: str) -> None:
        """Block until the channel may get its next message."""
        with self._lock:
            now = self.monotonic()
            at = max(now, self._next.get(channel, now))
            self._next[channel] = at + self.interval
        if at > now:
            self.sleep(at - now)

    def sent(self, channel: str) -> None:
        """Count the interval from when Slack answered: a request delayed in flight must not
        land less than `interval` after the one before it."""
        with self._lock:
            self._next[channel] = max(
                self._next.get(channel, 0.0), self.monotonic() + self.interval
            )

    def push_back(self, channel: str, seconds: float) -> None:
        """Delay the channel's next message (after a 429's Retry-After)."""
        with self._lock:
            self._next[channel] = max(self._next.get(channel, 0.0), self.monotonic() + seconds)


def _retry_after(error: SlackApiError) -> float:
    headers = getattr(error.response, "headers", {}) or {}
    value = headers.get("Retry-After") or headers.get("retry-after") or "1"
    try:
        return max(0.0, float(value))
    except ValueError:
        return 1.0


def _refusal(exc: SlackApiError) -> PermanentError | AmbiguousError:
    """What a failed chat.postMessage (other than a 429) means for the caller."""
    error = str(exc.response.get("error") or "")
    if error in PERMANENT_ERRORS or error in PAYLOAD_ERRORS:
        return PermanentError(error)
    if exc.response.status_code >= 500 or not error:
        return AmbiguousError(f"HTTP {exc.response.status_code}")
    return AmbiguousError(error)


def _never_connected(exc: BaseException) -> bool:
    """A refused connection or an unknown host: the request cannot have reached Slack."""
    reason = getattr(exc, "reason", exc)
    return isinstance(reason, ConnectionRefusedError | socket.gaierror)


def _is_rate_limited(error: SlackApiError) -> bool:
    return bool(error.response.status_code == 429 or error.response.get("error") == "ratelimited")


@dataclass
class SlackPoster:
    """chat.postMessage with every failure classified for the caller.

    With a pacer, posts wait their turn and 429s are waited out here (one delivery at a time,
    `python -m bot post`); without one the caller paces, and a 429 raises RateLimitedError
    (the fan-out, which paces every channel and workspace itself).
    """

    client: WebClient
    pacer: ChannelPacer | None
    max_rate_limit_waits: int = 20
    # Lookups and joins are safe to repeat, so they go through a client that retries
    # (make_lookup_client); posts never do.
    lookup_client: WebClient | None = None
    max_lookup_pages: int = 50

    def post(
        self,
        channel: str,
        message: Message,
        *,
        thread_ts: str | None,
        metadata: dict[str, Any],
    ) -> str:
        """Post one message; returns its ts. Raises PermanentError or AmbiguousError."""
        if self.pacer is None:
            return self._post_once(channel, message, thread_ts, metadata)
        for _ in range(self.max_rate_limit_waits):
            self.pacer.wait(channel)
            try:
                ts = self._post_once(channel, message, thread_ts, metadata)
            except RateLimitedError as exc:
                # A 429 is a refusal: nothing was posted, so waiting and re-sending is safe.
                log.warning("rate limited on %s; waiting %.1fs", channel, exc.retry_after)
                self.pacer.push_back(channel, exc.retry_after)
                continue
            self.pacer.sent(channel)
            return ts
        raise AmbiguousError("still rate limited")

    def _post_once(
        self, channel: str, message: Message, thread_ts: str | None, metadata: dict[str, Any]
    ) -> str:
        """One chat.postMessage; its ts. Raises RateLimitedError, PermanentError or
        AmbiguousError."""
        try:
            payload: dict[str, Any] = {
                "channel": channel,
                "text": message.text,
                "blocks": message.blocks,
                "metadata": metadata,
                "unfurl_links": False,
                "unfurl_media": False,
            }
            if thread_ts is not None:
                payload["thread_ts"] = thread_ts
            # api_call, not chat_postMessage: the wrapper only re-checks arguments this code
            # builds itself (a tenth of a millisecond a post, thousands of times a minute).
            response = self.client.api_call("chat.postMessage", json=payload)
        except SlackApiError as exc:
            if _is_rate_limited(exc):
                raise RateLimitedError(_retry_after(exc)) from None
            raise _refusal(exc) from None
        except NETWORK_ERRORS as exc:
            if _never_connected(exc):
                raise NotSentError(type(exc).__name__) from None
            raise AmbiguousError(type(exc).__name__) from None
        ts = response.get("ts")
        if not isinstance(ts, str):
            raise AmbiguousError("no ts in response")
        return ts

    def find_part(self, search: PartSearch) -> str | None:
        """The ts of a part Slack may have accepted without us hearing back, None if it is not
        there. Raises UndecidedLookupError when Slack could not be read to the end: "could not tell"
        must never be taken for "not there", or the part would be posted twice."""
        client = self.lookup_client or self.client
        method: Callable[..., SlackResponse]
        channel = search.channel
        if search.parent_ts is None:
            kwargs: dict[str, Any] = {"oldest": f"{search.oldest:.6f}"}
            method = client.conversations_history
        else:
            kwargs = {"ts": search.parent_ts}
            method = client.conversations_replies
        pages = 0
        try:
            # Iterating a SlackResponse follows next_cursor (slack_sdk's cursor pagination).
            for page in method(channel=channel, limit=200, include_all_metadata=True, **kwargs):
                pages += 1
                for msg in page.get("messages") or []:
                    if _is_part(msg, search.delivery_id, search.part):
                        return str(msg["ts"])
                if pages >= self.max_lookup_pages and _next_cursor(page):
                    raise UndecidedLookupError(f"more than {pages} pages of {channel}")
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "")
            if error in PERMANENT_ERRORS and error not in UNREADABLE:
                raise PermanentError(error) from None
            raise UndecidedLookupError(error or f"HTTP {exc.response.status_code}") from None
        except NETWORK_ERRORS as exc:
            raise UndecidedLookupError(type(exc).__name__) from None
        return None

    def update(self, channel: str, ts: str, message: Message, *, metadata: dict[str, Any]) -> None:
        """Edit a message in place (chat.update), paced like posts. Raises PermanentError (the
        channel is gone), MessageGoneError (this message cannot be edited), RateLimitedError
        (unpaced: the fan-out waits) or AmbiguousError (safe to repeat: the same content twice
        is one edit)."""
        if self.pacer is None:
            self._update_once(channel, ts, message, metadata)
            return
        for _ in range(self.max_rate_limit_waits):
            self.pacer.wait(channel)
            try:
                self._update_once(channel, ts, message, metadata)
            except RateLimitedError as exc:
                self.pacer.push_back(channel, exc.retry_after)
                continue
            self.pacer.sent(channel)
            return
        raise AmbiguousError("still rate limited")

    def _update_once(
        self, channel: str, ts: str, message: Message, metadata: dict[str, Any]
    ) -> None:
        """One chat.update."""
        try:
            self.client.chat_update(
                channel=channel, ts=ts, text=message.text, blocks=message.blocks, metadata=metadata
            )
        except SlackApiError as exc:
            if _is_rate_limited(exc):
                raise RateLimitedError(_retry_after(exc)) from None
            error = str(exc.response.get("error") or "")
            if error in MESSAGE_GONE:
                raise MessageGoneError(error) from None
            raise _refusal(exc) from None
        except NETWORK_ERRORS as exc:
            if _never_connected(exc):
                raise NotSentError(type(exc).__name__) from None
            raise AmbiguousError(type(exc).__name__) from None

    def find_fingerprint(self, channel: str, ts: str, *, parent_ts: str | None) -> str | None:
        """The content fingerprint our last edit left in a message's metadata (None: none, or
        the message is gone). Raises UndecidedLookupError when Slack could not be read."""
        client = self.lookup_client or self.client
        window: dict[str, Any] = {"oldest": ts, "latest": ts, "inclusive": True}
        method: Callable[..., SlackResponse] = client.conversations_history
        if parent_ts is not None and parent_ts != ts:
            method, window = client.conversations_replies, {"ts": parent_ts, **window}
        pages = 0
        try:
            for page in method(channel=channel, limit=200, include_all_metadata=True, **window):
                pages += 1
                for msg in page.get("messages") or []:
                    if str(msg.get("ts")) == ts:
                        payload = (msg.get("metadata") or {}).get("event_payload") or {}
                        found = payload.get("fingerprint")
                        return str(found) if found else None
                if pages >= self.max_lookup_pages and _next_cursor(page):
                    raise UndecidedLookupError(f"more than {pages} pages of {channel}")
        except SlackApiError as exc:
            raise UndecidedLookupError(
                str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
            ) from None
        except NETWORK_ERRORS as exc:
            raise UndecidedLookupError(type(exc).__name__) from None
        return None

    def join(self, channel: str) -> str | None:
        """Join a public channel before posting (history and reactions need membership);
        returns Slack's error, if any (private channels answer with one: the bot is invited)."""
        client = self.lookup_client or self.client
        try:
            client.conversations_join(channel=channel)
        except SlackApiError as exc:
            return str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
        except NETWORK_ERRORS as exc:
            return type(exc).__name__
        return None


def _next_cursor(page: Any) -> str:
    return str((page.get("response_metadata") or {}).get("next_cursor") or "")


def _is_part(msg: dict[str, Any], delivery_id: int, part: int) -> bool:
    meta = msg.get("metadata") or {}
    payload = meta.get("event_payload") or {}
    return bool(
        meta.get("event_type") == METADATA_EVENT
        and payload.get("delivery_id") == delivery_id
        and payload.get("part") == part
    )


def metadata_for(
    delivery_id: int, part: int, issue: str, fingerprint: str | None = None
) -> dict[str, Any]:
    """Message metadata that lets us recognise our own post (and our last edit) later."""
    payload: dict[str, Any] = {"delivery_id": delivery_id, "part": part, "issue": issue}
    if fingerprint:
        payload["fingerprint"] = fingerprint
    return {"event_type": METADATA_EVENT, "event_payload": payload}


def make_web_client(token: str, base_url: str | None, timeout: int = 15) -> WebClient:
    """A WebClient for the bot; no automatic retries (they could re-send an accepted post)."""
    kwargs: dict[str, Any] = {
        "token": token,
        "timeout": timeout,
        "retry_handlers": [],
        "logger": WEB_LOG,
    }
    if base_url:
        kwargs["base_url"] = base_url
    return KeepAliveWebClient(**kwargs)


Sleep = Callable[[float], None]


class _BackoffMixin(RetryHandler):
    sleep: Sleep

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        """Wait (injectable sleep), then let the client try again."""
        state.next_attempt_requested = True
        self.sleep(self._delay(state, response))
        state.increment_current_attempt()

    def _delay(self, state: RetryState, response: HttpResponse | None) -> float:
        """Exponential backoff."""
        return float(self.interval_calculator.calculate_sleep_duration(state.current_attempt))


class _RateLimitRetry(_BackoffMixin, RateLimitErrorRetryHandler):
    """slack_sdk's 429 handler (waits Retry-After), with the sleep injectable for tests."""

    def __init__(self, max_retry_count: int, sleep: Sleep) -> None:
        RateLimitErrorRetryHandler.__init__(self, max_retry_count=max_retry_count)
        self.sleep = sleep

    def _delay(self, state: RetryState, response: HttpResponse | None) -> float:
        """What Slack asked for in Retry-After (1 s when it did not say)."""
        headers = {k.lower(): v for k, v in (response.headers if response else {}).items()}
        try:
            delay = float((headers.get("retry-after") or ["1"])[0])
        except ValueError:
            delay = 1.0
        return max(0.0, delay)


class _ServerErrorRetry(_BackoffMixin, ServerErrorRetryHandler):
    """slack_sdk's 500/503 handler with an injectable sleep."""

    def __init__(self, max_retry_count: int, sleep: Sleep) -> None:
        ServerErrorRetryHandler.__init__(self, max_retry_count=max_retry_count)
        self.sleep = sleep


class _ConnectionRetry(_BackoffMixin, ConnectionErrorRetryHandler):
    """slack_sdk's connection-error handler, also for timeouts, with an injectable sleep."""

    def __init__(self, max_retry_count: int, sleep: Sleep) -> None:
        ConnectionErrorRetryHandler.__init__(
            self,
            max_retry_count=max_retry_count,
            error_types=[URLError, ConnectionError, RemoteDisconnected, TimeoutError],
        )
        self.sleep = sleep


def make_lookup_client(
    token: str,
    base_url: str | None,
    timeout: int = 15,
    *,
    retries: int = 4,
    sleep: Sleep = time.sleep,
) -> WebClient:
    """A WebClient for reads and joins (safe to repeat): retries 429s, 5xx and timeouts."""
    handlers: list[RetryHandler] = [
        _RateLimitRetry(retries, sleep),
        _ServerErrorRetry(retries, sleep),
        _ConnectionRetry(min(retries, 2), sleep),
    ]
    kwargs: dict[str, Any] = {
        "token": token,
        "timeout": timeout,
        "retry_handlers": handlers,
        "logger": WEB_LOG,
    }
    if base_url:
        kwargs["base_url"] = base_url
    return KeepAliveWebClient(**kwargs)
