"""The token of the request being served, for clients built once per process.

Listeners get a client with their workspace's token from Bolt. The lookups built once at
start-up (users.info for a timezone, conversations.join/info for membership) cannot hold one
token when many workspaces are served: their client reads the token of the request being
served, set in a copied context the listener runs its work in (never left behind on a
thread that serves another workspace next).
"""

from __future__ import annotations

from contextvars import Context, ContextVar, copy_context

from slack_sdk import WebClient

_TOKEN: ContextVar[str | None] = ContextVar("slack_request_token", default=None)


class RequestTokenClient(WebClient):
    """A WebClient whose token is the current request's workspace token."""

    @property
    def token(self) -> str | None:
        """The bot token Bolt authorized the current request with (None outside requests)."""
        return _TOKEN.get()

    @token.setter
    def token(self, _value: str | None) -> None:
        """Ignored: the token comes from the request (WebClient's constructor sets one)."""


def with_request_token(token: str | None) -> Context:
    """A copy of the current context in which RequestTokenClient uses `token`: run the
    request's work in it (`context.run`, also on an executor thread); nothing outside sees it."""
    context = copy_context()
    context.run(_TOKEN.set, token)
    return context
