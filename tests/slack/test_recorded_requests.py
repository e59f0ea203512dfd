"""Requests recorded from Slack, signed and sent over real HTTP to `python -m bot serve`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.signing import post, sign
from support.slack_requests import body_of, event_of, recorded, recorded_names
from test_slack_app import SECRET, Bot, _record_post, served_bot, wait_for

from bot.store import saves
from bot.workspace import Workspace

SOURCES = ("slackapi/bolt-python@", "slackapi/java-slack-sdk@", "docs.slack.dev/")
# Requests no listener of ours is for: Slack must get a 2xx or it retries them and, after an
# hour of failures, turns event delivery off (saves by reaction included).
UNHANDLED = [
    "event_app_mention",
    "event_shared_channel_app_mention",
    "event_message",
    "event_message_file_share",
    "event_member_joined_channel",
    "event_link_shared",
    "event_reaction_added_bot_itself",
    "block_actions_foreign_button",
    "shortcut_global",
    "shortcut_message",
    "view_submission",
    "view_submission_shared_channel",
    "slash_command",  # /hello-world: another app's command
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Bot, Path]]:
    """The one-workspace bot, and its log file."""
    tmp = tmp_path_factory.mktemp("recorded")
    with served_bot(f"sqlite:///{tmp / 'digest.db'}", tmp) as bot:
        yield bot, tmp / "serve.log"


@pytest.fixture
def bot(served: tuple[Bot, Path]) -> Bot:
    served[0].stub.reset()
    return served[0]


def send(bot: Bot, body: str) -> tuple[int, str]:
    status, answer, _ = post(bot.url, body, sign(body, SECRET))
    return status, answer


def new_log_lines(log: Path, start: int) -> list[str]:
    """Lines the bot logged since `start` (a byte offset), after its lazy listeners ran."""
    time.sleep(0.5)
    with log.open("rb") as f:
        f.seek(start)
        return f.read().decode().splitlines()


def test_every_recorded_request_names_its_source() -> None:
    names = recorded_names()
    assert len(names) >= 15
    for name in names:
        source = recorded(name)["source"]
        assert source.startswith(SOURCES), name


@pytest.mark.slow
@pytest.mark.parametrize("name", UNHANDLED)
def test_requests_without_a_listener_get_200_and_are_ignored(bot: Bot, name: str) -> None:
    started = time.monotonic()
    status, answer = send(bot, body_of(name))
    assert status == 200, answer
    assert time.monotonic() - started < 3  # Slack's limit for an answer
    assert answer.strip() in ("", "{}"), answer
    time.sleep(0.2)
    # Ignored: nothing posted, nothing answered on a response_url.
    assert not bot.stub.calls_to("chat.postMessage") and not bot.stub.responses


@pytest.mark.slow
@pytest.mark.parametrize("name", ["event_app_rate_limited", "event_app_rate_limited_in_envelope"])
def test_app_rate_limited_is_one_warning_line(
    served: tuple[Bot, Path], bot: Bot, name: str
) -> None:
    log = served[1]
    start = log.stat().st_size
    status, answer = send(bot, body_of(name))
    assert status == 200, answer
    lines = new_log_lines(log, start)
    warnings = [line for line in lines if " WARNING " in line]
    assert len(warnings) == 1 and "app_rate_limited" in warnings[0], lines
    assert "1518467820" in warnings[0] or "2018-02-12" in warnings[0]


@pytest.mark.slow
def test_unhandled_requests_leave_no_warning(served: tuple[Bot, Path], bot: Bot) -> None:
    log = served[1]
    start = log.stat().st_size
    for name in UNHANDLED:
        assert send(bot, body_of(name))[0] == 200
    lines = new_log_lines(log, start)
    assert not [line for line in lines if " WARNING " in line or " ERROR " in line], lines


@pytest.mark.slow
def test_the_bots_own_reaction_gets_200(bot: Bot) -> None:
    # Bolt's IgnoringSelfEvents drops it without calling next(): an unhandled request too.
    body = event_of("event_reaction_added_bot_itself")
    body["event"]["user"] = "UBOT"  # the stand-in's bot user
    status, answer = send(bot, json.dumps(body))
    assert status == 200, answer


@pytest.mark.slow
def test_a_recorded_reaction_saves_the_article(bot: Bot) -> None:
    # The recorded reaction (Enterprise Grid org E111, workspace T111), on a post of the bot.
    org = Workspace("T111", "E111")
    article = _record_post(bot.database, "C0REC", "1790000001.000100", org)
    bot.stub.set_member("C0REC")
    body = event_of("event_reaction_added")
    body["event"] |= {"reaction": "bookmark::skin-tone-2", "user": "W0REC"}
    body["event"]["item"] |= {"channel": "C0REC", "ts": "1790000001.000100"}
    status, _ = send(bot, json.dumps(body))
    assert status == 200

    def saved() -> bool:
        with bot.database.read() as session:
            return saves.is_saved(session, org, "W0REC", article)

    wait_for(saved)


@pytest.mark.slow
def test_many_workspaces_answer_unhandled_requests_200(database_url: str, tmp_path: Path) -> None:
    # Add to Slack mode: each request is authorized by its installation first, then ignored.
    from support.slack_api import SlackStub
    from test_oauth import CLIENT_ID, CLIENT_SECRET, served
    from test_oauth import SECRET as MANY_SECRET

    with SlackStub() as stub:
        stub.oauth_app(CLIENT_ID, CLIENT_SECRET)
        with served(database_url, tmp_path, stub) as many:
            # The workspaces the recorded bodies come from: T111 in org E111, and T111 alone.
            state, cookie = many.start_install()
            code = stub.authorize("T111", enterprise_id="E111")
            assert many.redirect(code, state, cookie)[0] == 200
            many.install("T111")
            start = many.log.stat().st_size
            for name in [*UNHANDLED, "event_app_rate_limited_in_envelope"]:
                body = body_of(name)
                headers = sign(body, MANY_SECRET)
                status, answer, _ = post(many.base + "/slack/events", body, headers)
                assert status == 200, (name, answer)
            lines = new_log_lines(many.log, start)
    # The two Slack Connect bodies name workspaces not installed here: Bolt answers those
    # "not installed" (its authorization's own line); everything else is ignored quietly.
    warnings = [
        line
        for line in lines
        if (" WARNING " in line or " ERROR " in line) and "MultiTeamsAuthorization" not in line
    ]
    assert len(warnings) == 1 and "app_rate_limited" in warnings[0], warnings
