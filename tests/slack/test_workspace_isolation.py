"""Two workspaces with the same channel and user ids, over signed HTTP to the real Bolt app."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from test_slack_app import Bot, _record_post, blocks_text, reaction, served_bot, wait_for

from bot.store import saves
from bot.store.db import Database
from bot.store.tables import (
    ChannelFilterRow,
    DeliveryMessageRow,
    DeliveryRow,
    ProcessedEventRow,
    SaveRow,
    SubscriptionRow,
    WorkspaceAdminRow,
)
from bot.workspace import Workspace

pytestmark = pytest.mark.slow  # real bot processes

ONE, TWO = Workspace("T111"), Workspace("T222")
TS = "1790000000.000700"


def rows(database: Database, workspace: Workspace) -> dict[str, int]:
    """How many rows of each per-workspace table belong to the workspace."""
    counts = {}
    with database.read() as session:
        for table in (
            SubscriptionRow,
            DeliveryRow,
            DeliveryMessageRow,
            SaveRow,
            ProcessedEventRow,
            WorkspaceAdminRow,
            ChannelFilterRow,
        ):
            counts[table.__tablename__] = int(
                session.scalar(
                    select(func.count())
                    .select_from(table)
                    .where(table.team_id == workspace.team_id)
                )
                or 0
            )
    return counts


def home_of(bot: Bot, team: str, user: str, event_id: str) -> str:
    """The Home tab the bot publishes for a person of a workspace."""
    before = len(bot.stub.calls_to("views.publish"))
    event = {"type": "app_home_opened", "user": user, "tab": "home", "channel": "D1"}
    assert bot.event(event, event_id, team=team) == 200
    wait_for(lambda: len(bot.stub.calls_to("views.publish")) > before)
    call = bot.stub.calls_to("views.publish")[-1]
    assert call.params["user_id"] == user
    return json.dumps(call.params["view"])


def test_two_workspaces_with_the_same_ids_never_share_data(
    database_url: str, tmp_path: Path
) -> None:
    with served_bot(database_url, tmp_path) as bot:
        _record_post(bot.database, "C1", TS, ONE)
        # U1 of T111 saves; U1 of T222 reacts to the same channel and ts, where T222's bot
        # never posted: nothing is saved there.
        assert bot.event(reaction("reaction_added", "U1", "C1", TS), "EvA1", team="T111") == 200
        assert bot.event(reaction("reaction_added", "U1", "C1", TS), "EvB1", team="T222") == 200
        wait_for(lambda: "Viaduct" in blocks_text(bot.command("saved", "U1", "C1", "T111")))
        wait_for(lambda: rows(bot.database, TWO)["processed_events"] == 1)
        assert "not saved anything" in blocks_text(bot.command("saved", "U1", "C1", "T222"))
        assert "Viaduct" in home_of(bot, "T111", "U1", "EvHomeA")
        assert "Viaduct" not in home_of(bot, "T222", "U1", "EvHomeB")
        # Subscriptions: the same channel id, two schedules, changed independently.
        assert "07:30 UTC" in blocks_text(bot.command("subscribe 07:30 UTC", "U1", "C1", "T111"))
        assert "not subscribed" in blocks_text(bot.command("status", "U1", "C1", "T222"))
        assert "08:15 UTC" in blocks_text(bot.command("subscribe 08:15 UTC", "U1", "C1", "T222"))
        assert "Schedule: 07:30 UTC" in blocks_text(bot.command("status", "U1", "C1", "T111"))
        assert "Schedule: 08:15 UTC" in blocks_text(bot.command("status", "U1", "C1", "T222"))
        # Filters: the same channel id, each workspace's own (from Bolt's context).
        bot.command("filter include topic kafka", "U1", "C1", "T111")
        assert "no filter" in blocks_text(bot.command("filter", "U1", "C1", "T222"))
        assert "Filter: include topic kafka" in blocks_text(
            bot.command("status", "U1", "C1", "T111")
        )
        assert "Filter:" not in blocks_text(bot.command("status", "U1", "C1", "T222"))
        bot.command("filter exclude topic kafka", "U1", "C1", "T222")
        assert "exclude topic kafka" in blocks_text(bot.command("filter", "U1", "C1", "T222"))
        assert "exclude topic" not in blocks_text(bot.command("filter", "U1", "C1", "T111"))
        assert "no longer" in blocks_text(bot.command("unsubscribe", "U1", "C1", "T222"))
        assert "Schedule: 07:30 UTC" in blocks_text(bot.command("status", "U1", "C1", "T111"))
        # T111's delivery shows in its own status only.
        assert "Last delivery: issue" in blocks_text(bot.command("status", "U1", "C1", "T111"))
        assert "Last delivery: none" in blocks_text(bot.command("status", "U1", "C1", "T222"))
        with bot.database.read() as session:
            assert saves.is_saved(session, ONE, "U1", _first_article(bot))
            assert not saves.is_saved(session, TWO, "U1", _first_article(bot))


def _first_article(bot: Bot) -> int:
    with bot.database.read() as session:
        article = session.scalar(
            select(DeliveryMessageRow.article_id).where(DeliveryMessageRow.ts == TS)
        )
    assert article is not None
    return article


def test_uninstall_events_keep_every_workspace_in_one_workspace_mode(
    database_url: str, tmp_path: Path
) -> None:
    # One token (SLACK_BOT_TOKEN) ignores uninstall events, as the manifest says; many
    # workspaces purge only the uninstalled one and reinstall clean (tests/slack/test_oauth.py).
    with served_bot(database_url, tmp_path) as bot:
        for team in (ONE, TWO):
            _record_post(bot.database, "C1", TS, team)
            event = reaction("reaction_added", "U1", "C1", TS)
            assert bot.event(event, f"EvSave{team.team_id}", team=team.team_id) == 200
            bot.command("subscribe 09:00 UTC", "U1", "C1", team.team_id)
            bot.command(f"filter include topic kafka {team.team_id}", "U1", "C1", team.team_id)
            bot.command("admins add <@U0TWO|two>", "U1", "C1", team.team_id)
        wait_for(lambda: all(rows(bot.database, t)["saves"] == 1 for t in (ONE, TWO)))
        before = {team: rows(bot.database, team) for team in (ONE, TWO)}
        assert all(all(counted.values()) for counted in before.values()), before
        for n, event in enumerate(
            (
                {"type": "tokens_revoked", "tokens": {"oauth": ["U1"], "bot": []}},
                {"type": "app_uninstalled"},
                {"type": "tokens_revoked", "tokens": {"bot": ["UBOT"]}},
            )
        ):
            assert bot.event(event, f"EvGone{n}", team="T222") == 200
        time.sleep(1)
        assert {team: rows(bot.database, team) for team in (ONE, TWO)} == before
        assert "Viaduct" in blocks_text(bot.command("saved", "U1", "C1", "T222"))
        assert "kafka T222" in blocks_text(bot.command("filter", "U1", "C1", "T222"))
