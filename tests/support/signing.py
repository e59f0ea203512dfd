"""Requests built and signed exactly as Slack builds and signs them (v0 HMAC-SHA256)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


def sign(body: str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Headers Slack sends: X-Slack-Signature over 'v0:{ts}:{body}' and the timestamp."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    content_type = (
        "application/json" if body.startswith("{") else "application/x-www-form-urlencoded"
    )
    return {
        "X-Slack-Signature": f"v0={digest}",
        "X-Slack-Request-Timestamp": ts,
        "Content-Type": content_type,
    }


def slash_command_body(
    text: str,
    *,
    user_id: str = "U111",
    channel_id: str = "C111",
    response_url: str = "https://hooks.slack.com/commands/T111/1/x",
    command: str = "/digest",
    team_id: str = "T111",
) -> str:
    """A form-encoded slash command payload with every field Slack sends."""
    return urllib.parse.urlencode(
        {
            "token": "verification-token-deprecated",
            "team_id": team_id,
            "team_domain": "example",
            "enterprise_id": "",
            "enterprise_name": "",
            "channel_id": channel_id,
            "channel_name": "general",
            "user_id": user_id,
            "user_name": "someone",
            "command": command,
            "text": text,
            "api_app_id": "A111",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": "111.222.abc",
        }
    )


def event_body(event: dict[str, Any], event_id: str, team_id: str = "T111") -> str:
    """An Events API envelope around one event."""
    return json.dumps(
        {
            "token": "verification-token-deprecated",
            "team_id": team_id,
            "api_app_id": "A111",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": team_id,
                    "user_id": "UBOT",
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
    )


def block_actions_body(
    action_id: str, value: str, *, user_id: str, response_url: str, channel_id: str
) -> str:
    """A button click on an ephemeral message, form-encoded as payload=JSON."""
    payload = {
        "type": "block_actions",
        "team": {"id": "T111", "domain": "example"},
        "user": {"id": user_id, "username": "someone", "team_id": "T111"},
        "api_app_id": "A111",
        "token": "verification-token-deprecated",
        "container": {
            "type": "message",
            "message_ts": "1700000000.000001",
            "channel_id": channel_id,
            "is_ephemeral": True,
        },
        "trigger_id": "111.222.abc",
        "channel": {"id": channel_id, "name": "general"},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": "b1",
                "type": "button",
                "value": value,
                "text": {"type": "plain_text", "text": "x"},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return "payload=" + urllib.parse.quote(json.dumps(payload))


def post(
    url: str, body: str, headers: dict[str, str], timeout: float = 10
) -> tuple[int, str, dict[str, str]]:
    """POST and return (status, body, headers), also for 4xx/5xx."""
    request = urllib.request.Request(  # noqa: S310  tests post to loopback http only
        url, data=body.encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)
