"""Where each workspace's bot token comes from: the environment (one workspace) or the OAuth
installations (many), stored encrypted, refreshed before they expire, forgotten on uninstall.

slack_sdk's SQLAlchemy stores do the reading and writing on the bot's own database (tables from
migration 0009). Two things are added around them: every token column is encrypted with
DIGEST_ENCRYPTION_KEY (Fernet), and a rotating token is refreshed by one process at a time
under a lease (Slack's refresh tokens are single-use: two refreshers racing would leave one
holding a revoked refresh token).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackTokenRotationError
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.token_rotation import TokenRotator

from bot.config import Settings
from bot.owners import new_owner
from bot.store import token_leases
from bot.store.db import Database
from bot.store.installations import (
    EncryptedInstallationStore,
    save_retrying,
    sealed_bot_tokens,
)
from bot.store.installations import (
    SettingsError as SettingsError,  # re-exported: the error `serve`, `worker`, doctor report
)
from bot.workspace import Workspace

log = logging.getLogger(__name__)

REFRESH_LEASE = dt.timedelta(seconds=60)
# How long a request waits for another process's refresh of the same workspace to finish.
REFRESH_WAIT_SECONDS = 15.0
KEY_HINT = (
    "generate one with: python -c 'from cryptography.fernet import Fernet; "
    "print(Fernet.generate_key().decode())'"
)


def cipher_from(settings: Settings) -> MultiFernet:
    """The token cipher: DIGEST_ENCRYPTION_KEY, one or more Fernet keys (first encrypts)."""
    if settings.encryption_key is None:
        raise SettingsError(
            "DIGEST_ENCRYPTION_KEY is not set (many workspaces store their tokens encrypted; "
            + KEY_HINT
            + ")"
        )
    keys = settings.encryption_key.get_secret_value().replace(",", " ").split()
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except (ValueError, TypeError):
        raise SettingsError(
            f"DIGEST_ENCRYPTION_KEY: not a Fernet key (32 url-safe base64 bytes; {KEY_HINT})"
        ) from None


def check_mode(settings: Settings, *, socket_mode: bool = False) -> None:
    """Refuse a half-configured many-workspace setup (SettingsError naming what is missing)."""
    if settings.slack_client_secret is not None and settings.slack_client_id is None:
        raise SettingsError("SLACK_CLIENT_ID is not set (SLACK_CLIENT_SECRET is)")
    if not settings.multi_workspace:
        return
    if settings.slack_client_secret is None:
        raise SettingsError("SLACK_CLIENT_SECRET is not set (SLACK_CLIENT_ID is)")
    if socket_mode:
        raise SettingsError(
            "Socket Mode serves one workspace: unset SLACK_APP_TOKEN (and --socket) to serve "
            "many over HTTP, or unset SLACK_CLIENT_ID"
        )
    cipher_from(settings)


def check_stored_tokens(settings: Settings, database: Database) -> None:
    """Many workspaces: SettingsError when tokens are stored and DIGEST_ENCRYPTION_KEY opens
    none of them (a wrong key would fail every request and every job, one by one)."""
    if not settings.multi_workspace:
        return
    cipher = cipher_from(settings)
    sealed = sealed_bot_tokens(database)
    opened = 0
    for token in sealed:
        try:
            cipher.decrypt(token.encode())
        except InvalidToken:
            continue
        opened += 1
    if sealed and not opened:
        raise SettingsError(
            f"DIGEST_ENCRYPTION_KEY opens none of the {len(sealed)} stored bot tokens (was the "
            "key changed? list the old key after the new one, comma-separated)"
        )
    if opened < len(sealed):
        log.warning(
            "DIGEST_ENCRYPTION_KEY opens %d of the %d newest stored bot tokens",
            opened,
            len(sealed),
        )


class RefreshBusyError(Exception):
    """Another process has been refreshing this workspace's token for too long."""


@dataclass
class TokenRefresher:
    """Refreshes a workspace's rotating bot token, one process at a time (a lease per
    workspace in slack_token_leases), re-reading the stored installation once it holds the
    lease so that a token another process just refreshed is used, not refreshed again."""

    store: EncryptedInstallationStore
    database: Database
    rotator: TokenRotator
    clock: Callable[[], dt.datetime]
    wait_seconds: float = REFRESH_WAIT_SECONDS

    def refresh(self, workspace: Workspace, margin: dt.timedelta) -> Installation | None:
        """The workspace's installation with a bot token valid for at least `margin` (refreshed
        now if needed), or None when it is not installed."""
        owner = new_owner()
        deadline = time.monotonic() + self.wait_seconds
        while not self._claim(workspace, owner):
            if time.monotonic() > deadline:
                raise RefreshBusyError(f"token refresh of {workspace} is held by another process")
            time.sleep(0.05)
        try:
            current = self.store.find(workspace)
            if current is None:
                return None
            minutes = max(1, int(margin.total_seconds() // 60))
            try:
                refreshed = self.rotator.perform_token_rotation(
                    installation=current, minutes_before_expiration=minutes
                )
            except SlackTokenRotationError as exc:
                error = exc.api_error.response.get("error") if exc.api_error else None
                log.error("refreshing the token of %s failed: %s", workspace, error)
                raise
            if refreshed is None:
                return current
            self._save(refreshed)
            log.info("refreshed the bot token of %s", workspace)
            return refreshed
        finally:
            with self.database.write() as session:
                token_leases.release(session, workspace, owner)

    def _save(self, installation: Installation) -> None:
        """Store a refreshed installation, retrying while the database is busy: Slack has
        already revoked the old refresh token, so losing the new one would lose the workspace."""
        save_retrying(self.store, installation)

    def _claim(self, workspace: Workspace, owner: str) -> bool:
        with self.database.write() as session:
            return token_leases.claim(session, workspace, owner, self.clock(), REFRESH_LEASE)

    def due(self, installation: Installation, margin: dt.timedelta) -> bool:
        """Whether the installation's bot token expires within `margin`."""
        expires = installation.bot_token_expires_at
        return expires is not None and expires <= time.time() + margin.total_seconds()


class TokenSource(Protocol):
    """Workspace → its current bot token, or None when the app is not installed there."""

    def token(self, workspace: Workspace) -> str | None:
        """The bot token to call the Web API with for this workspace."""
        ...

    def forget(self, workspace: Workspace) -> None:
        """Delete the workspace's installation (uninstalled, or removed by an operator)."""
        ...


@dataclass(frozen=True)
class EnvironmentTokens:
    """One workspace: SLACK_BOT_TOKEN for every workspace asked about; nothing stored."""

    bot_token: str

    def token(self, workspace: Workspace) -> str | None:
        """SLACK_BOT_TOKEN."""
        return self.bot_token

    def forget(self, workspace: Workspace) -> None:
        """Nothing to delete: the token lives in the environment."""


@dataclass
class InstalledTokens:
    """Many workspaces: each one's token from its installation, refreshed when it is about
    to expire (the worker refreshes ahead of time; this is the fallback)."""

    store: EncryptedInstallationStore
    refresher: TokenRefresher
    margin: dt.timedelta

    def token(self, workspace: Workspace) -> str | None:
        """The workspace's bot token, refreshed first if it expires within the margin."""
        installation = self.store.find(workspace)
        if installation is None or installation.bot_token is None:
            return None
        if not self.refresher.due(installation, self.margin):
            return installation.bot_token
        current = self.refresher.refresh(workspace, self.margin)
        return current.bot_token if current is not None else None

    def forget(self, workspace: Workspace) -> None:
        """Delete the workspace's installations and bots."""
        self.store.forget(workspace)
        log.info("installation of %s deleted", workspace)

    def refresh_due(self) -> int:
        """Refresh every rotating token expiring within the margin, one workspace at a time
        (the worker's job); returns how many were refreshed. A failure is logged per workspace."""
        refreshed = 0
        for workspace in self.store.rotating():
            installation = self.store.find(workspace)
            if installation is None or not self.refresher.due(installation, self.margin):
                continue
            try:
                current = self.refresher.refresh(workspace, self.margin)
            except (SlackTokenRotationError, RefreshBusyError, SlackApiError, OSError) as exc:
                log.warning("token of %s not refreshed: %s", workspace, type(exc).__name__)
                continue
            if current is not None and current.bot_token != installation.bot_token:
                refreshed += 1
        return refreshed


def oauth_client(settings: Settings) -> WebClient:
    """The client for oauth.v2.access (install and refresh): SLACK_API_URL honoured, no token."""
    kwargs: dict[str, Any] = {"timeout": 10}
    if settings.slack_api_url:
        kwargs["base_url"] = settings.slack_api_url
    return WebClient(**kwargs)


def installed_tokens(
    settings: Settings, database: Database, clock: Callable[[], dt.datetime]
) -> InstalledTokens:
    """The many-workspace TokenSource over the bot's database (check_mode first)."""
    assert settings.slack_client_id is not None  # noqa: S101  multi_workspace checked by callers
    assert settings.slack_client_secret is not None  # noqa: S101
    client_id = settings.slack_client_id.get_secret_value()
    store = EncryptedInstallationStore(client_id, database, cipher_from(settings))
    rotator = TokenRotator(
        client_id=client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        client=oauth_client(settings),
    )
    refresher = TokenRefresher(store, database, rotator, clock)
    margin = dt.timedelta(minutes=settings.token_refresh_minutes)
    return InstalledTokens(store, refresher, margin)


def token_source(
    settings: Settings, database: Database, clock: Callable[[], dt.datetime]
) -> TokenSource:
    """SLACK_BOT_TOKEN (one workspace) or the installations (SLACK_CLIENT_ID set)."""
    if settings.multi_workspace:
        return installed_tokens(settings, database, clock)
    assert settings.slack_bot_token is not None  # noqa: S101  checked by callers
    return EnvironmentTokens(settings.slack_bot_token.get_secret_value())
