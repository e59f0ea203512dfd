"""Posting: chat.postMessage (to channels, threads and DMs) and chat.update, with an optional
one-message-per-second-per-channel rate limit and an optional workspace-wide one
(`rate_limit_per_team` posts per second per team, counted over a sliding second like Slack's
unpublished per-workspace limit; both answer 429 + Retry-After).
"""

from __future__ import annotations

import math
import time
from typing import Any

from support.slack_api.conversations import Conversations
from support.slack_api.state import DEFAULT_TEAM, channel_key


class Messages(Conversations):
    """Messages per channel; a post needs the channel's membership rules and DMs."""

    rate_limit_per_channel: float | None
    rate_limit_per_team: float | None
    posts: int
    rate_limited: int
    _last_ts: float

    def messages(self, channel: str, team: str = DEFAULT_TEAM) -> list[dict[str, Any]]:
        """Top-level messages of a channel, oldest first."""
        with self._lock:
            posted = self._state.messages[channel_key(team, channel)]
            return [m for m in posted if not m.get("thread_ts")]

    def thread(self, channel: str, ts: str, team: str = DEFAULT_TEAM) -> list[dict[str, Any]]:
        """Replies in a thread, oldest first (without the parent)."""
        with self._lock:
            posted = self._state.messages[channel_key(team, channel)]
            return [m for m in posted if m.get("thread_ts") == ts]

    def all_messages(self, channel: str, team: str = DEFAULT_TEAM) -> list[dict[str, Any]]:
        """Everything posted to a channel, in order."""
        with self._lock:
            return list(self._state.messages[channel_key(team, channel)])

    def dms(self, user_id: str, team: str = DEFAULT_TEAM) -> list[dict[str, Any]]:
        """Every DM the bot sent the person (of that team), oldest first."""
        return self.all_messages(self.dm_channel(user_id), team)

    def _new_ts(self) -> str:
        # Like Slack: the epoch time of the post, unique and increasing.
        with self._lock:
            now = max(time.time(), self._last_ts + 0.000001)
            self._last_ts = now
            return f"{now:.6f}"

    def _post_message(
        self, params: dict[str, Any], team: str = DEFAULT_TEAM
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        channel = str(params.get("channel", ""))
        with self._lock:
            error = self._state.channel_errors.get(channel) or self._post_refusal(channel)
            if error:
                return 200, {"ok": False, "error": error}, {}
            if channel[:1] in ("U", "W"):  # a user id: the app's DM with that person
                channel = self._open_dm(channel)
            now = time.monotonic()
            limits = ((("channel", team, channel), self.rate_limit_per_channel),)
            limits += ((("team", team), self.rate_limit_per_team),)
            for key, limit in limits:
                retry_after = self._over_limit(key, limit, now)
                if retry_after:
                    self.rate_limited += 1
                    body = {"ok": False, "error": "ratelimited"}
                    return 429, body, {"Retry-After": str(retry_after)}
            for key, limit in limits:
                if limit:
                    self._state.recent_posts[key].append(now)
            ts = self._new_ts()
            message = {"type": "message", "ts": ts, "user": "UBOT", "bot_id": "BBOT"}
            if not self.lean:
                message |= {"text": params.get("text", ""), "blocks": params.get("blocks") or []}
            if params.get("thread_ts"):
                message["thread_ts"] = str(params["thread_ts"])
            if params.get("metadata"):
                message["metadata"] = params["metadata"]
            self._state.messages[channel_key(team, channel)].append(message)
            self.posts += 1
        return 200, {"ok": True, "channel": channel, "ts": ts, "message": message}, {}

    def _update_message(
        self, params: dict[str, Any], team: str = DEFAULT_TEAM
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """chat.update: replaces a message's text and blocks (and metadata, when given)."""
        channel, ts = str(params.get("channel", "")), str(params.get("ts", ""))
        with self._lock:
            error = self._state.channel_errors.get(channel)
            if error:
                return 200, {"ok": False, "error": error}, {}
            in_channel = self._state.messages[channel_key(team, channel)]
            found = next((m for m in in_channel if m["ts"] == ts), None)
            if found is None:
                return 200, {"ok": False, "error": "message_not_found"}, {}
            found["text"] = params.get("text", "")
            found["blocks"] = params.get("blocks") or []
            found["edited"] = {"user": "UBOT", "ts": self._new_ts()}
            if params.get("metadata"):
                found["metadata"] = params["metadata"]
            message = dict(found)
        return 200, {"ok": True, "channel": channel, "ts": ts, "text": message["text"]}, {}

    def _over_limit(self, key: Any, limit: float | None, now: float) -> int:
        """Seconds to wait (Retry-After, whole seconds like Slack) if one more post in the
        sliding second would exceed `limit`; 0 when it may go."""
        if not limit:
            return 0
        window = self._state.recent_posts[key]
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) < limit:
            return 0
        return max(1, math.ceil(window[0] + 1.0 - now))
