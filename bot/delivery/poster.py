"""Posting to Slack for every kind of message (channel threads, follower DMs): error classes,
and finding our own messages again.

Every call goes through slack_sdk's `AsyncWebClient`; posts are never retried by the client
(a retry could post twice), lookups and joins are (they are safe to repeat).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler, default_interval_calculator
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.pacer import Pacer
from bot.slack.chart_fallback import send_with_chart_fallback_async
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


# The person cannot be sent a DM, whatever we retry: they left, were deactivated, or turned the
# app's messages off. The follower is stopped (and shown to operators).
FOLLOWER_GONE = frozenset(
    {
        "user_not_found",
        "account_inactive",
        "user_disabled",
        "cannot_dm_bot",
        "user_not_visible",
        "messages_tab_disabled",
        "channel_not_found",
        "is_archived",
        "not_in_channel",
    }
)
METADATA_EVENT_DM = "engineering_digest_follow"
MEMBERS_CACHE_SECONDS = 300.0
MAX_MEMBER_PAGES = 20


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


class FollowerGoneError(PermanentError):
    """The person cannot be sent DMs any more."""


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


NETWORK_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)
# A page of history is 200 messages: a lookup reads at most this many before it says it cannot
# tell (a busy channel since the post; "could not tell" is never "not there").
MAX_LOOKUP_PAGES = 50


def ChannelPacer(interval: float = 1.0) -> Pacer:  # noqa: N802  the name `post` has always used
    """A poster's own pacing for one sender: each channel `interval` apart, no workspace cap."""
    return Pacer(interval, None)


def retry_after_seconds(error: SlackApiError) -> float:
    """The seconds a 429 asks us to wait."""
    headers = getattr(error.response, "headers", {}) or {}
    return _seconds(headers.get("Retry-After") or headers.get("retry-after"))


def _seconds(header: Any) -> float:
    """A Retry-After header's seconds (one when it is missing or unreadable)."""
    if isinstance(header, list):
        header = header[0] if header else None
    try:
        return max(0.0, float(header or 1))
    except ValueError:
        return 1.0


def refusal(exc: SlackApiError) -> PermanentError | AmbiguousError:
    """What a failed chat.postMessage (other than a 429) means for the caller."""
    error = str(exc.response.get("error") or "")
    if error in PERMANENT_ERRORS or error in PAYLOAD_ERRORS:
        return PermanentError(error)
    if exc.response.status_code >= 500 or not error:
        return AmbiguousError(f"HTTP {exc.response.status_code}")
    return AmbiguousError(error)


def dm_refusal(exc: SlackApiError) -> PermanentError | AmbiguousError:
    """What a failed DM (other than a 429) means: the person is gone, the message is refused,
    or Slack refused the workspace's token or scope, which is not the person's fault: then
    nothing was sent, the DM waits and the follower stays."""
    error = str(exc.response.get("error") or "")
    if error in FOLLOWER_GONE:
        return FollowerGoneError(error)
    if error in PAYLOAD_ERRORS:
        return PermanentError(error)
    if exc.response.status_code >= 500 or not error:
        return AmbiguousError(f"HTTP {exc.response.status_code}")
    return NotSentError(error)


def never_connected(exc: BaseException) -> bool:
    """A refused connection or an unknown host: the request cannot have reached Slack."""
    return isinstance(exc, aiohttp.ClientConnectorError | ConnectionRefusedError)


def is_rate_limited(error: SlackApiError) -> bool:
    """Whether Slack answered 429 (nothing was done)."""
    return bool(error.response.status_code == 429 or error.response.get("error") == "ratelimited")


def unsent_or_ambiguous(exc: BaseException) -> NotSentError | AmbiguousError:
    """A network failure: surely not sent (never connected), or maybe sent."""
    name = type(exc).__name__
    return NotSentError(name) if never_connected(exc) else AmbiguousError(name)


async def find_message(
    client: AsyncWebClient,
    channel: str,
    matches: Callable[[dict[str, Any]], bool],
    *,
    parent_ts: str | None = None,
    window: dict[str, Any] | None = None,
    max_pages: int = MAX_LOOKUP_PAGES,
) -> dict[str, Any] | None:
    """The first message of a channel's history (or of `parent_ts`'s replies) that `matches`;
    None only when Slack surely has none. Raises UndecidedLookupError when Slack could not be
    read to the end (an error, or more than `max_pages` pages): "could not tell" must never be
    taken for "not there", or a message would be posted twice. Slack's error code is the
    UndecidedLookupError's message."""
    kwargs: dict[str, Any] = dict(window or {})
    call: Callable[..., Awaitable[Any]] = client.conversations_history
    if parent_ts is not None:
        call, kwargs["ts"] = client.conversations_replies, parent_ts
    pages = 0
    try:
        # Iterating a response follows next_cursor (slack_sdk's cursor pagination).
        async for page in await call(
            channel=channel, limit=200, include_all_metadata=True, **kwargs
        ):
            pages += 1
            for msg in page.get("messages") or []:
                if matches(msg):
                    return dict(msg)
            if pages >= max_pages and _next_cursor(page):
                raise UndecidedLookupError(f"more than {pages} pages of {channel}")
    except SlackApiError as exc:
        raise UndecidedLookupError(
            str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
        ) from None
    except NETWORK_ERRORS as exc:
        raise UndecidedLookupError(type(exc).__name__) from None
    return None


@dataclass
class SlackPoster:
    """One workspace's Slack calls, channel threads and follower DMs, every failure classified.

    Posts raise RateLimitedError on a 429 (the engine's Pacer waits it out); `pacer` is the
    pace a sender that has none of its own keeps with this poster (`post`, tests).
    """

    client: AsyncWebClient
    pacer: Pacer | None = None
    # Lookups and joins are safe to repeat, so they go through a client that retries
    # (make_lookup_client); posts never do.
    lookup_client: AsyncWebClient | None = None
    max_lookup_pages: int = MAX_LOOKUP_PAGES
    clock: Callable[[], float] = time.monotonic  # for the channel members cached a while
    _members: dict[str, tuple[float, frozenset[str] | None]] = field(default_factory=dict)

    @property
    def reader(self) -> AsyncWebClient:
        """The client for calls that are safe to repeat."""
        return self.lookup_client or self.client

    async def post(
        self,
        channel: str,
        message: Message,
        *,
        thread_ts: str | None,
        metadata: dict[str, Any],
    ) -> str:
        """One chat.postMessage; its ts. Raises RateLimitedError, NotSentError, PermanentError
        or AmbiguousError."""
        response = await self._post(channel, message, thread_ts, metadata, refusal)
        return _ts(response)

    async def post_dm(
        self, user_id: str, message: Message, metadata: dict[str, Any]
    ) -> tuple[str, str]:
        """A DM to the person (channel = their user id); (DM channel, ts). Raises as `post`, or
        FollowerGoneError when the person cannot be messaged."""
        response = await self._post(user_id, message, None, metadata, dm_refusal)
        channel = response.get("channel")
        return (channel if isinstance(channel, str) else user_id), _ts(response)

    async def _post(
        self,
        channel: str,
        message: Message,
        thread_ts: str | None,
        metadata: dict[str, Any],
        refused: Callable[[SlackApiError], PermanentError | AmbiguousError],
    ) -> Any:
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

        async def send(blocks: list[dict[str, Any]]) -> Any:
            # api_call, not chat_postMessage: the wrapper only re-checks arguments this code
            # builds itself (a tenth of a millisecond a post, thousands of times a minute).
            return await self.client.api_call("chat.postMessage", json=payload | {"blocks": blocks})

        try:
            # A chart Slack refuses (invalid_blocks) posted nothing: the same message goes
            # again without it, under the same in-flight mark and metadata (still once).
            return await send_with_chart_fallback_async(send, message.blocks)
        except SlackApiError as exc:
            if is_rate_limited(exc):
                raise RateLimitedError(retry_after_seconds(exc)) from None
            raise refused(exc) from None
        except NETWORK_ERRORS as exc:
            raise unsent_or_ambiguous(exc) from None

    async def find_part(self, search: PartSearch) -> str | None:
        """The ts of a part Slack may have accepted without us hearing back, None if it is not
        there. Raises UndecidedLookupError when Slack could not be read to the end, and
        PermanentError when the channel is gone for good."""

        def is_part(msg: dict[str, Any]) -> bool:
            return _is_part(msg, search.delivery_id, search.part)

        window = {} if search.parent_ts else {"oldest": f"{search.oldest:.6f}"}
        try:
            found = await find_message(
                self.reader,
                search.channel,
                is_part,
                parent_ts=search.parent_ts,
                window=window,
                max_pages=self.max_lookup_pages,
            )
        except UndecidedLookupError as exc:
            error = str(exc)
            if error in PERMANENT_ERRORS and error not in UNREADABLE:
                raise PermanentError(error) from None
            raise
        return None if found is None else str(found["ts"])

    async def update(
        self, channel: str, ts: str, message: Message, *, metadata: dict[str, Any]
    ) -> None:
        """Edit a message in place (chat.update). Raises PermanentError (the channel is gone),
        MessageGoneError (this message cannot be edited), RateLimitedError or AmbiguousError
        (safe to repeat: the same content twice is one edit)."""

        async def send(blocks: list[dict[str, Any]]) -> Any:
            return await self.client.chat_update(
                channel=channel, ts=ts, text=message.text, blocks=blocks, metadata=metadata
            )

        try:
            await send_with_chart_fallback_async(send, message.blocks)
        except SlackApiError as exc:
            if is_rate_limited(exc):
                raise RateLimitedError(retry_after_seconds(exc)) from None
            error = str(exc.response.get("error") or "")
            if error in MESSAGE_GONE:
                raise MessageGoneError(error) from None
            raise refusal(exc) from None
        except NETWORK_ERRORS as exc:
            raise unsent_or_ambiguous(exc) from None

    async def find_fingerprint(self, channel: str, ts: str, *, parent_ts: str | None) -> str | None:
        """The content fingerprint our last edit left in a message's metadata (None: none, or
        the message is gone). Raises UndecidedLookupError when Slack could not be read."""
        window: dict[str, Any] = {"oldest": ts, "latest": ts, "inclusive": True}
        found = await find_message(
            self.reader,
            channel,
            lambda msg: str(msg.get("ts")) == ts,
            parent_ts=parent_ts if parent_ts is not None and parent_ts != ts else None,
            window=window,
            max_pages=self.max_lookup_pages,
        )
        if found is None:
            return None
        payload = (found.get("metadata") or {}).get("event_payload") or {}
        fingerprint = payload.get("fingerprint")
        return str(fingerprint) if fingerprint else None

    async def permalink(self, channel: str, ts: str) -> str | None:
        """A message's URL (chat.getPermalink, safe to repeat); None when Slack gives none
        (the message is gone, or Slack could not be reached): it is then shown unlinked."""
        try:
            response = await self.reader.chat_getPermalink(channel=channel, message_ts=ts)
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            log.info("chat.getPermalink %s %s: %s", channel, ts, type(exc).__name__)
            return None
        link = response.get("permalink")
        return link if isinstance(link, str) and link.startswith("https://") else None

    async def join(self, channel: str) -> str | None:
        """Join a public channel before posting (history and reactions need membership);
        returns Slack's error, if any (private channels answer with one: the bot is invited)."""
        try:
            await self.reader.conversations_join(channel=channel)
        except SlackApiError as exc:
            return str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
        except NETWORK_ERRORS as exc:
            return type(exc).__name__
        return None

    async def open_dm(self, user_id: str) -> str:
        """The DM channel with the person (conversations.open). Raises FollowerGoneError, or
        UndecidedLookupError when Slack could not say."""
        try:
            response = await self.reader.conversations_open(users=user_id, return_im=False)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "")
            if error in FOLLOWER_GONE:
                raise FollowerGoneError(error) from None
            raise UndecidedLookupError(error) from None
        except NETWORK_ERRORS as exc:
            raise UndecidedLookupError(type(exc).__name__) from None
        channel = (response.get("channel") or {}).get("id")
        if not isinstance(channel, str):
            raise UndecidedLookupError("no channel in conversations.open")
        return channel

    async def find_dm(self, channel: str, message_id: int, oldest: float) -> str | None:
        """The ts of a follower DM if Slack has it, None if it surely does not; raises
        UndecidedLookupError when the history could not be read to the end."""

        def is_dm(msg: dict[str, Any]) -> bool:
            meta = msg.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            return bool(
                meta.get("event_type") == METADATA_EVENT_DM
                and payload.get("follow_message_id") == message_id
            )

        window = {"oldest": f"{oldest:.6f}"}
        found = await find_message(self.reader, channel, is_dm, window=window)
        return None if found is None else str(found["ts"])

    async def is_member(self, channel: str, user_id: str) -> bool | None:
        """Whether the person is in a channel (None: cannot tell), members cached a while."""
        now = self.clock()
        cached = self._members.get(channel)
        if cached is None or now - cached[0] > MEMBERS_CACHE_SECONDS:
            cached = self._members[channel] = (now, await self._read_members(channel))
        members = cached[1]
        return None if members is None else user_id in members

    async def _read_members(self, channel: str) -> frozenset[str] | None:
        members: set[str] = set()
        pages = 0
        try:
            async for page in await self.reader.conversations_members(channel=channel, limit=1000):
                pages += 1
                members.update(str(m) for m in page.get("members") or [])
                if pages >= MAX_MEMBER_PAGES:
                    return None
        except (SlackApiError, *NETWORK_ERRORS):
            return None
        return frozenset(members)


def _ts(response: Any) -> str:
    ts = response.get("ts")
    if not isinstance(ts, str):
        raise AmbiguousError("no ts in response")
    return ts


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
    delivery_id: int,
    part: int,
    issue: str,
    fingerprint: str | None = None,
    *,
    period: str | None = None,
) -> dict[str, Any]:
    """Message metadata that lets us recognise our own post (and our last edit) later; a
    roll-up's names its `period` instead of an issue."""
    payload: dict[str, Any] = {"delivery_id": delivery_id, "part": part}
    if period is not None:
        payload["period"] = period
    else:
        payload["issue"] = issue
    if fingerprint:
        payload["fingerprint"] = fingerprint
    return {"event_type": METADATA_EVENT, "event_payload": payload}


def dm_metadata(message_id: int, issue: str) -> dict[str, Any]:
    """Metadata naming a follower DM, so it can be recognised in the DM channel later."""
    return {
        "event_type": METADATA_EVENT_DM,
        "event_payload": {"follow_message_id": message_id, "issue": issue},
    }


def make_web_client(
    token: str,
    base_url: str | None,
    timeout: int = 15,
    *,
    session: aiohttp.ClientSession | None = None,
) -> AsyncWebClient:
    """An AsyncWebClient for posting; no automatic retries (they could re-send an accepted
    post). With a `session` its connections are kept alive; without, each call opens one."""
    kwargs: dict[str, Any] = {
        "token": token,
        "timeout": timeout,
        "retry_handlers": [],
        "logger": WEB_LOG,
        "session": session,
    }
    if base_url:
        kwargs["base_url"] = base_url
    return AsyncWebClient(**kwargs)


Sleep = Callable[[float], Awaitable[None] | None]


class _RateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 handler, waiting exactly the Retry-After Slack asked for (its own adds
    up to a second and reads whole seconds only) with an injectable sleep (tests count waits)."""

    def __init__(self, max_retry_count: int, sleep: Sleep) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.sleep = sleep

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        """Wait Retry-After (1 s when Slack did not say), then let the client try again."""
        headers = {k.lower(): v for k, v in (response.headers if response else {}).items()}
        state.next_attempt_requested = True
        waited = self.sleep(_seconds(headers.get("retry-after")))
        if inspect.isawaitable(waited):
            await waited
        state.increment_current_attempt()


def make_lookup_client(
    token: str,
    base_url: str | None,
    timeout: int = 15,
    *,
    retries: int = 4,
    sleep: Sleep = asyncio.sleep,
    backoff: RetryIntervalCalculator = default_interval_calculator,
    session: aiohttp.ClientSession | None = None,
) -> AsyncWebClient:
    """An AsyncWebClient for reads and joins (safe to repeat): retries 429s (after Retry-After),
    500s and 503s, dropped connections and timeouts (after `backoff`)."""
    handlers: list[AsyncRetryHandler] = [
        _RateLimitRetry(retries, sleep),
        AsyncServerErrorRetryHandler(retries, backoff),
        AsyncConnectionErrorRetryHandler(
            min(retries, 2), backoff, error_types=[aiohttp.ClientConnectionError, TimeoutError]
        ),
    ]
    kwargs: dict[str, Any] = {
        "token": token,
        "timeout": timeout,
        "retry_handlers": handlers,
        "logger": WEB_LOG,
        "session": session,
    }
    if base_url:
        kwargs["base_url"] = base_url
    return AsyncWebClient(**kwargs)
