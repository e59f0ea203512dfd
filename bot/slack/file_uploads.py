"""Files sent to a person in the app's DM with them (files_upload_v2), and what to say when
Slack refuses."""

from __future__ import annotations

import logging
import re

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.core.exports import ExportFile

log = logging.getLogger(__name__)

_ERROR_CODE = re.compile(r"^[a-z_]{1,60}$")
MISSING_SCOPE = (
    "The file could not be sent: this app lacks Slack's `files:write` permission. Ask a "
    "workspace admin to update the app from its manifest and reinstall it."
)


def failure_text(error: str) -> str:
    """One line for the person about a failed upload (Slack's error code, never a secret)."""
    if error == "missing_scope":
        return MISSING_SCOPE
    return (
        f"Sorry, the file could not be sent to your DM with the app (Slack said `{error}`). "
        "Please try again in a moment."
    )


def send_to_dm(
    client: WebClient, user_id: str, files: list[ExportFile], comment: str
) -> str | None:
    """Open the app's DM with the person and upload the files into it as one message; None
    when sent, else Slack's error code (or the kind of failure), logged in one line."""
    try:
        opened = client.conversations_open(users=user_id)
        channel = str((opened.get("channel") or {}).get("id") or "")
        client.files_upload_v2(
            file_uploads=[
                {"content": f.content, "filename": f.filename, "title": f.title} for f in files
            ],
            channel=channel,
            initial_comment=comment,
        )
    except SlackApiError as exc:
        code = str(exc.response.get("error") or "")
        error = code if _ERROR_CODE.match(code) else f"http_{exc.response.status_code}"
    except (SlackClientError, OSError) as exc:
        # The POST of the bytes failed (slack_sdk raises for a non-200 answer; urllib for an
        # HTTP error or a dropped connection): its message may hold the signed upload URL.
        error = "upload_failed"
        log.warning("file upload to a DM failed: %s", type(exc).__name__)
        return error
    else:
        return None
    log.warning("file upload to a DM failed: %s", error)
    return error
