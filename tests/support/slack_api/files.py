"""File uploads as slack_sdk's `files_upload_v2` makes them: files.getUploadURLExternal (an
`upload_url` on the stand-in itself and a `file_id`), an HTTP POST of the bytes to that URL, then
files.completeUploadExternal(files=[{id, title}], channel_id=…), which shares the files into the
channel as one message. Both methods need `files:write` among the granted scopes (`scopes`);
sharing into a DM needs the DM opened (conversations.open), into a private channel membership.
`uploads(channel)` reads back what was shared; `fail_next("upload_url", 500)` fails the POST.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from support.slack_api.state import Part, channel_key

SCOPE = "files:write"


@dataclass
class Upload:
    """A file as the stand-in holds it: announced, then its bytes, then shared (or not)."""

    id: str
    team: str
    filename: str
    length: int
    content: bytes | None = None
    title: str = ""
    channel: str | None = None
    comment: str = ""


class Files(Part):
    """Uploads per file id; shared files are also a message in their channel."""

    scopes: set[str]
    base: str

    def uploads(self, channel: str | None = None) -> list[Upload]:
        """Files shared (into `channel`, or anywhere), in the order they were announced."""
        with self._lock:
            shared = [u for u in self._state.uploads.values() if u.channel is not None]
        return [u for u in shared if channel is None or u.channel == channel]

    def _missing_scope(self) -> dict[str, Any] | None:
        if SCOPE in self.scopes:
            return None
        provided = ",".join(sorted(self.scopes))
        return {"ok": False, "error": "missing_scope", "needed": SCOPE, "provided": provided}

    def _get_upload_url(self, params: dict[str, Any], team: str) -> dict[str, Any]:
        refused = self._missing_scope()
        if refused:
            return refused
        filename = str(params.get("filename") or "")
        length = str(params.get("length") or "")
        if not filename or not length.isdigit() or int(length) < 1:
            return {"ok": False, "error": "invalid_arguments"}
        with self._lock:
            file_id = f"F{len(self._state.uploads) + 1:08d}"
            self._state.uploads[file_id] = Upload(file_id, team, filename, int(length))
        return {"ok": True, "upload_url": f"{self.base}/upload/{file_id}", "file_id": file_id}

    def _receive_bytes(self, file_id: str, data: bytes) -> int:
        """The POST to an upload_url: 200 when the file was announced, else 404."""
        with self._lock:
            upload = self._state.uploads.get(file_id)
            if upload is None:
                return 404
            upload.content = data
        return 200

    def _complete_upload(self, params: dict[str, Any], team: str) -> dict[str, Any]:
        refused = self._missing_scope()
        if refused:
            return refused
        try:
            wanted = json.loads(str(params.get("files") or ""))
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        if not isinstance(wanted, list) or not wanted:
            return {"ok": False, "error": "invalid_arguments"}
        channel = str(params.get("channel_id") or "")
        with self._lock:
            found = []
            for item in wanted:
                upload = self._state.uploads.get(str(item.get("id", "")))
                # Another team's file, or one whose bytes never arrived, is not there to share.
                if upload is None or upload.team != team or upload.content is None:
                    return {"ok": False, "error": "file_not_found"}
                found.append((upload, str(item.get("title") or upload.filename)))
            if channel:
                error = self._share_refusal(channel)
                if error:
                    return {"ok": False, "error": error}
            for upload, title in found:
                upload.title = title
                upload.channel = channel or None
                upload.comment = str(params.get("initial_comment") or "")
            files = [{"id": u.id, "name": u.filename, "title": u.title} for u, _ in found]
            if channel:
                message = {
                    "type": "message",
                    "ts": self._new_ts(),  # type: ignore[attr-defined]
                    "user": "UBOT",
                    "text": str(params.get("initial_comment") or ""),
                    "files": files,
                }
                self._state.messages[channel_key(team, channel)].append(message)
        return {"ok": True, "files": files}

    def _share_refusal(self, channel: str) -> str | None:
        """Why a file cannot be shared into the channel (None: it can)."""
        error = self._state.channel_errors.get(channel)
        if error:
            return error
        info = self._state.channels.get(channel)
        if channel.startswith("D"):
            # The app's DM with a person exists once conversations.open returned it.
            return None if info is not None and info.bot_member else "channel_not_found"
        if info is not None and info.archived:
            return "is_archived"
        if info is not None and info.private and not info.bot_member:
            return "not_in_channel"
        return None
