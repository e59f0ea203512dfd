"""/digest saved export over signed HTTP to the app as `serve` runs it: acked at once, then the
person's saves as files in their DM with the app (files_upload_v2 against the stand-in), and one
clear line when there is nothing to send or Slack refuses."""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from markdown_it import MarkdownIt
from support.saved import HOSTILE_TITLES, Saved, seed_saves
from support.served_app import BOT_TOKEN, Served, install, served, settings_for
from support.slack_api import SlackStub

from bot.clock import utc_now
from bot.core.exports import CSV_COLUMNS, NOTHING_SAVED
from bot.slack.file_uploads import MISSING_SCOPE
from bot.store.db import Database

DM = SlackStub.dm_channel("U1")


def wait_for(condition: Callable[[], object], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@contextmanager
def app(database: Database, *, many: bool = False) -> Iterator[tuple[Served, list[Saved]]]:
    with SlackStub() as stub:
        settings = settings_for(stub, str(database.engine.url), many=many)
        expected = seed_saves(database, utc_now())
        if many:
            for team in ("T111", "T222"):
                stub.teams[install(settings, database, team)] = team
        with served(settings, database, stub) as served_app:
            yield served_app, expected


def ack_text(answer: str) -> str:
    body = json.loads(answer)
    assert body["response_type"] == "ephemeral"
    return str(body["text"])


def parsed_csv(content: bytes) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(content.decode(), newline=""))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    return list(reader)


def titles_of(expected: list[Saved]) -> list[str]:
    """The title cells a spreadsheet shows as text: formula-like ones start with a quote."""
    return [("'" if s.title[0] in "=+-@" else "") + s.title for s in expected]


def test_the_export_arrives_in_the_dm_as_csv_and_markdown(database: Database) -> None:
    with app(database) as (bot, expected):
        status, answer, seconds = bot.command("saved export", user="U1")
        assert status == 200 and seconds < 2.0
        assert ack_text(answer) == "Sending your 5 saved articles in a DM…"
        stub = bot.stub
        wait_for(lambda: len(stub.uploads(DM)) == 2)
        [opened] = stub.calls_to("conversations.open")
        assert opened.params["users"] == "U1" and opened.token == BOT_TOKEN
        assert all(c.token == BOT_TOKEN for c in stub.calls_to("files.completeUploadExternal"))
        csv_file, md_file = stub.uploads(DM)
        assert (csv_file.filename, md_file.filename) == ("saved-articles.csv", "saved-articles.md")
        assert csv_file.content is not None and md_file.content is not None
        rows = parsed_csv(csv_file.content)
        assert [r["title"] for r in rows] == titles_of(expected)
        assert [r["url"] for r in rows] == [s.url for s in expected]
        assert [r["saved_at"] for r in rows] == [
            s.saved_at.isoformat(timespec="seconds") for s in expected
        ]
        assert HOSTILE_TITLES[1] in [r["title"] for r in rows]  # `<!channel>`, `|`, `]` kept
        tokens = MarkdownIt("commonmark").parse(md_file.content.decode())
        assert len([t for t in tokens if t.type == "list_item_open" and t.level == 1]) == 5
        assert b"<!" not in md_file.content and b"<@" not in md_file.content
        # One message in the DM carries both files; its text is the bot's own, no digest text.
        [message] = stub.messages(DM)
        assert [f["id"] for f in message["files"]] == [csv_file.id, md_file.id]
        assert message["text"] == (
            "Your 5 saved articles: a CSV for spreadsheets and a Markdown reading list."
        )
        assert stub.responses == []  # nothing more to say to the person


def test_each_workspace_exports_only_its_own_persons_saves(database: Database) -> None:
    with app(database, many=True) as (bot, expected):
        status, answer, _ = bot.command("saved export csv", team="T222", user="U1")
        assert status == 200 and ack_text(answer) == "Sending your 2 saved articles in a DM…"
        wait_for(lambda: len(bot.stub.uploads()) == 1)
        [upload] = bot.stub.uploads()
        assert upload.team == "T222" and upload.filename == "saved-articles.csv"
        assert upload.content is not None
        theirs = [r["title"] for r in parsed_csv(upload.content)]
        assert len(theirs) == 2 and not set(theirs) & set(titles_of(expected))
        assert {c.token for c in bot.stub.calls if c.method.startswith("files.")} == {
            "xoxb-t222-0123456789"
        }
        _, answer, _ = bot.command("saved export", team="T111", user="U1")
        assert ack_text(answer) == "Sending your 5 saved articles in a DM…"
        wait_for(lambda: len(bot.stub.uploads()) == 3)
        mine = [u for u in bot.stub.uploads() if u.team == "T111"]
        assert mine[0].content is not None
        assert [r["title"] for r in parsed_csv(mine[0].content)] == titles_of(expected)


def test_nothing_saved_says_so_and_sends_no_file(database: Database) -> None:
    with app(database) as (bot, _):
        status, answer, _ = bot.command("saved export", user="U9")
        assert status == 200 and ack_text(answer) == NOTHING_SAVED
        time.sleep(0.5)  # the listener after the ack (there is none to run) would be done
        assert bot.stub.calls_to("conversations.open") == []
        assert bot.stub.calls_to("files.getUploadURLExternal") == []
        assert bot.stub.responses == []


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("saved export pdf", "`/digest saved export csv`"),
        ("saved export since 2026-01-01", "leave out the date range"),
    ],
)
def test_bad_arguments_get_a_hint_and_no_file(database: Database, text: str, said: str) -> None:
    with app(database) as (bot, _):
        status, answer, _ = bot.command(text, user="U1")
        assert status == 200 and said in ack_text(answer)
        time.sleep(0.3)
        assert bot.stub.calls_to("files.getUploadURLExternal") == []


def _told(bot: Served) -> str:
    wait_for(lambda: bot.stub.responses)
    [response] = bot.stub.responses
    assert response.params["response_type"] == "ephemeral"
    return str(response.params["text"])


@pytest.mark.parametrize(
    ("fault", "said", "logged"),
    [
        ("missing_scope", MISSING_SCOPE, "missing_scope"),
        ("upload_url", "Slack said `upload_failed`", "HTTPError"),
        ("dm_refused", "Slack said `not_in_channel`", "not_in_channel"),
    ],
)
def test_a_refused_upload_is_one_line_to_the_person_and_one_in_the_log(
    database: Database, caplog: pytest.LogCaptureFixture, fault: str, said: str, logged: str
) -> None:
    caplog.set_level(logging.INFO)
    with app(database) as (bot, _):
        if fault == "missing_scope":
            bot.stub.scopes.discard("files:write")
        elif fault == "upload_url":
            bot.stub.fail_next("upload_url", 500)
        else:
            bot.stub.fail_channel(DM, "not_in_channel")
        status, answer, _ = bot.command("saved export", user="U1")
        assert status == 200 and ack_text(answer).startswith("Sending your 5")
        assert said in _told(bot)
        assert bot.stub.uploads() == []
    failures = [r for r in caplog.records if "upload" in r.getMessage()]
    assert len(failures) == 1 and logged in failures[0].getMessage()
    assert failures[0].levelno == logging.WARNING
    assert not any(
        BOT_TOKEN in r.getMessage() or "/upload/" in r.getMessage() for r in caplog.records
    )
