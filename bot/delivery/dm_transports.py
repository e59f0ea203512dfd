"""Direct messages to followers: posting, finding a DM again after a crash, thread permalinks."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.delivery.poster import (
    NETWORK_ERRORS,
    AmbiguousError,
    NotSentError,
    PermanentError,
    UndecidedLookupError,
    _is_rate_limited,
    _never_connected,
    _retry_after,
    make_lookup_client,
    make_web_client,
)
from bot.slack.rendering import Message
from bot.workspace import Workspace

if TYPE_CHECKING:
    from bot.slack.installations import TokenSource

log = logging.getLogger(__name__)

DM_METADATA_EVENT = "engineering_digest_follow"

# The person cannot be messaged, whatever we retry: they left, were deactivated, or turned
# the app's messages off. The follower is stopped (and shown to operators).
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
# The message itself is refused: retrying the same message cannot help.
REFUSED = frozenset(
    {"invalid_blocks", "invalid_blocks_format", "msg_too_long", "no_text", "msg_blocks_too_long"}
)
MEMBERS_CACHE_SECONDS = 300.0
MAX_MEMBER_PAGES = 20


class FollowerGoneError(PermanentError):
    """The person cannot be sent DMs any more."""


class NotInstalledError(Exception):
    """No bot token for the workspace (the app is not installed there): its DMs wait."""


@dataclass
class DmPacer:
    """Slack's pace for DMs: at most `per_workspace` chat.postMessage calls a second in each
    workspace, one a second into each DM channel, and after a 429 nothing more into that
    workspace until its Retry-After has passed. Shared by every sender thread."""

    per_workspace: float = 1.0
    per_channel: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    _workspace: dict[str, float] = field(default_factory=dict)
    _channel: dict[tuple[str, str], float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def ready_at(self, workspace: str) -> float:
        """When the workspace may get its next DM (monotonic seconds)."""
        with self._lock:
            return self._workspace.get(workspace, 0.0)

    def wait(self, workspace: str, user_id: str) -> None:
        """Block until a DM to the person in the workspace is within both limits; reserve it."""
        with self._lock:
            now = self.monotonic()
            key = (workspace, user_id)
            at = max(now, self._workspace.get(workspace, now), self._channel.get(key, now))
            self._workspace[workspace] = at + 1.0 / self.per_workspace
            self._channel[key] = at + 1.0 / self.per_channel
        if at > now:
            self.sleep(at - now)

    def sent(self, workspace: str, user_id: str) -> None:
        """Count the intervals from Slack's answer: a request slow in flight must not land
        closer than the limits to the next one."""
        with self._lock:
            now = self.monotonic()
            key = (workspace, user_id)
            self._workspace[workspace] = max(
                self._workspace.get(workspace, 0.0), now + 1.0 / self.per_workspace
            )
            self._channel[key] = max(self._channel.get(key, 0.0), now + 1.0 / self.per_channel)

    def push_back(self, workspace: str, seconds: float) -> None:
        """Slack answered 429: the workspace waits its Retry-After."""
        with self._lock:
            until = self.monotonic() + seconds
            self._workspace[workspace] = max(self._workspace.get(workspace, 0.0), until)


def dm_metadata(message_id: int, issue: str) -> dict[str, Any]:
    """Metadata naming the follower DM, so it can be recognised in the DM channel later."""
    return {
        "event_type": DM_METADATA_EVENT,
        "event_payload": {"follow_message_id": message_id, "issue": issue},
    }


@dataclass
class DirectMessenger:
    """One workspace's DMs, paced for the workspace (Slack counts per workspace and channel)."""

    client: WebClient
    lookup_client: WebClient
    pacer: DmPacer
    pace_key: str = "dm"  # the workspace, as the pacer knows it
    max_rate_limit_waits: int = 20
    clock: Callable[[], float] = time.monotonic
    _members: dict[str, tuple[float, frozenset[str] | None]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def post(self, user_id: str, message: Message, metadata: dict[str, Any]) -> tuple[str, str]:
        """Post a DM to the person (channel = their user id); (DM channel, ts)."""
        for _ in range(self.max_rate_limit_waits):
            self.pacer.wait(self.pace_key, user_id)
            try:
                response = self.client.chat_postMessage(
                    channel=user_id,
                    text=message.text,
                    blocks=message.blocks,
                    metadata=metadata,
                    unfurl_links=False,
                    unfurl_media=False,
                )
            except SlackApiError as exc:
                if _is_rate_limited(exc):
                    self.pacer.push_back(self.pace_key, _retry_after(exc))
                    continue
                raise _refusal(exc) from None
            except NETWORK_ERRORS as exc:
                if _never_connected(exc):
                    raise NotSentError(type(exc).__name__) from None
                raise AmbiguousError(type(exc).__name__) from None
            self.pacer.sent(self.pace_key, user_id)
            ts, channel = response.get("ts"), response.get("channel")
            if not isinstance(ts, str):
                raise AmbiguousError("no ts in response")
            return (channel if isinstance(channel, str) else user_id), ts
        raise AmbiguousError("still rate limited")

    def open_dm(self, user_id: str) -> str:
        """The DM channel with the person (conversations.open)."""
        try:
            response = self.lookup_client.conversations_open(users=user_id, return_im=False)
        except SlackApiError as exc:
            refusal = _refusal(exc)
            if isinstance(refusal, FollowerGoneError):
                raise refusal from None
            raise UndecidedLookupError(str(exc.response.get("error") or "")) from None
        except NETWORK_ERRORS as exc:
            raise UndecidedLookupError(type(exc).__name__) from None
        channel = (response.get("channel") or {}).get("id")
        if not isinstance(channel, str):
            raise UndecidedLookupError("no channel in conversations.open")
        return channel

    def find(self, channel: str, message_id: int, oldest: float) -> str | None:
        """The ts of the DM if Slack has it, None if it surely does not; raises
        UndecidedLookupError when the history could not be read to the end."""
        try:
            for page in self.lookup_client.conversations_history(
                channel=channel, oldest=f"{oldest:.6f}", limit=200, include_all_metadata=True
            ):
                for msg in page.get("messages") or []:
                    meta = msg.get("metadata") or {}
                    payload = meta.get("event_payload") or {}
                    if (
                        meta.get("event_type") == DM_METADATA_EVENT
                        and payload.get("follow_message_id") == message_id
                    ):
                        return str(msg["ts"])
        except SlackApiError as exc:
            raise UndecidedLookupError(str(exc.response.get("error") or "")) from None
        except NETWORK_ERRORS as exc:
            raise UndecidedLookupError(type(exc).__name__) from None
        return None

    def is_member(self, channel: str, user_id: str) -> bool | None:
        """Whether the person is in a channel (None: cannot tell), members cached a while."""
        now = self.clock()
        with self._lock:
            cached = self._members.get(channel)
        if cached is None or now - cached[0] > MEMBERS_CACHE_SECONDS:
            cached = (now, self._read_members(channel))
            with self._lock:
                self._members[channel] = cached
        members = cached[1]
        return None if members is None else user_id in members

    def _read_members(self, channel: str) -> frozenset[str] | None:
        members: set[str] = set()
        try:
            for pages, page in enumerate(
                self.lookup_client.conversations_members(channel=channel, limit=1000), start=1
            ):
                members.update(str(m) for m in page.get("members") or [])
                if pages >= MAX_MEMBER_PAGES:
                    return None
        except (SlackApiError, *NETWORK_ERRORS):
            return None
        return frozenset(members)

    def permalink(self, channel: str, ts: str) -> str | None:
        """A link to a message (None when Slack does not give one)."""
        try:
            response = self.lookup_client.chat_getPermalink(channel=channel, message_ts=ts)
        except (SlackApiError, *NETWORK_ERRORS):
            return None
        link = response.get("permalink")
        return link if isinstance(link, str) else None


def messengers(
    tokens: TokenSource, pacer: DmPacer, api_url: str | None
) -> Callable[[Workspace], DirectMessenger]:
    """Each workspace's messenger, with that workspace's current bot token (a refreshed or
    reinstalled token gets new clients); NotInstalledError when it has none."""
    built: dict[Workspace, tuple[str, DirectMessenger]] = {}
    lock = threading.Lock()

    def messenger(workspace: Workspace) -> DirectMessenger:
        token = tokens.token(workspace)
        if token is None:
            raise NotInstalledError(str(workspace))
        with lock:
            known = built.get(workspace)
            if known is None or known[0] != token:
                client = make_web_client(token, api_url)
                lookup = make_lookup_client(token, api_url)
                known = (token, DirectMessenger(client, lookup, pacer, pace_key=str(workspace)))
                built[workspace] = known
            return known[1]

    return messenger


def _refusal(exc: SlackApiError) -> PermanentError | AmbiguousError:
    error = str(exc.response.get("error") or "")
    if error in FOLLOWER_GONE:
        return FollowerGoneError(error)
    if error in REFUSED:
        return PermanentError(error)
    if exc.response.status_code >= 500 or not error:
        return AmbiguousError(f"HTTP {exc.response.status_code}")
    # Slack answered and refused (invalid_auth, missing_scope, …): nothing was posted. Token or
    # scope trouble is the workspace's, not the person's: the DM waits, the follower stays.
    return NotSentError(error)
