"""Single-workspace mode: whose token this is (auth.test), and adopting rows from before 0008."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.clock import Clock, utc_now
from bot.config import Settings
from bot.core import workspaces
from bot.store.db import Database
from bot.workspace import Workspace

log = logging.getLogger(__name__)


class IdentityError(Exception):
    """Slack could not say whose token SLACK_BOT_TOKEN is."""


@dataclass(frozen=True)
class TokenIdentity:
    """The workspace a bot token belongs to, and its name."""

    workspace: Workspace
    name: str | None


def token_identity(settings: Settings) -> TokenIdentity:
    """auth.test with SLACK_BOT_TOKEN; IdentityError (one line, no secret) when it fails."""
    if settings.slack_bot_token is None:
        raise IdentityError("SLACK_BOT_TOKEN is not set")
    kwargs: dict[str, object] = {
        "token": settings.slack_bot_token.get_secret_value(),
        # Asked once at start: an unreachable Slack must not hold the process up for long.
        "timeout": 5,
        "retry_handlers": [RateLimitErrorRetryHandler(max_retry_count=1)],
    }
    if settings.slack_api_url:
        kwargs["base_url"] = settings.slack_api_url
    try:
        response = WebClient(**kwargs).auth_test()  # type: ignore[arg-type]
    except SlackApiError as exc:
        raise IdentityError(f"auth.test answered {exc.response.get('error')}") from None
    except (SlackClientError, OSError) as exc:
        raise IdentityError(f"Slack unreachable ({type(exc).__name__})") from None
    enterprise = str(response.get("enterprise_id") or "")
    # An org-wide install's token speaks for the whole org: its rows are keyed by the org.
    team = "" if response.get("is_enterprise_install") else str(response.get("team_id") or "")
    if not (team or enterprise):
        raise IdentityError("auth.test named no workspace")
    name = response.get("team")
    return TokenIdentity(Workspace(team, enterprise), str(name) if name else None)


def adopt_token_workspace(
    settings: Settings, database: Database, clock: Clock = utc_now
) -> Workspace:
    """The token's workspace, with every row from before workspaces assigned to it (once)."""
    identity = token_identity(settings)
    workspaces.adopt(database, identity.workspace, clock(), identity.name)
    return identity.workspace


def adopt_at_start(settings: Settings, database: Database, clock: Clock = utc_now) -> None:
    """`serve` and `worker` in single-workspace mode: adopt, or say why not and carry on."""
    if settings.multi_workspace or settings.slack_bot_token is None:
        return
    try:
        workspace = adopt_token_workspace(settings, database, clock)
    except IdentityError as exc:
        log.warning("cannot tell the token's workspace yet (%s); old rows stay unassigned", exc)
        return
    log.info("serving workspace %s", workspace)
