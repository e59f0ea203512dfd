"""Sending files to a person's DM (bot.slack.file_uploads) against the stand-in's model of
files_upload_v2: what Slack checks at each of its three steps."""

from __future__ import annotations

import urllib.request

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from support.slack_api import SlackStub

from bot.core.exports import ExportFile
from bot.slack.file_uploads import MISSING_SCOPE, failure_text, send_to_dm

TOKEN, OTHER_TOKEN = "xoxb-files-0123456789", "xoxb-other-team-0123456789"
FILES = [
    ExportFile("a.csv", "A (CSV)", "title\r\n“Ünïcode” ✓\r\n"),
    ExportFile("b.md", "B", "# B\n"),
]


@pytest.fixture
def stub() -> SlackStub:
    with SlackStub(teams={OTHER_TOKEN: "T222"}) as running:
        yield running


def client(stub: SlackStub, token: str = TOKEN) -> WebClient:
    return WebClient(token=token, base_url=stub.url)


def error_of(call: object) -> str:
    with pytest.raises(SlackApiError) as raised:
        call()  # type: ignore[operator]
    return str(raised.value.response["error"])


def test_files_arrive_whole_in_the_persons_dm(stub: SlackStub) -> None:
    assert send_to_dm(client(stub), "U7", FILES, "Here they are.") is None
    dm = stub.dm_channel("U7")
    shared = stub.uploads(dm)
    assert [(u.filename, u.title) for u in shared] == [("a.csv", "A (CSV)"), ("b.md", "B")]
    assert [u.content for u in shared] == [f.content.encode() for f in FILES]
    assert [u.length for u in shared] == [len(f.content.encode()) for f in FILES]
    [message] = stub.messages(dm)
    assert message["text"] == "Here they are." and len(message["files"]) == 2
    steps = [c.method for c in stub.calls]
    assert steps == [
        "conversations.open",
        "files.getUploadURLExternal",
        "files.getUploadURLExternal",
        "upload_url",
        "upload_url",
        "files.completeUploadExternal",
    ]


def test_completing_needs_a_known_uploaded_file_of_the_same_team(stub: SlackStub) -> None:
    web = client(stub)
    dm = web.conversations_open(users="U7")["channel"]["id"]
    complete = web.files_completeUploadExternal
    assert error_of(lambda: complete(files=[{"id": "F404"}], channel_id=dm)) == "file_not_found"
    announced = web.files_getUploadURLExternal(filename="x.csv", length=3)
    file_id = announced["file_id"]
    # Announced, but its bytes never arrived.
    assert error_of(lambda: complete(files=[{"id": file_id}], channel_id=dm)) == "file_not_found"
    url = str(announced["upload_url"])
    upload = urllib.request.Request(url, data=b"a,b", method="POST")  # noqa: S310  stand-in
    with urllib.request.urlopen(upload, timeout=5) as answer:  # noqa: S310  the stand-in
        assert answer.status == 200 and answer.read() == b"OK - 3"
    other = client(stub, OTHER_TOKEN).files_completeUploadExternal
    assert error_of(lambda: other(files=[{"id": file_id}], channel_id=dm)) == "file_not_found"
    done = complete(files=[{"id": file_id, "title": "X"}], channel_id=dm)
    assert done["files"] == [{"id": file_id, "name": "x.csv", "title": "X"}]


def test_a_dm_not_opened_or_refused_is_no_place_for_a_file(stub: SlackStub) -> None:
    web = client(stub)
    file_id = web.files_getUploadURLExternal(filename="x.csv", length=1)["file_id"]
    stub._receive_bytes(str(file_id), b"x")
    complete = web.files_completeUploadExternal
    assert error_of(lambda: complete(files=[{"id": file_id}], channel_id="D0NEVER")) == (
        "channel_not_found"
    )
    stub.fail_channel(stub.dm_channel("U7"), "not_in_channel")
    assert send_to_dm(web, "U7", FILES, "x") == "not_in_channel"
    assert stub.uploads() == []


def test_without_files_write_nothing_is_announced(stub: SlackStub) -> None:
    stub.scopes.discard("files:write")
    web = client(stub)
    with pytest.raises(SlackApiError) as raised:
        web.files_getUploadURLExternal(filename="x.csv", length=1)
    assert raised.value.response["error"] == "missing_scope"
    assert raised.value.response["needed"] == "files:write"
    assert send_to_dm(web, "U7", FILES, "x") == "missing_scope"
    assert failure_text("missing_scope") == MISSING_SCOPE and "files:write" in MISSING_SCOPE


def test_a_failed_upload_post_stops_before_completing(stub: SlackStub) -> None:
    stub.fail_next("upload_url", 500)
    assert send_to_dm(client(stub), "U7", FILES, "x") == "upload_failed"
    assert stub.calls_to("files.completeUploadExternal") == []
    assert "upload_failed" in failure_text("upload_failed")
