"""Per-workspace admins, `/digest admins`, and deliveries kept apart per workspace."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from slack_sdk import WebClient
from support.helpers import SEED_NEWEST
from support.slack_api import SlackStub

from bot.config import Settings
from bot.core import workspaces
from bot.core.grammar import ADMINS_USAGE, AdminsChange, parse_admins, parse_request
from bot.core.ingestion import expand_paths, ingest_files
from bot.delivery.deliverer import Deliverer, everywhere
from bot.delivery.poster import ChannelPacer, SlackPoster, make_web_client
from bot.slack.answers import Answers, Asker
from bot.slack.people import slack_admin_check
from bot.store import ledger
from bot.store.db import Database
from bot.workspace import Workspace
from tests.conftest import SEEDS

NOW = dt.datetime(2026, 5, 13, 12, 0, tzinfo=dt.UTC)
ONE, TWO = Workspace("T0ONE"), Workspace("T0TWO")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", AdminsChange("list")),
        ("add <@U0AB12|ann>", AdminsChange("add", ("U0AB12",))),
        ("ADD <@U0AB12> <@W0CD34|Carl Smith>", AdminsChange("add", ("U0AB12", "W0CD34"))),
        ("remove U0AB12", AdminsChange("remove", ("U0AB12",))),
    ],
)
def test_admin_changes_are_parsed_from_mentions(text: str, expected: AdminsChange) -> None:
    assert parse_admins(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "add",
        "promote <@U0AB12>",
        "add @ann",
        "add <!channel>",
        "add <@U0AB12|x><script>",
        "add <#C0123|general>",
        "remove " + "<@U0AB12> " * 21,
        "add \x00\x01",
    ],
)
def test_hostile_admin_input_gets_a_one_line_hint(text: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_admins(text)
    assert "\n" not in str(raised.value) and ADMINS_USAGE in str(raised.value)


def answers(database: Database, **settings: str) -> Answers:
    return Answers(database, Settings(**settings), lambda: NOW)  # type: ignore[arg-type]


def ask(service: Answers, text: str, user: str, workspace: Workspace, check: object = None) -> str:
    asker = Asker(user, "C1", workspace, check)  # type: ignore[arg-type]
    return service.answer(parse_request(text), asker).text


def test_single_workspace_keeps_digest_admins_and_adds_listed_ones(database: Database) -> None:
    service = answers(database, DIGEST_ADMINS="U0BOSS")
    assert "Only the digest admins" in ask(service, "subscribe 08:00 UTC", "U0ANY", ONE)
    assert "Only the digest admins" in ask(service, "admins add <@U0ANY>", "U0ANY", ONE)
    assert "08:00 UTC" in ask(service, "subscribe 08:00 UTC", "U0BOSS", ONE)
    assert "Added as digest admins" in ask(service, "admins add <@U0ANY|any>", "U0BOSS", ONE)
    assert "09:00 UTC" in ask(service, "subscribe 09:00 UTC", "U0ANY", ONE)
    # The list is the workspace's own: in another workspace U0ANY is nobody.
    assert "Only the digest admins" in ask(service, "subscribe 09:00 UTC", "U0ANY", TWO)
    listing = service.answer(parse_request("admins"), Asker("U0X", "C1", ONE))
    assert "<@U0BOSS>" in listing.text and "<@U0ANY>" in listing.text
    # Nobody set anywhere: anyone may, as before.
    open_service = answers(database)
    assert "07:00 UTC" in ask(open_service, "subscribe 07:00 UTC", "U0ANY", TWO)


def test_many_workspaces_installer_slack_admins_and_the_list(database: Database) -> None:
    service = answers(database, SLACK_CLIENT_ID="111.222", DIGEST_ADMINS="U0ENV")
    with SlackStub() as stub:
        stub.users = {
            "U0ADM": {"is_admin": True},
            "U0OWN": {"is_owner": True, "is_primary_owner": True},
            "U0GONE": {"is_admin": True, "deleted": True},
        }
        check = slack_admin_check(WebClient(token="xoxb-one", base_url=stub.url))
        refused = "Only the digest admins"
        assert refused in ask(service, "subscribe 08:00 UTC", "U0ENV", ONE, check)  # env ignored
        assert refused in ask(service, "subscribe 08:00 UTC", "U0NOBODY", ONE, check)
        assert refused in ask(service, "subscribe 08:00 UTC", "U0GONE", ONE, check)
        assert "08:00 UTC" in ask(service, "subscribe 08:00 UTC", "U0ADM", ONE, check)
        assert "08:00 UTC" in ask(service, "subscribe 08:00 UTC", "U0OWN", ONE, check)
        workspaces.set_installer(database, ONE, "U0INST")
        assert "08:30 UTC" in ask(service, "subscribe 08:30 UTC", "U0INST", ONE, None)
        assert refused in ask(service, "subscribe 08:30 UTC", "U0INST", TWO, check)
        assert "Added" in ask(service, "admins add <@U0NEW|new>", "U0ADM", ONE, check)
        assert "09:00 UTC" in ask(service, "subscribe 09:00 UTC", "U0NEW", ONE, None)
        assert "No longer" in ask(service, "admins remove <@U0NEW>", "U0INST", ONE, check)
        calls = len(stub.calls_to("users.info"))
        assert refused in ask(service, "subscribe 09:00 UTC", "U0NEW", ONE, check)
        assert len(stub.calls_to("users.info")) == calls + 1
        # Slack could not tell: said so, nothing changed.
        stub.fail_next("users.info", 500)
        assert "Could not check" in ask(service, "unsubscribe", "U0ADM", ONE, check)
        stub.fail_next("users.info", 200, error="user_not_found")
        assert "Could not check" in ask(service, "admins add <@U0X12>", "U0ADM", ONE, check)
        listing = ask(service, "admins", "U0NOBODY", ONE, check)
        assert "<@U0INST>" in listing and "U0X12" not in listing and "U0ENV" not in listing
        assert "Schedule: 09:00 UTC" in ask(service, "status", "U0NOBODY", ONE, check)


def seeded(database: Database) -> None:
    ingest_files(database, expand_paths([SEEDS]))


def test_the_same_channel_in_two_workspaces_gets_its_own_delivery(database: Database) -> None:
    seeded(database)
    with SlackStub() as stub:
        poster = SlackPoster(make_web_client("xoxb-any", stub.url), ChannelPacer(0))
        deliverer = Deliverer(database, everywhere(poster), lambda: NOW)
        first = deliverer.deliver_issue(ONE, "C1", SEED_NEWEST)
        again = deliverer.deliver_issue(ONE, "C1", SEED_NEWEST)
        other = deliverer.deliver_issue(TWO, "C1", SEED_NEWEST)
        assert (first.outcome, again.outcome, other.outcome) == ("posted", "already", "posted")
        with database.read() as session:
            for workspace in (ONE, TWO):
                last = ledger.last_delivery(session, workspace, "C1")
                assert last is not None and last.messages == first.posted


def test_uninstall_stops_a_delivery_in_flight(database: Database) -> None:
    seeded(database)
    with SlackStub() as stub:
        stub.hold_next("chat.postMessage", seconds=2, after=2)
        poster = SlackPoster(make_web_client("xoxb-any", stub.url), ChannelPacer(0))
        deliverer = Deliverer(database, everywhere(poster))
        results = []
        sender = threading.Thread(
            target=lambda: results.append(deliverer.deliver_issue(TWO, "C9", SEED_NEWEST))
        )
        sender.start()
        while len(stub.all_messages("C9")) < 3:
            pass
        removed = workspaces.uninstall(database, TWO, workspaces.forget_nothing)
        sender.join(30)
        assert removed >= 3 and not sender.is_alive()
        [result] = results
        assert result.outcome == "busy" and result.error == "lease lost"
        assert len(stub.all_messages("C9")) == 3  # nothing posted after the purge
        with database.read() as session:
            assert ledger.open_deliveries(session, TWO) == []
