"""Authorizing a request from Slack without calling Slack: the ids auth.test would tell are
known already (stored at install, or asked once per process off the request path).

Bolt's own authorize calls auth.test before every ack (its installation-store authorize
without its cache) or at the first request (one workspace): one failed or rate-limited call
then answers "not installed" with HTTP 200, so Slack never retries and the event is lost, or
sleeps Retry-After on the request thread past Slack's 3 s.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import BoltContext
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.authorize import Authorize
from slack_sdk.oauth.installation_store import Installation

from bot.slack.installations import InstalledTokens, RefreshBusyError
from bot.slack.request_scope import respond_after_ack
from bot.store.installations import workspace_of

log = logging.getLogger(__name__)

# Requests refresh a token only this close to its expiry: normally the worker has refreshed it
# long before (DIGEST_TOKEN_REFRESH_MINUTES); this covers a worker that is down.
REQUEST_REFRESH_MARGIN = dt.timedelta(minutes=10)
# What a before_authorize middleware notes about the request (see `note_request_kind`).
KIND = "digest_request_kind"

# A token closer than this to its expiry is refreshed before the request uses it; a later one
# is used as it is and refreshed in the background (normally the worker has refreshed it long
# before, DIGEST_TOKEN_REFRESH_MINUTES).
EXPIRED_MARGIN_SECONDS = 60.0


def not_installed(context: BoltContext, message: str) -> None:
    """Tell the person the app is not installed, without a Web API call before the ack.

    Bolt posts its message to response_url before it answers Slack when the request has one;
    a slash command gets the message in the HTTP answer instead, anything else by response_url
    once the answer has been sent.
    """
    url = context.response_url
    if url is None:
        return
    # Bolt answers 200 with the message as the body when there is no response_url: Slack shows
    # that body to the person who ran the command.
    context["response_url"] = None
    if context.get(KIND) != "command":
        respond_after_ack(url, message)


def note_request_kind(body: dict[str, Any], context: BoltContext, next: Any) -> None:
    """before_authorize: note whether the request is a slash command (see `not_installed`)."""
    context[KIND] = "command" if "command" in body else str(body.get("type") or "")
    next()


@dataclass
class StoredInstallationAuthorize(Authorize):
    """Many workspaces: the request's installation as stored (token, bot user id, bot id)."""

    tokens: InstalledTokens
    message: str
    _refreshing: set[Any] = field(default_factory=set, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __call__(
        self,
        *,
        context: BoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult | None:
        """The stored installation of the request's workspace, or None (not installed)."""
        installation = self.tokens.store.find_installation(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=context.is_enterprise_install,
        )
        if installation is None or installation.bot_token is None:
            not_installed(context, self.message)
            return None
        installation = self.fresh(installation)
        return AuthorizeResult(
            enterprise_id=installation.enterprise_id,
            team_id=installation.team_id,
            team=installation.team_name,
            bot_user_id=installation.bot_user_id,
            bot_id=installation.bot_id,
            bot_token=installation.bot_token,
            bot_scopes=installation.bot_scopes,
            user_id=user_id,
        )

    def fresh(self, installation: Installation) -> Installation:
        """The installation with a usable bot token: refreshed now only when it is about to
        expire (under the worker's lease); a token close to expiry is refreshed behind."""
        refresher = self.tokens.refresher
        expires = installation.bot_token_expires_at
        if installation.bot_refresh_token is None or expires is None:
            return installation
        if not refresher.due(installation, REQUEST_REFRESH_MARGIN):
            return installation
        if expires > time.time() + EXPIRED_MARGIN_SECONDS:
            self._refresh_behind(installation)
            return installation
        try:
            current = refresher.refresh(workspace_of(installation), REQUEST_REFRESH_MARGIN)
        except RefreshBusyError:
            return installation  # another process is refreshing it right now
        return current if current is not None else installation

    def _refresh_behind(self, installation: Installation) -> None:
        """Refresh in a thread of its own, once per workspace at a time."""
        workspace = workspace_of(installation)
        with self._lock:
            if workspace in self._refreshing:
                return
            self._refreshing.add(workspace)

        def run() -> None:
            try:
                self.tokens.refresher.refresh(workspace, REQUEST_REFRESH_MARGIN)
            except Exception as exc:  # logged by the refresher; the worker tries again
                log.warning("token of %s not refreshed: %s", workspace, type(exc).__name__)
            finally:
                with self._lock:
                    self._refreshing.discard(workspace)

        threading.Thread(target=run, name="token-refresh", daemon=True).start()


@dataclass
class EnvironmentAuthorize(Authorize):
    """One workspace: SLACK_BOT_TOKEN, with the bot's ids from auth.test asked off the request
    path (at start, retried in the background until Slack answers)."""

    token: str
    identity: Any  # Callable[[], dict | None]: auth.test's answer, or None while unknown
    _known: dict[str, Any] | None = field(default=None, init=False)
    _asking: bool = field(default=False, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self._ask_behind()

    def __call__(
        self,
        *,
        context: BoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult:
        """The token, with the bot's ids when known (until then: the request's own ids)."""
        known = self._known
        if known is None:
            self._ask_behind()
            known = {}
        return AuthorizeResult(
            enterprise_id=known.get("enterprise_id") or enterprise_id,
            team_id=known.get("team_id") or team_id,
            team=known.get("team"),
            bot_user_id=known.get("user_id"),
            bot_id=known.get("bot_id"),
            bot_token=self.token,
            user_id=user_id,
        )

    def _ask_behind(self) -> None:
        """auth.test in a thread, retried with backoff until it answers."""
        with self._lock:
            if self._asking or self._known is not None:
                return
            self._asking = True

        def run() -> None:
            pause = 1.0
            try:
                while True:
                    answer = self.identity()
                    if answer is not None:
                        self._known = answer
                        return
                    time.sleep(pause)
                    pause = min(pause * 2, 60.0)
            finally:
                with self._lock:
                    self._asking = False

        threading.Thread(target=run, name="auth-test", daemon=True).start()
