"""Each workspace's Slack clients, built from its current bot token (rebuilt when it rotates).

One cache for every kind of message: channel threads and follower DMs post through a
workspace's `SlackPoster` (`PosterCache`) on the clients of the one `SlackClients`, whose
clients share one aiohttp session, so connections to Slack are kept alive between calls.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.pacer import Pacer
from bot.delivery.poster import (
    PartSearch,
    PermanentError,
    SlackPoster,
    make_lookup_client,
    make_web_client,
)
from bot.slack.installations import TokenSource
from bot.slack.rendering import Message
from bot.workspace import Workspace

__all__ = ["Clients", "NotInstalled", "PosterCache", "SlackClients"]

# Requests to Slack in flight at once over the shared session (posts, lookups, joins).
CONNECTIONS = 64


@dataclass(frozen=True)
class Clients:
    """One workspace's clients: posting (never retries) and reading (retries), one token."""

    token: str
    post: AsyncWebClient
    lookup: AsyncWebClient


class SlackClients:
    """Workspace → its clients for its current token, or None when the app is not installed
    there.

    A token is asked for again after `recheck` seconds, not for every delivery: reading and
    decrypting an installation per channel would cost a fan-out to thousands of channels
    seconds of CPU, and a rotating token is refreshed hours before it expires. The aiohttp
    session belongs to the running event loop: `aclose` when that loop's work is done."""

    def __init__(
        self,
        tokens: TokenSource,
        base_url: str | None,
        *,
        recheck: float = 30.0,
        timeout: int = 15,
        connections: int = CONNECTIONS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tokens = tokens
        self.base_url = base_url
        self.recheck = recheck
        self.timeout = timeout
        self.connections = connections
        self.monotonic = monotonic
        self._built: dict[Workspace, tuple[Clients, float]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __call__(self, workspace: Workspace) -> Clients | None:
        """The workspace's clients (call inside the running event loop)."""
        now = self.monotonic()
        built = self._built.get(workspace)
        if built is not None and now - built[1] < self.recheck and self._current():
            return built[0]
        token = self.tokens.token(workspace)
        if not token:
            self._built.pop(workspace, None)
            return None
        if built is not None and built[0].token == token and self._current():
            self._built[workspace] = (built[0], now)
            return built[0]
        session = self._shared_session()
        clients = Clients(
            token,
            make_web_client(token, self.base_url, self.timeout, session=session),
            make_lookup_client(token, self.base_url, self.timeout, session=session),
        )
        self._built[workspace] = (clients, now)
        return clients

    def _current(self) -> bool:
        """Whether the clients built belong to the running loop's session."""
        return self._session is not None and self._loop is asyncio.get_running_loop()

    def _shared_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            self._built.clear()  # a previous loop's clients hold its (closed) session
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(limit=self.connections),
            )
            self._loop = loop
        return self._session

    async def aclose(self) -> None:
        """Close the shared session (its connections) and forget the clients built on it."""
        session, self._session, self._loop = self._session, None, None
        self._built.clear()
        if session is not None and not session.closed:
            await session.close()


class NotInstalled:
    """The transport of a workspace with no bot token: every post fails for good."""

    pacer: Pacer | None = None

    def __init__(self, workspace: Workspace) -> None:
        self.error = f"not installed in workspace {workspace}"

    async def join(self, channel: str) -> str | None:
        """Nothing to join with."""
        return self.error

    async def post(self, channel: str, message: Message, **_: object) -> str:
        """Refused for good (the subscription is flagged)."""
        raise PermanentError(self.error)

    async def find_part(self, search: PartSearch) -> str | None:
        """Refused for good."""
        raise PermanentError(self.error)

    async def update(self, channel: str, ts: str, message: Message, **_: object) -> None:
        """Refused for good: no edit without the workspace's token."""
        raise PermanentError(self.error)

    async def find_fingerprint(self, channel: str, ts: str, **_: object) -> str | None:
        """Refused for good."""
        raise PermanentError(self.error)

    async def permalink(self, channel: str, ts: str) -> str | None:
        """No link without the workspace's token."""
        return None


class PosterCache:
    """`Transports`: a workspace's poster on its current clients (`SlackClients`), so each
    workspace posts with its own token."""

    def __init__(self, clients: SlackClients) -> None:
        self.clients = clients
        self._posters: dict[Workspace, SlackPoster] = {}

    def __call__(self, workspace: Workspace) -> SlackPoster | NotInstalled:
        """The poster for this workspace's current token."""
        clients = self.clients(workspace)
        if clients is None:
            self._posters.pop(workspace, None)
            return NotInstalled(workspace)
        poster = self._posters.get(workspace)
        if poster is None or poster.client is not clients.post:
            poster = self._posters[workspace] = SlackPoster(
                clients.post, lookup_client=clients.lookup
            )
        return poster

    async def aclose(self) -> None:
        """Close the clients' session (see SlackClients.aclose)."""
        self._posters.clear()
        await self.clients.aclose()
