"""Channels, membership and direct messages: conversations.join/info/history/replies/open/members
and chat.getPermalink.

Membership is enforced like Slack: a channel nobody declared is public and the bot is not in it.
Posting to a public channel works anyway (chat:write.public), but conversations.history and
.replies answer `not_in_channel` until the bot joins (conversations.join) or is invited
(`set_member`). A private channel (`add_channel(..., private=True)`) cannot be joined and
refuses posts from a bot that is not in it. Slack sends reaction events only for channels the
bot is in, so tests check that with `require_member` before sending one.

Direct messages: chat.postMessage to a user id (U…/W…) posts in the app's DM with that person,
a channel `dm_channel(user)` (D…) that conversations.open returns and the bot can read;
`fail_channel(user, "account_inactive")` makes both refuse. conversations.members answers
from `set_members`, chat.getPermalink links any message the stand-in holds.
"""

from __future__ import annotations

from typing import Any

from support.slack_api.state import Channel, Part, channel_key


class Conversations(Part):
    """Channels the bot is in or not, DMs, and reading them back."""

    members: dict[str, set[str]]

    def add_channel(
        self,
        channel: str,
        *,
        private: bool = False,
        member: bool = False,
        archived: bool = False,
        name: str = "",
    ) -> None:
        """Declare a channel: public or private, with or without the bot in it."""
        with self._lock:
            self._state.channels[channel] = Channel(private, member, archived, name)

    def set_member(self, channel: str, member: bool = True) -> None:
        """The bot is invited to (or removed from) a channel."""
        with self._lock:
            self._state.channels[channel].bot_member = member

    def is_member(self, channel: str) -> bool:
        """Whether the bot is in the channel now."""
        with self._lock:
            return self._state.channels[channel].bot_member

    def require_member(self, channel: str) -> None:
        """Fail a test that would send a reaction event Slack would never send: Slack sends
        reaction_added/removed only for channels the bot is a member of."""
        assert self.is_member(channel), (
            f"Slack sends no reaction events from {channel}: bot not in it"
        )

    def set_members(self, channel: str, *users: str) -> None:
        """Who is in a channel (conversations.members)."""
        with self._lock:
            self.members[channel] = set(users)

    @staticmethod
    def dm_channel(user_id: str) -> str:
        """The id of the app's DM channel with a person."""
        return "D" + user_id[1:]

    def _open_dm(self, user_id: str) -> str:
        channel = self.dm_channel(user_id)
        self._state.channels[channel].bot_member = True
        return channel

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = str(params.get("users", ""))
        with self._lock:
            error = self._state.channel_errors.get(user_id)
            if error or user_id[:1] not in ("U", "W"):
                return {"ok": False, "error": error or "user_not_found"}
            return {"ok": True, "channel": {"id": self._open_dm(user_id)}}

    def _members(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        with self._lock:
            info = self._state.channels[channel]
            if info.private and not info.bot_member:
                return {"ok": False, "error": "channel_not_found"}
            members = sorted(self.members.get(channel, set()))
        start = int(params.get("cursor") or 0)
        limit = int(params.get("limit") or 100)
        more = start + limit < len(members)
        return {
            "ok": True,
            "members": members[start : start + limit],
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _permalink(self, params: dict[str, Any], team: str) -> dict[str, Any]:
        channel, ts = str(params.get("channel", "")), str(params.get("message_ts", ""))
        with self._lock:
            if not any(m["ts"] == ts for m in self._state.messages[channel_key(team, channel)]):
                return {"ok": False, "error": "message_not_found"}
        link = f"https://example.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _post_refusal(self, channel: str) -> str | None:
        info = self._state.channels[channel]
        if info.archived:
            return "is_archived"
        if info.private and not info.bot_member:
            return "not_in_channel"
        return None  # public: chat:write.public posts without membership

    def _join(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        with self._lock:
            info = self._state.channels[channel]
            if info.private:
                return {"ok": False, "error": "method_not_supported_for_channel_type"}
            if info.archived:
                return {"ok": False, "error": "is_archived"}
            already = info.bot_member
            info.bot_member = True
        body: dict[str, Any] = {"ok": True, "channel": {"id": channel, "is_member": True}}
        if already:  # as Slack answers: the warning, and again in response_metadata
            body["warning"] = "already_in_channel"
            body["response_metadata"] = {"warnings": ["already_in_channel"]}
        return body

    def _info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        if channel.startswith("D"):
            return im_info(channel)
        with self._lock:
            info = self._state.channels[channel]
            if info.private and not info.bot_member:
                return {"ok": False, "error": "channel_not_found"}  # invisible to the bot
            return {
                "ok": True,
                "channel": {
                    "id": channel,
                    "name": info.name or channel.lower(),
                    "is_channel": True,
                    "is_private": info.private,
                    "is_archived": info.archived,
                    "is_member": info.bot_member,
                },
            }

    def _history(self, params: dict[str, Any], replies: bool, team: str) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        with self._lock:
            posted = self._state.messages[channel_key(team, channel)]
            error = self._state.channel_errors.get(channel)
            if not error and not self._state.channels[channel].bot_member:
                error = "not_in_channel"
            if error:
                return {"ok": False, "error": error}
            if replies:
                ts = str(params.get("ts", ""))
                items = [m for m in posted if m["ts"] == ts or m.get("thread_ts") == ts]
            else:
                items = [m for m in posted if not m.get("thread_ts")]
                items = list(reversed(items))  # history is newest first
            oldest = float(params.get("oldest") or 0)
            items = [m for m in items if float(m["ts"]) >= oldest]
        start = int(params.get("cursor") or 0)
        limit = int(params.get("limit") or 100)
        page = items[start : start + limit]
        with_meta = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        if not with_meta:
            page = [{k: v for k, v in m.items() if k != "metadata"} for m in page]
        more = start + limit < len(items)
        return {
            "ok": True,
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }


def im_info(channel: str) -> dict[str, Any]:
    """conversations.info of a direct message, in Slack's IM shape: is_im, the other person, and
    no is_member (nor name, is_channel or is_private) at all."""
    return {
        "ok": True,
        "channel": {
            "id": channel,
            "created": 1507235627,
            "is_im": True,
            "is_org_shared": False,
            "user": "U" + channel[1:],
            "is_user_deleted": False,
            "priority": 0,
        },
    }
