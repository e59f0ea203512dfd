"""What Slack says about a person (users.info) that the bot decides on."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)


def slack_admin_check(client: WebClient) -> Callable[[str], bool | None]:
    """users.info → whether the person is an admin or owner of the client's workspace.

    None when Slack could not tell (an error, a timeout): never read as "no".
    """

    def check(user_id: str) -> bool | None:
        try:
            user = client.users_info(user=user_id).get("user")
        except SlackApiError as exc:
            log.info("users.info failed: %s", exc.response.get("error"))
            return None
        except OSError as exc:  # timeouts and dropped connections (after the retry handlers)
            log.info("users.info failed: %s", type(exc).__name__)
            return None
        if not isinstance(user, dict):
            return None
        if user.get("deleted"):
            return False
        return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))

    return check
