"""The /digest answers that depend on settings: who may change a channel's schedule."""

from __future__ import annotations

import datetime as dt

from bot.config import Settings
from bot.slack.answers import Answers, Asker
from bot.slack.grammar import parse_request
from bot.store.db import Database

NOW = dt.datetime(2026, 5, 13, 12, 0, tzinfo=dt.UTC)


def answers(database: Database, admins: str = "") -> Answers:
    settings = Settings(DIGEST_ADMINS=admins)  # type: ignore[call-arg]
    return Answers(database, settings, lambda: NOW, lambda _user: "America/New_York")


def test_anyone_may_subscribe_without_admins(database: Database) -> None:
    reply = answers(database).answer(parse_request("subscribe"), Asker("U1", "C1"))
    assert "09:00 America/New_York" in reply.text


def test_only_admins_may_change_schedules_when_set(database: Database) -> None:
    service = answers(database, admins="UADMIN, UOTHER")
    refused = service.answer(parse_request("subscribe 08:00 UTC"), Asker("U1", "C1"))
    assert "Only the digest admins" in refused.text
    refused = service.answer(parse_request("unsubscribe"), Asker("U1", "C1"))
    assert "Only the digest admins" in refused.text
    allowed = service.answer(parse_request("subscribe 08:00 UTC"), Asker("UOTHER", "C1"))
    assert "08:00 UTC" in allowed.text
    status = service.answer(parse_request("status"), Asker("U1", "C1"))
    assert "Schedule: 08:00 UTC" in status.text  # anyone may look
