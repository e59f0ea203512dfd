"""Direct messages to followers: posting, finding a DM again after a crash, thread permalinks."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.poster import (
    NETWORK_ERRORS,
    AmbiguousError,
    NotSentError,
    PermanentError,
    RateLimitedError,
    UndecidedLookupError,
    find_message,
    is_rate_limited,
    retry_after_seconds,
    unsent_or_ambiguous,
)
from bot.slack.rendering import Message
from bot.workspace import Workspace

if TYPE_CHECKING:
    from bot.delivery.transports import SlackClients


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


def dm_metadata(message_id: int, issue: str) -> dict[str, Any]:
    """Metadata naming the follower DM, so it can be recognised in the DM channel later."""
    return {
        "event_type": DM_METADATA_EVENT,
        "event_payload": {"follow_message_id": message_id, "issue": issue},
    }


@dataclass
class DirectMessenger:
    """One workspace's Slack calls for DMs (paced by the engine, like every post)."""

    client: AsyncWebClient
    lookup_client: AsyncWebClient
    clock: Callable[[], float] = time.monotonic
    _members: dict[str, tuple[float, frozenset[str] | None]] = field(default_factory=dict)

    async def post(
        self, user_id: str, message: Message, metadata: dict[str, Any]
    ) -> tuple[str, str]:
        """Post a DM to the person (channel = their user id); (DM channel, ts). Raises
        RateLimitedError on a 429, FollowerGoneError, PermanentError, NotSentError or
        AmbiguousError."""
        try:
            response = await self.client.chat_postMessage(
                channel=user_id,
                text=message.text,
                blocks=message.blocks,
                metadata=metadata,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            if is_rate_limited(exc):
                raise RateLimitedError(retry_after_seconds(exc)) from None
            raise _refusal(exc) from None
        except NETWORK_ERRORS as exc:
            raise unsent_or_ambiguous(exc) from None
        ts, channel = response.get("ts"), response.get("channel")
        if not isinstance(ts, str):
            raise AmbiguousError("no ts in response")
        return (channel if isinstance(channel, str) else user_id), ts

    async def open_dm(self, user_id: str) -> str:
        """The DM channel with the person (conversations.open)."""
        try:
            response = await self.lookup_client.conversations_open(users=user_id, return_im=False)
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

    async def find(self, channel: str, message_id: int, oldest: float) -> str | None:
        """The ts of the DM if Slack has it, None if it surely does not; raises
        UndecidedLookupError when the history could not be read to the end."""

        def is_dm(msg: dict[str, Any]) -> bool:
            meta = msg.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            return bool(
                meta.get("event_type") == DM_METADATA_EVENT
                and payload.get("follow_message_id") == message_id
            )

        found = await find_message(
            self.lookup_client, channel, is_dm, window={"oldest": f"{oldest:.6f}"}
        )
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
            async for page in await self.lookup_client.conversations_members(
                channel=channel, limit=1000
            ):
                pages += 1
                members.update(str(m) for m in page.get("members") or [])
                if pages >= MAX_MEMBER_PAGES:
                    return None
        except (SlackApiError, *NETWORK_ERRORS):
            return None
        return frozenset(members)

    async def permalink(self, channel: str, ts: str) -> str | None:
        """A link to a message (None when Slack does not give one)."""
        try:
            response = await self.lookup_client.chat_getPermalink(channel=channel, message_ts=ts)
        except (SlackApiError, *NETWORK_ERRORS):
            return None
        link = response.get("permalink")
        return link if isinstance(link, str) else None


def messengers(clients: SlackClients) -> Callable[[Workspace], DirectMessenger]:
    """Each workspace's messenger on its current clients (the one client cache, so a refreshed
    or reinstalled token gets new ones); NotInstalledError when it has none."""
    built: dict[Workspace, DirectMessenger] = {}

    def messenger(workspace: Workspace) -> DirectMessenger:
        current = clients(workspace)
        if current is None:
            built.pop(workspace, None)
            raise NotInstalledError(str(workspace))
        known = built.get(workspace)
        if known is None or known.client is not current.post:
            known = built[workspace] = DirectMessenger(current.post, current.lookup)
        return known

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
