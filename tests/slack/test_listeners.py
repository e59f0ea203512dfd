"""Listeners called alone, with fakes for ack/respond/client (as bolt-python's own tests do)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from slack_bolt import BoltContext

from bot.config import Settings
from bot.slack.answers import Answers
from bot.slack.listeners.actions import handle_page
from bot.slack.listeners.commands import handle_digest
from bot.slack.listeners.events import ack_reaction, handle_app_home_opened, handle_reaction
from bot.slack.services import Services, answer_executor
from bot.store.db import Database

NOW = dt.datetime(2026, 5, 13, 12, 0, tzinfo=dt.UTC)
CONTEXT = BoltContext({"team_id": "T1"})


class Recorder:
    """Stands in for ack/respond: records each call's keyword arguments."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


class FakeClient:
    """The Web API calls the event listeners make, recorded instead of sent."""

    token = "xoxb-fake"  # the token Bolt's client carries (the Home tab's timezone lookup)

    def __init__(self) -> None:
        self.ephemeral: list[dict[str, Any]] = []
        self.views: list[dict[str, Any]] = []

    def chat_postEphemeral(self, **kwargs: Any) -> None:  # noqa: N802  Slack's method name
        self.ephemeral.append(kwargs)

    def views_publish(self, **kwargs: Any) -> None:
        self.views.append(kwargs)


def services(database: Database) -> Services:
    settings = Settings(DIGEST_ADMINS="")  # type: ignore[call-arg]
    answers = Answers(database, settings, lambda: NOW, lambda _user: "Europe/Berlin")
    return Services(answers, database, lambda: NOW, settings.save_emoji, answer_executor())


def digest(svc: Services, text: str) -> str:
    ack = Recorder()
    command = {"text": text, "user_id": "U1", "channel_id": "C1"}
    handle_digest(svc, ack, command, Recorder(), CONTEXT, FakeClient())  # type: ignore[arg-type]
    assert len(ack.calls) == 1 and ack.calls[0]["response_type"] == "ephemeral"
    return str(ack.calls[0]["text"])


def test_digest_subscribes_then_reports_status(database: Database) -> None:
    svc = services(database)
    assert "not subscribed" in digest(svc, "status")
    assert "07:30 Europe/Berlin" in digest(svc, "subscribe 07:30")
    assert "Schedule: 07:30 Europe/Berlin, weekdays." in digest(svc, "status")


def test_buttons_with_bad_values_say_so(database: Database) -> None:
    svc = services(database)
    respond = Recorder()
    body = {"user": {"id": "U1"}}
    handle_page(False, svc, {"value": "garbage"}, body, respond, CONTEXT)  # type: ignore[arg-type]
    handle_page(True, svc, {"value": "garbage"}, body, respond, CONTEXT)  # type: ignore[arg-type]
    assert [c["text"] for c in respond.calls] == [
        "That button has expired.",
        "That cannot be shared.",
    ]
    assert all(c["replace_original"] is False for c in respond.calls)


def test_other_reactions_are_ignored(database: Database) -> None:
    client = FakeClient()
    event = {
        "type": "reaction_added",
        "reaction": "thumbsup",
        "user": "U1",
        "item": {"type": "message", "channel": "C1", "ts": "1.0"},
    }
    context = BoltContext({"team_id": "T1"})
    ack = Recorder()
    ack_reaction(services(database), ack, event, {"event_id": "Ev1"}, context)  # type: ignore[arg-type]
    assert len(ack.calls) == 1
    handle_reaction(services(database), client, event, {"event_id": "Ev1"}, context)  # type: ignore[arg-type]
    assert client.ephemeral == []


def test_home_tab_is_published_for_the_person(database: Database) -> None:
    client = FakeClient()
    svc = services(database)
    handle_app_home_opened(svc, {"tab": "messages", "user": "U1"}, client, CONTEXT)  # type: ignore[arg-type]
    assert client.views == []
    handle_app_home_opened(svc, {"tab": "home", "user": "U1"}, client, CONTEXT)  # type: ignore[arg-type]
    assert [v["user_id"] for v in client.views] == ["U1"]
    assert client.views[0]["view"]["type"] == "home"
