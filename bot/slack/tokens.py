"""Bot tokens per workspace, and one poster per workspace built from its current token."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from bot.core.workspace import Workspace
from bot.delivery import Transport
from bot.fanout import TokenSource
from bot.slack.poster import PermanentError, SlackPoster, make_lookup_client, make_web_client
from bot.slack.rendering import Message

__all__ = ["NotInstalled", "PosterCache", "SingleToken"]


@dataclass(frozen=True)
class SingleToken:
    """Single-workspace mode: SLACK_BOT_TOKEN for every delivery."""

    token: str

    def bot_token(self, workspace: Workspace) -> str | None:
        """The one token."""
        return self.token


class NotInstalled:
    """The transport of a workspace with no bot token: every post fails for good."""

    def __init__(self, workspace: Workspace) -> None:
        self.error = f"not installed in workspace {workspace}"

    def join(self, channel: str) -> str | None:
        """Nothing to join with."""
        return self.error

    def post(self, channel: str, message: Message, **_: object) -> str:
        """Refused for good (the subscription is flagged)."""
        raise PermanentError(self.error)

    def find_part(self, channel: str, **_: object) -> str | None:
        """Refused for good."""
        raise PermanentError(self.error)


class PosterCache:
    """`Callable[[Workspace], Transport]`: a workspace's unpaced poster (the fan-out paces),
    rebuilt when its token changes (rotation), so each workspace posts with its own token."""

    def __init__(self, tokens: TokenSource, base_url: str | None) -> None:
        self.tokens = tokens
        self.base_url = base_url
        self._posters: dict[Workspace, tuple[str, SlackPoster]] = {}
        self._lock = threading.Lock()

    def __call__(self, workspace: Workspace) -> Transport:
        """The poster for this workspace's current token."""
        token = self.tokens.bot_token(workspace)
        if not token:
            with self._lock:
                self._posters.pop(workspace, None)
            return NotInstalled(workspace)
        with self._lock:
            cached = self._posters.get(workspace)
            if cached is not None and cached[0] == token:
                return cached[1]
        poster = SlackPoster(
            make_web_client(token, self.base_url),
            None,
            lookup_client=make_lookup_client(token, self.base_url),
        )
        with self._lock:
            self._posters[workspace] = (token, poster)
        return poster
