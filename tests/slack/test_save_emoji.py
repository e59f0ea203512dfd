"""Each workspace's own save emoji: `/digest emoji`, reactions, App Home, help and hints."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from test_slack_app import Bot, _record_post, blocks_text, reaction, served_bot, wait_for

from bot.core.grammar import EMOJI_USAGE, EmojiChange, emoji_name, parse_emoji
from bot.store import saves
from bot.store import workspaces as store
from bot.store.db import Database
from bot.store.tables import DeliveryMessageRow
from bot.workspace import Workspace

ONE, TWO = Workspace("T111"), Workspace("T222")
TS = "1790000000.000800"


def stored_emoji(database: Database, workspace: Workspace) -> str | None:
    with database.read() as session:
        return store.save_emoji(session, workspace)


def confirmations(bot: Bot, user: str) -> int:
    """How many save/unsave confirmations a person was shown."""
    return sum(c.params.get("user") == user for c in bot.stub.calls_to("chat.postEphemeral"))


def home_text(bot: Bot, team: str, user: str, event_id: str) -> str:
    before = len(bot.stub.calls_to("views.publish"))
    event = {"type": "app_home_opened", "user": user, "tab": "home", "channel": "D1"}
    assert bot.event(event, event_id, team=team) == 200
    wait_for(lambda: len(bot.stub.calls_to("views.publish")) > before)
    return json.dumps(bot.stub.calls_to("views.publish")[-1].params["view"])


def saved_in(bot: Bot, workspace: Workspace, user: str) -> bool:
    with bot.database.read() as session:
        article = _article(bot)
        return saves.is_saved(session, workspace, user, article)


def _article(bot: Bot) -> int:
    with bot.database.read() as session:
        found = session.scalar(
            select(DeliveryMessageRow.article_id).where(DeliveryMessageRow.ts == TS).limit(1)
        )
    assert found is not None
    return found


@pytest.mark.slow
def test_each_workspace_saves_with_its_own_emoji(database_url: str, tmp_path: Path) -> None:
    with served_bot(database_url, tmp_path) as bot:
        for team in (ONE, TWO):
            _record_post(bot.database, "C1", TS, team)
        assert ":bookmark:" in blocks_text(bot.command("emoji", "U1", "C1", "T111"))
        said = blocks_text(bot.command("emoji :Star:", "U1", "C1", "T111"))
        assert ":star:" in said and "now" in said
        assert stored_emoji(bot.database, ONE) == "star"
        assert stored_emoji(bot.database, TWO) is None
        assert "default" in blocks_text(bot.command("emoji", "U1", "C1", "T222"))
        # T111: the default emoji no longer saves there; T222: T111's emoji does not save.
        bot.event(reaction("reaction_added", "U1", "C1", TS, "bookmark"), "EvA0", team="T111")
        bot.event(reaction("reaction_added", "U2", "C1", TS, "star"), "EvB0", team="T222")
        time.sleep(0.5)
        assert not saved_in(bot, ONE, "U1") and not saved_in(bot, TWO, "U2")
        assert confirmations(bot, "U1") == confirmations(bot, "U2") == 0
        # Each workspace's own emoji saves there (a skin tone counts as the emoji).
        bot.event(reaction("reaction_added", "U1", "C1", TS, "star::skin-tone-3"), "EvA1")
        bot.event(reaction("reaction_added", "U2", "C1", TS, "bookmark"), "EvB1", team="T222")
        wait_for(lambda: saved_in(bot, ONE, "U1") and saved_in(bot, TWO, "U2"))
        assert not saved_in(bot, TWO, "U1") and not saved_in(bot, ONE, "U2")
        # Removing another emoji's reaction unsaves nothing; removing the workspace's does.
        bot.event(reaction("reaction_removed", "U1", "C1", TS, "bookmark"), "EvA2", team="T111")
        time.sleep(0.5)
        assert saved_in(bot, ONE, "U1")
        bot.event(reaction("reaction_removed", "U1", "C1", TS, "star"), "EvA3", team="T111")
        wait_for(lambda: not saved_in(bot, ONE, "U1"))
        # Help, App Home and the empty /digest saved name the workspace's emoji.
        assert ":star:" in blocks_text(bot.command("help", "U1", "C1", "T111"))
        assert ":star:" not in blocks_text(bot.command("help", "U2", "C1", "T222"))
        assert ":star:" in blocks_text(bot.command("saved", "U1", "C1", "T111"))
        assert ":bookmark:" in blocks_text(bot.command("saved", "U9", "C1", "T222"))
        assert ":star:" in home_text(bot, "T111", "U1", "EvHomeA")
        assert ":star:" not in home_text(bot, "T222", "U2", "EvHomeB")
        # Reset: back to the deployment default.
        assert "default" in blocks_text(bot.command("emoji reset", "U1", "C1", "T111"))
        assert stored_emoji(bot.database, ONE) is None
        bot.event(reaction("reaction_added", "U1", "C1", TS, "bookmark"), "EvA4", team="T111")
        wait_for(lambda: saved_in(bot, ONE, "U1"))


HOSTILE = [
    "<!channel>",
    "@here",
    "<!here|here>",
    "<@U0BOSS>",
    "x" * 500,
    "a" * 101,
    "star tada",
    ":star",
    "😀",
    "sm ile",
    # Typed as text (Slack escapes it); a real link labelled "star" would mean the emoji star.
    "&lt;https://evil.example|star&gt;",
    "star;DROP",
    "&lt;!channel&gt;",
]


@pytest.mark.slow
def test_hostile_emoji_names_get_the_usage_hint_and_store_nothing(
    database_url: str, tmp_path: Path
) -> None:
    with served_bot(database_url, tmp_path, {"DIGEST_ADMINS": "U0BOSS"}) as bot:
        assert ":tada:" in blocks_text(bot.command("emoji tada", "U0BOSS", "C1", "T111"))
        for text in HOSTILE:
            message = bot.command(f"emoji {text}", "U0BOSS", "C1", "T111")
            shown = blocks_text(message) + message.get("text", "")
            if text == ":star":  # a stray colon is forgiven
                assert ":star:" in shown
                bot.command("emoji tada", "U0BOSS", "C1", "T111")
                continue
            assert "/digest emoji NAME" in shown, text
            assert "<!" not in shown and "<@" not in shown, text
            assert stored_emoji(bot.database, ONE) == "tada", text
        # Only the people who may change schedules may change the emoji.
        refused = blocks_text(bot.command("emoji star", "U2", "C1", "T111"))
        assert "Only the digest admins" in refused
        assert "Only the digest admins" in blocks_text(bot.command("emoji reset", "U2", "C1"))
        assert stored_emoji(bot.database, ONE) == "tada"
        assert ":tada:" in blocks_text(bot.command("emoji", "U2", "C1", "T111"))
        # One workspace keeps its data on app_uninstalled (many workspaces purge it: the
        # core's uninstall tests and tests/slack/test_oauth.py).
        assert bot.event({"type": "app_uninstalled"}, "EvGone", team="T111") == 200
        time.sleep(0.5)
        assert stored_emoji(bot.database, ONE) == "tada"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("bookmark", "bookmark"),
        (":bookmark:", "bookmark"),
        (":+1::skin-tone-2:", "+1"),
        ("thumbsup::skin-tone-6", "thumbsup"),
        ("Star", "star"),
        ("man-woman-boy", "man-woman-boy"),
        ("it's_fine", "it's_fine"),
        ("a" * 100, "a" * 100),
    ],
)
def test_emoji_names_slack_accepts(text: str, name: str) -> None:
    assert emoji_name(text) == name
    assert parse_emoji(text) == EmojiChange("set", name)


@pytest.mark.parametrize(
    "text",
    ["", "::", "a" * 101, "<!channel>", "@here", "é", "Ｓtar", "star\u200b", "a.b", "a/b", "*b*"],
)
def test_other_emoji_names_get_the_usage_hint(text: str) -> None:
    with pytest.raises(ValueError, match="/digest emoji NAME") as raised:
        emoji_name(text)
    assert str(raised.value) == EMOJI_USAGE


def test_emoji_grammar() -> None:
    assert parse_emoji("") == EmojiChange("show")
    assert parse_emoji("  RESET ") == EmojiChange("reset")
    assert parse_emoji("default") == EmojiChange("reset")
    with pytest.raises(ValueError, match="/digest emoji NAME"):
        parse_emoji("star tada")
