"""Slack Connect: a channel shared by two workspaces that both installed the app. Slack delivers
a reaction once, authorized for whichever installation it picks; the save belongs to the reacting
person's own workspace, and the article is found whichever installation posted the message."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select
from support.signing import post, sign
from support.slack_api import SlackStub
from support.slack_requests import event_of
from test_oauth import CLIENT_ID, CLIENT_SECRET, SECRET, Served, served
from test_slack_app import _record_post

from bot.store.tables import ArticleRow, ProcessedEventRow, SaveRow
from bot.workspace import Workspace

A, B = Workspace("TAAA"), Workspace("TBBB")
SHARED = "C0SHARED1"
TS_A = "1790000000.000100"  # posted by A's installation in the shared channel


def shared_reaction(
    event_id: str, user: str, *, installation: str, kind: str = "reaction_added", **event: Any
) -> str:
    """The recorded Slack Connect reaction (bolt-python), on A's post in the shared channel:
    top-level team the channel's host, `authorizations` the installation Slack picked."""
    body = event_of("event_shared_channel_reaction_added")
    body |= {"team_id": "TAAA", "enterprise_id": None, "event_id": event_id}
    body["is_ext_shared_channel"] = True
    body["authorizations"][0] |= {
        "team_id": installation,
        "enterprise_id": None,
        "user_id": f"UBOT{installation}",
    }
    body["event"] |= {
        "type": kind,
        "user": user,
        "reaction": "bookmark",
        "item": {"type": "message", "channel": SHARED, "ts": TS_A},
        "item_user": "UBOTTAAA",
        "event_ts": f"{time.time():.6f}",
        **event,
    }
    return json.dumps(body)


def send(bot: Served, body: str) -> None:
    status, _, _ = post(bot.base + "/slack/events", body, sign(body, SECRET))
    assert status == 200


def saves_of(bot: Served) -> list[tuple[str, str, str, bool]]:
    with bot.database.read() as session:
        rows = session.execute(
            select(SaveRow.team_id, SaveRow.user_id, ArticleRow.title, SaveRow.removed)
            .join(ArticleRow, ArticleRow.id == SaveRow.article_id)
            .order_by(SaveRow.team_id, SaveRow.user_id)
        ).all()
    return [(t, u, title, bool(removed)) for t, u, title, removed in rows]


def handled(bot: Served, *event_ids: str) -> None:
    deadline = time.time() + 15
    while time.time() < deadline:
        with bot.database.read() as session:
            done = set(session.scalars(select(ProcessedEventRow.event_id)))
        if set(event_ids) <= done:
            return
        time.sleep(0.1)
    raise AssertionError(f"events not handled: {set(event_ids) - done}")


def test_a_reaction_in_a_shared_channel_saves_for_the_persons_own_workspace(
    database_url: str, tmp_path: Path
) -> None:
    with SlackStub() as stub:
        stub.oauth_app(CLIENT_ID, CLIENT_SECRET)
        with served(database_url, tmp_path, stub) as bot:
            bot.install("TAAA", user="UADMINA")
            bot.install("TBBB", user="UADMINB")
            article = _record_post(bot.database, SHARED, TS_A, A)
            with bot.database.read() as session:
                title = session.scalar(select(ArticleRow.title).where(ArticleRow.id == article))
            # The reaction event names no team for the person: users.info tells (their own).
            stub.users["UB1"] = {"team_id": "TBBB"}
            stub.users["UA1"] = {"team_id": "TAAA"}

            # A person of B reacts on A's post; Slack picked A's installation.
            send(bot, shared_reaction("EvB1", "UB1", installation="TAAA"))
            # A person of A reacts on A's post; Slack picked B's installation, and says whose
            # the person is (user_team), so no lookup is needed.
            send(bot, shared_reaction("EvA1", "UA1", installation="TBBB", user_team="TAAA"))
            # A person of B reacts and Slack picked B's installation (message posted by A).
            stub.users["UB2"] = {"team_id": "TBBB"}
            send(bot, shared_reaction("EvB2", "UB2", installation="TBBB"))
            handled(bot, "EvB1", "EvA1", "EvB2")
            assert saves_of(bot) == [
                ("TAAA", "UA1", title, False),
                ("TBBB", "UB1", title, False),
                ("TBBB", "UB2", title, False),
            ]
            lookups = [c.params.get("user") for c in stub.calls_to("users.info")]
            assert "UA1" not in lookups and {"UB1", "UB2"} <= set(lookups)

            # Each person finds the save in their own workspace's /digest saved.
            status, answer = bot.command("TBBB", "saved", user="UB1")
            assert status == 200 and title[:12] in answer
            status, answer = bot.command("TAAA", "saved", user="UB1")
            assert status == 200 and "not saved anything" in answer

            # Removing the reaction unsaves it, in the same workspace.
            send(bot, shared_reaction("EvB1x", "UB1", installation="TAAA", kind="reaction_removed"))
            handled(bot, "EvB1x")
            assert ("TBBB", "UB1", title, True) in saves_of(bot)
        assert "Traceback" not in bot.log.read_text()
