"""The Bolt app factory: the one place the Slack side is wired together."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

from bot.config import Settings
from bot.slack.authorize import (
    EnvironmentAuthorize,
    StoredInstallationAuthorize,
    note_request_kind,
)
from bot.slack.installations import InstalledTokens
from bot.slack.listeners import register_all
from bot.slack.oauth import (
    NOT_INSTALLED,
    OnInstalled,
    oauth_settings,
    record_nothing,
)
from bot.slack.request_scope import respond_after_ack
from bot.slack.request_token import RequestTokenClient
from bot.slack.services import Services
from bot.slack.unavailable import APOLOGY, FAILED, answer, database_unavailable, kind_of
from bot.slack.unhandled import ignore_unhandled

log = logging.getLogger(__name__)


class MissingSettingError(Exception):
    """A required environment variable is not set."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is not set")
        self.name = name


class _ClientTokenNotice(logging.Filter):
    """Drops Bolt's "`token` will be unused" warning, which is about Bolt's own behaviour.

    Bolt reads SLACK_BOT_TOKEN from the environment by itself and warns that the client we
    pass (built from the same token, with our retry policy) wins. Nothing is wrong, so an
    operator should not see a warning for it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every other record."""
        message = record.getMessage()
        return "`token` will be unused" not in message and "will be ignored" not in message


def bolt_logger() -> logging.Logger:
    """The logger Bolt logs through, without its token notice."""
    logger = logging.getLogger("slack_bolt")
    if not any(isinstance(f, _ClientTokenNotice) for f in logger.filters):
        logger.addFilter(_ClientTokenNotice())
    return logger


def make_client(settings: Settings) -> WebClient:
    """The Web API client for listeners: retries 429s and dropped connections.

    Many workspaces: no token here; Bolt gives each request a copy with its workspace's token.
    """
    token = None
    if not settings.multi_workspace:
        if settings.slack_bot_token is None:
            raise MissingSettingError("SLACK_BOT_TOKEN")
        token = settings.slack_bot_token.get_secret_value()
    kwargs: dict[str, Any] = {
        "token": token,
        "timeout": 10,
        "retry_handlers": [
            ConnectionErrorRetryHandler(max_retry_count=1),
            RateLimitErrorRetryHandler(max_retry_count=2),
        ],
    }
    if settings.slack_api_url:
        kwargs["base_url"] = settings.slack_api_url
    if settings.multi_workspace:
        return RequestTokenClient(**kwargs)
    return WebClient(**kwargs)


def user_timezone_lookup(client: WebClient) -> Callable[[str], str | None]:
    """users.info → the person's IANA timezone (None when Slack cannot tell)."""

    def lookup(user_id: str) -> str | None:
        try:
            user = client.users_info(user=user_id).get("user") or {}
        except SlackApiError as exc:
            log.info("users.info failed: %s", exc.response.get("error"))
            return None
        tz = user.get("tz")
        return str(tz) if tz else None

    return lookup


def _oauth_options(
    settings: Settings, services: Services, tokens: InstalledTokens, on_installed: OnInstalled
) -> dict[str, Any]:
    """Many workspaces: Add to Slack, and each request authorized by its installation."""
    return {
        "oauth_settings": oauth_settings(settings, services.database, tokens, on_installed),
        "authorize": StoredInstallationAuthorize(tokens, NOT_INSTALLED),
        "user_facing_authorize_error_message": NOT_INSTALLED,
    }


def _identity(client: WebClient) -> Callable[[], dict[str, Any] | None]:
    """auth.test with SLACK_BOT_TOKEN: its answer, or None (one log line) when Slack fails."""

    def ask() -> dict[str, Any] | None:
        try:
            return dict(client.auth_test().data)  # type: ignore[arg-type]
        except SlackApiError as exc:
            if exc.response.status_code < 500 and exc.response.status_code != 429:
                # Slack answered (invalid_auth, token_revoked): asking again will not help.
                log.warning("auth.test answered %s", exc.response.get("error"))
                return {}
            log.warning("auth.test failed (HTTP %s); asking again later", exc.response.status_code)
            return None
        except (SlackClientError, OSError) as exc:
            log.warning("auth.test failed (%s); asking again later", type(exc).__name__)
            return None

    return ask


def _environment_options(client: WebClient) -> dict[str, Any]:
    """One workspace: SLACK_BOT_TOKEN, with the bot's ids asked off the request path."""
    token = client.token
    if token is None:
        raise MissingSettingError("SLACK_BOT_TOKEN")
    return {
        "authorize": EnvironmentAuthorize(token, _identity(client)),
        "user_facing_authorize_error_message": NOT_INSTALLED,
    }


def create_app(
    settings: Settings,
    services: Services,
    *,
    client: WebClient,
    socket_mode: bool = False,
    tokens: InstalledTokens | None = None,
    on_installed: OnInstalled = record_nothing,
) -> App:
    """Build the Bolt app with every listener; nothing Slack-related exists before this call.

    With `tokens` (many workspaces) it also serves Add to Slack (/slack/install and
    /slack/oauth_redirect) and authorizes each request with its workspace's installation.
    """
    if not socket_mode and settings.slack_signing_secret is None:
        raise MissingSettingError("SLACK_SIGNING_SECRET")
    secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    )
    if tokens is not None:
        auth = _oauth_options(settings, services, tokens, on_installed)
    else:
        auth = _environment_options(client)
    app = App(
        client=client,
        signing_secret=secret or "socket-mode-does-not-sign",
        # No auth.test before an ack: requests are authorized from what is already known.
        token_verification_enabled=False,
        before_authorize=note_request_kind,
        request_verification_enabled=not socket_mode,
        # Listeners run on the request's own thread and their ack is the HTTP response: no
        # hand-off, and none of Bolt's 10 ms polling for the ack. Anything slow after the ack
        # (Slack API calls for events and buttons) runs in lazy listeners; /digest answers
        # inline only within its own deadline.
        process_before_response=True,
        logger=bolt_logger(),
        # Requests no listener is for reach handle_error, which answers 200 (Bolt's default is
        # a 404 and a multi-line warning: Slack would retry them and turn delivery off).
        raise_error_for_unhandled_request=True,
        **auth,
    )
    register_all(app, services)
    app.error(handle_error)
    return app


def handle_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
    """A failed request: one log line without payload secrets, and never HTTP 500. A request
    no listener is for: 200, ignored.

    The database unreachable: an event is answered 503 so Slack delivers it again later, a
    person gets a short apology. Anything else: 200 (a retry would fail the same way).
    """
    if isinstance(error, BoltUnhandledRequestError):
        return ignore_unhandled(body)
    unavailable = database_unavailable(error)
    kind = kind_of(body)
    if unavailable:
        log.warning("database unavailable (%s): %s", kind, type(error).__name__)
    else:
        log.error("listener failed: %s (%s)", type(error).__name__, body.get("type") or kind)
    if kind == "interactive" and isinstance(body.get("response_url"), str):
        respond_after_ack(body["response_url"], APOLOGY if unavailable else FAILED)
    reply = answer(body, retry=unavailable)
    return BoltResponse(
        status=reply.status, body=reply.body, headers={"content-type": reply.content_type}
    )
