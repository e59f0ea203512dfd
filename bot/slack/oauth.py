"""Add to Slack: Bolt's OAuth settings over our stores, and request-time token refresh that
shares the worker's lease."""

from __future__ import annotations

import html
import logging
from collections.abc import Callable

from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_bolt.response import BoltResponse

from bot.config import Settings
from bot.slack.authorize import REQUEST_REFRESH_MARGIN
from bot.slack.installations import InstalledTokens
from bot.slack.scopes import required_scopes
from bot.store.db import Database
from bot.store.installations import STATE_SECONDS, SingleUseStateStore, workspace_of
from bot.workspace import Workspace

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
NOT_INSTALLED = (
    "The Engineering @ Scale digest is not installed in this workspace (or was removed). "
    "Ask a workspace admin to add it again with *Add to Slack*."
)

# Called after a successful install: the workspace and the installing user's id.
OnInstalled = Callable[[Workspace, str], None]


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
