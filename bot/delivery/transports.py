"""Each workspace's poster, built from its current bot token (rebuilt when the token rotates)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from bot.delivery.deliverer import Transport
from bot.delivery.poster import (
    ChannelPacer,
    PartSearch,
    PermanentError,
    SlackPoster,
    make_lookup_client,
    make_web_client,
)
from bot.slack.installations import TokenSource
from bot.slack.rendering import Message
from bot.workspace import Workspace

__all__ = ["NotInstalled", "PosterCache"]


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

    def find_part(self, search: PartSearch) -> str | None:
        """Refused for good."""
        raise PermanentError(self.error)

    def update(self, channel: str, ts: str, message: Message, **_: object) -> None:
        """Refused for good: no edit without the workspace's token."""
        raise PermanentError(self.error)

    def find_fingerprint(self, channel: str, ts: str, **_: object) -> str | None:
        """Refused for good."""
        raise PermanentError(self.error)


class PosterCache:
    """`Transports`: a workspace's poster, rebuilt when its token changes (rotation), so each
    workspace posts with its own token. Unpaced for the fan-out (which paces); `post` gives
    the seconds between two posts to one channel.

    A token is asked for again after `recheck` seconds, not for every delivery: reading and
    decrypting an installation per channel would cost a fan-out to thousands of channels
    seconds of CPU, and a rotating token is refreshed hours before it expires."""

    def __init__(
        self,
        tokens: TokenSource,
        base_url: str | None,
        post_interval: float | None = None,
        *,
        recheck: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tokens = tokens
        self.base_url = base_url
        self.post_interval = post_interval
        self.recheck = recheck
        self.monotonic = monotonic
        self._posters: dict[Workspace, tuple[str, SlackPoster, float]] = {}
        self._lock = threading.Lock()

    def __call__(self, workspace: Workspace) -> Transport:
        """The poster for this workspace's current token."""
        now = self.monotonic()
        with self._lock:
            cached = self._posters.get(workspace)
        if cached is not None and now - cached[2] < self.recheck:
            return cached[1]
        token = self.tokens.token(workspace)
        if not token:
            with self._lock:
                self._posters.pop(workspace, None)
            return NotInstalled(workspace)
        if cached is not None and cached[0] == token:
            with self._lock:
                self._posters[workspace] = (token, cached[1], now)
            return cached[1]
        poster = SlackPoster(
            make_web_client(token, self.base_url),
            None if self.post_interval is None else ChannelPacer(interval=self.post_interval),
            lookup_client=make_lookup_client(token, self.base_url),
        )
        with self._lock:
            self._posters[workspace] = (token, poster, now)
        return poster
