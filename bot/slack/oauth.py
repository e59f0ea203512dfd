"""Add to Slack: Bolt's OAuth settings over our stores, and request-time token refresh that
shares the worker's lease."""

from __future__ import annotations

import datetime as dt
import html
import logging
from collections.abc import Callable

from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store import Installation

from bot.config import Settings
from bot.slack.installations import InstalledTokens, RefreshBusyError, oauth_client
from bot.slack.scopes import required_scopes
from bot.store.db import Database
from bot.store.installations import STATE_SECONDS, SingleUseStateStore, workspace_of
from bot.workspace import Workspace

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
# Requests refresh a token only this close to its expiry: normally the worker has refreshed it
# long before (DIGEST_TOKEN_REFRESH_MINUTES); this covers a worker that is down.
REQUEST_REFRESH_MARGIN = dt.timedelta(minutes=10)
NOT_INSTALLED = (
    "The Engineering @ Scale digest is not installed in this workspace (or was removed). "
    "Ask a workspace admin to add it again with *Add to Slack*."
)

# Called after a successful install: the workspace and the installing user's id.
OnInstalled = Callable[[Workspace, str], None]


class LeasedRotationAuthorize(InstallationStoreAuthorize):
    """Bolt's installation-store authorize, with its token rotation replaced by ours: the
    refresh runs under the same per-workspace lease as the worker's and re-reads the stored
    token first, so a request never spends a refresh token the worker has already used."""

    def __init__(self, tokens: InstalledTokens, settings: Settings) -> None:
        assert settings.slack_client_id is not None  # noqa: S101
        assert settings.slack_client_secret is not None  # noqa: S101
        super().__init__(
            logger=log,
            installation_store=tokens.store,
            client_id=settings.slack_client_id.get_secret_value(),
            client_secret=settings.slack_client_secret.get_secret_value(),
            client=oauth_client(settings),
        )
        self.tokens = tokens

    def _rotate_and_save_tokens_if_necessary(
        self, installation: Installation | None
    ) -> Installation | None:
        """The refreshed (or meanwhile refreshed elsewhere) installation; None: keep this one."""
        if installation is None or installation.bot_refresh_token is None:
            return None
        refresher = self.tokens.refresher
        if not refresher.due(installation, REQUEST_REFRESH_MARGIN):
            return None
        try:
            current = refresher.refresh(workspace_of(installation), REQUEST_REFRESH_MARGIN)
        except RefreshBusyError:
            return None  # another process is refreshing; this token is still valid for now
        if current is None or current.bot_token == installation.bot_token:
            return None
        return current


def oauth_settings(
    settings: Settings, database: Database, tokens: InstalledTokens, on_installed: OnInstalled
) -> OAuthSettings:
    """Bolt's OAuth settings: our encrypted installation store (inside the settings, so token
    rotation is configured), single-use states in the database, the manifest's scopes."""
    assert settings.slack_client_id is not None  # noqa: S101
    assert settings.slack_client_secret is not None  # noqa: S101

    def success(args: SuccessArgs) -> BoltResponse:
        installation = args.installation
        try:
            on_installed(workspace_of(installation), installation.user_id)
        except Exception:  # the install itself succeeded; the admin record can be redone
            log.exception("recording the installer of %s failed", workspace_of(installation))
        log.info("installed in %s", workspace_of(installation))
        return args.default.success(args)

    def failure(args: FailureArgs) -> BoltResponse:
        log.info("install refused: %.40s", args.reason)
        if args.reason == "access_denied":  # Cancel on Slack's page: nothing went wrong
            return html_response(200, *CANCELLED)
        return args.default.failure(args)

    return OAuthSettings(
        client_id=settings.slack_client_id.get_secret_value(),
        client_secret=settings.slack_client_secret.get_secret_value(),
        scopes=sorted(required_scopes()),
        user_scopes=[],
        redirect_uri=settings.slack_redirect_uri,
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        callback_options=CallbackOptions(success=success, failure=failure),
        installation_store=tokens.store,
        token_rotation_expiration_minutes=int(REQUEST_REFRESH_MARGIN.total_seconds() // 60),
        state_store=SingleUseStateStore(database, STATE_SECONDS),
        state_expiration_seconds=STATE_SECONDS,
        logger=log,
    )


# (title, text) of the pages Add to Slack ends on when it does not install.
CANCELLED = (
    "Installation cancelled",
    "Nothing was installed. To add the Engineering @ Scale digest to a workspace after all, "
    "start again from Add to Slack.",
)
SLACK_UNREACHABLE = (
    "Slack did not answer",
    "Slack did not answer in time while confirming the installation, so nothing was "
    "installed. Please start again from Add to Slack in a minute.",
)


def install_page(title: str, text: str) -> str:
    """A short HTML page that says what happened and links back to Add to Slack."""
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n<body>\n<h2>{html.escape(title)}</h2>\n"
        f"<p>{html.escape(text)}</p>\n"
        f'<p><a href="{INSTALL_PATH}">Add to Slack</a></p>\n</body></html>\n'
    )


def html_response(status: int, title: str, text: str) -> BoltResponse:
    """An install page as Bolt's response."""
    return BoltResponse(
        status=status,
        body=install_page(title, text),
        headers={"Content-Type": "text/html; charset=utf-8"},
    )


def record_nothing(_workspace: Workspace, _user_id: str) -> None:
    """The default OnInstalled (wired to the per-workspace admin list where it exists)."""
