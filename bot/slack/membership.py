"""Whether the bot is in a channel, and joining public ones (Slack sends reaction events and
lets the bot read history only where it is a member; chat:write.public alone only posts)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.core.status import INVITE_HINT

log = logging.getLogger(__name__)

Member = Literal["member", "not_member", "unknown"]

# What conversations.join answers for a channel the bot cannot join by itself (private ones).
CANNOT_JOIN = frozenset({"method_not_supported_for_channel_type", "channel_not_found"})


@dataclass
class Membership:
    """conversations.join / conversations.info for one workspace."""

    client: WebClient

    def join(self, channel: str) -> Member:
        """Join a public channel; for a private one, report whether the bot was invited."""
        try:
            self.client.conversations_join(channel=channel)
            return "member"
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "")
            if error not in CANNOT_JOIN:
                log.info("conversations.join %s: %s", channel, error)
                return "unknown"
        return self.check(channel)

    def check(self, channel: str) -> Member:
        """Whether the bot is in the channel (a private one it is not in is invisible to it)."""
        try:
            info = self.client.conversations_info(channel=channel).get("channel") or {}
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "")
            if error == "channel_not_found":
                return "not_member"
            log.info("conversations.info %s: %s", channel, error)
            return "unknown"
        if info.get("is_im") or info.get("is_mpim"):
            return "unknown"
        return "member" if info.get("is_member") else "not_member"


def not_member_text() -> str:
    """What to tell people in a channel the bot is not in."""
    return (
        "The bot is not a member of this channel, so it cannot post here or see saves: "
        f"{INVITE_HINT} (in a public channel, /digest subscribe also joins it)."
    )
