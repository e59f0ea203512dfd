"""/digest follow over real HTTP (signed as Slack signs), the DM's Save button, and the Home
tab's follows with Unfollow, against `python -m bot serve` on both backends."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from support.signing import block_actions_body, post, sign
from test_slack_app import SECRET, Bot, assert_valid, blocks_text, served_bot, wait_for

from bot.core import follows
from bot.slack.rendering import (
    ACTION_FOLLOW_AS_TYPED,
    ACTION_FOLLOW_SAVE,
    ACTION_FOLLOW_SUGGESTED,
    ACTION_UNFOLLOW,
)
from bot.store.tables import FollowRow, SaveRow

pytestmark = pytest.mark.slow  # real bot processes


def click(bot: Bot, action_id: str, value: str, user: str, channel: str = "DU1") -> None:
    body = block_actions_body(
        action_id,
        value,
        user_id=user,
        response_url=bot.stub.response_url("click"),
        channel_id=channel,
    )
    status, _, _ = post(bot.url, body, sign(body, SECRET))
    assert status == 200


def home_view(bot: Bot, user: str, event_id: str) -> dict[str, Any]:
    before = len(bot.stub.calls_to("views.publish"))
    assert bot.event({"type": "app_home_opened", "user": user, "tab": "home"}, event_id) == 200
    wait_for(lambda: len(bot.stub.calls_to("views.publish")) > before)
    view = bot.stub.calls_to("views.publish")[-1].params["view"]
    return dict(json.loads(view) if isinstance(view, str) else view)


def test_follow_following_unfollow_home_and_save(database_url: str, tmp_path: Path) -> None:
    with served_bot(database_url, tmp_path) as bot:
        reply = bot.command("follow company cloudflare", user="UF1")
        assert "You now follow Cloudflare" in blocks_text(reply)
        assert_valid(reply)
        assert "Did you mean" in blocks_text(bot.command("follow company Cloudflar", user="UF1"))
        assert "already follow" in blocks_text(bot.command("follow company CLOUDFLARE", user="UF1"))
        assert "topic “rate limiting”" in blocks_text(
            bot.command("follow topic rate limiting", user="UF1")
        )
        listed = bot.command("following", user="UF1")
        assert_valid(listed)
        assert "Cloudflare" in blocks_text(listed) and "rate limiting" in blocks_text(listed)
        assert "follow nothing" in blocks_text(bot.command("following", user="UF2"))
        with bot.database.read() as session:
            rows = session.execute(select(FollowRow.team_id, FollowRow.user_id)).tuples().all()
        assert set(rows) == {("T111", "UF1")}  # the workspace from Slack's payload

        view = home_view(bot, "UF1", "EvFollowHome1")
        unfollows = [
            b["accessory"]
            for b in view["blocks"]
            if b.get("accessory", {}).get("action_id") == ACTION_UNFOLLOW
        ]
        assert len(unfollows) == 2
        before = len(bot.stub.calls_to("views.publish"))
        click(bot, ACTION_UNFOLLOW, unfollows[0]["value"], "UF2")  # not theirs: nothing removed
        wait_for(lambda: len(bot.stub.calls_to("views.publish")) > before)
        click(bot, ACTION_UNFOLLOW, unfollows[0]["value"], "UF1")
        wait_for(lambda: len(bot.stub.calls_to("views.publish")) > before + 1)
        after = bot.stub.calls_to("views.publish")[-1].params["view"]
        after = json.loads(after) if isinstance(after, str) else after
        assert "Unfollow" in json.dumps(after) and json.dumps(after).count(ACTION_UNFOLLOW) == 1
        assert len(bot.command("following", user="UF1")["blocks"]) >= 1
        assert "no longer follow" in blocks_text(bot.command("unfollow all", user="UF1"))
        assert "not following anything" in blocks_text(bot.command("unfollow all", user="UF1"))

        # The Save button of a follower's DM saves like the reaction does.
        with bot.database.read() as session:
            assert session.execute(select(FollowRow.id)).first() is None
        click(bot, ACTION_FOLLOW_SAVE, "3", "UF1")
        wait_for(lambda: bool(bot.stub.responses) and "Saved" in str(bot.stub.responses[-1].params))
        with bot.database.read() as session:
            saved = session.execute(
                select(SaveRow.user_id, SaveRow.article_id, SaveRow.removed)
            ).all()
        assert [tuple(r) for r in saved] == [("UF1", 3, False)]
        assert "Your saved articles" in blocks_text(bot.command("saved", user="UF1"))
        click(bot, ACTION_FOLLOW_SAVE, "99999999", "UF1")  # gone: said so, nothing stored
        wait_for(lambda: "no longer" in str(bot.stub.responses[-1].params))
        click(bot, ACTION_FOLLOW_SAVE, "'; DROP TABLE saves; --", "UF1")
        time.sleep(0.3)
        with bot.database.read() as session:
            assert len(session.execute(select(SaveRow.id)).all()) == 1


HOSTILE = [
    "follow topic <!channel> <@U1> <!here|here> \x00\x07\u202e",
    "follow company <!channel> <@U1>",
    "follow company " + "A" * 5000,
    "follow topic " + "🚀" * 600,
    "follow " + "<@U1>" * 50,
    "unfollow topic <!everyone>",
    "unfollow company <@U1>",
    "follow",
    "unfollow",
]


def test_hostile_follow_input_gets_one_line_and_pings_nobody(
    database_url: str, tmp_path: Path
) -> None:
    with served_bot(database_url, tmp_path) as bot:
        for text in HOSTILE:
            reply = bot.command(text, user="UH1")
            assert_valid(reply)
            shown = blocks_text(reply)
            for mention in ("<!channel>", "<@U1>", "<!here", "<!everyone>"):
                assert mention not in shown, (text, shown)
            # At most the hint and the help: one section, within Slack's 3,000-character limit.
            assert len(reply["blocks"]) <= 3 and len(shown) < 3000, text
        listed = blocks_text(bot.command("following", user="UH1"))
        assert "<!channel>" not in listed and "<@U1>" not in listed
        # Limits: at most 25 follows per person, said in one line.
        for i in range(30):
            bot.command(f"follow topic word{i}", user="UH2")
        refused = blocks_text(bot.command("follow topic more", user="UH2"))
        assert "25" in refused and "unfollow" in refused
        with bot.database.read() as session:
            count = session.execute(select(FollowRow.id).where(FollowRow.user_id == "UH2")).all()
        assert len(count) == 25


def last_response(bot: Bot, before: int) -> dict[str, Any]:
    """The message posted to response_url after `before` responses (a click's answer)."""
    wait_for(lambda: len(bot.stub.responses) > before)
    return dict(bot.stub.responses[-1].params)


def test_a_company_not_in_the_archive_yet_waits_and_did_you_mean_offers_both(
    database_url: str, tmp_path: Path
) -> None:
    with served_bot(database_url, tmp_path) as bot:
        reply = bot.command("follow company Snowflake Labs", user="UW1")
        assert_valid(reply)
        assert follows.NOT_YET in blocks_text(reply)
        listed = bot.command("following", user="UW1")
        assert_valid(listed)
        assert "Snowflake Labs* (waiting for a first article)" in blocks_text(listed)
        assert "(waiting for a first article)" in json.dumps(home_view(bot, "UW1", "EvWait1"))
        gone = bot.command("unfollow company snowflake labs", user="UW1")
        assert "no longer follow" in blocks_text(gone)
        assert "follow nothing" in blocks_text(bot.command("following", user="UW1"))

        # A close name: nothing followed until the person chooses.
        asked = bot.command("follow company Databrick", user="UW1")
        assert_valid(asked)
        assert "Did you mean *Databricks*?" in blocks_text(asked)
        [actions] = [b for b in asked["blocks"] if b["type"] == "actions"]
        suggested, as_typed = actions["elements"]
        assert suggested["text"]["text"] == "Follow Databricks"
        assert as_typed["text"]["text"] == "Follow “Databrick” anyway"
        assert "follow nothing" in blocks_text(bot.command("following", user="UW1"))

        before = len(bot.stub.responses)
        click(bot, suggested["action_id"], suggested["value"], "UW1")
        chosen = last_response(bot, before)
        assert "You now follow Databricks" in blocks_text(chosen)
        assert chosen["replace_original"] is True  # the question gives way to the answer
        before = len(bot.stub.responses)
        click(bot, as_typed["action_id"], as_typed["value"], "UW1")
        confirmed = last_response(bot, before)
        assert_valid(confirmed)
        assert "You now follow “Databrick”" in blocks_text(confirmed)
        assert follows.NOT_YET in blocks_text(confirmed)
        listed = blocks_text(bot.command("following", user="UW1"))
        assert "*Databricks*" in listed and "Databricks* (waiting" not in listed
        assert "Databrick* (waiting for a first article)" in listed

        # Whoever clicks follows, in the workspace Slack says (the value is only a name).
        before = len(bot.stub.responses)
        click(bot, as_typed["action_id"], as_typed["value"], "UW2")
        last_response(bot, before)
        with bot.database.read() as session:
            rows = session.execute(select(FollowRow.team_id, FollowRow.user_id, FollowRow.label))
            followed = sorted(tuple(r) for r in rows)
        assert followed == [
            ("T111", "UW1", "Databrick"),
            ("T111", "UW1", "Databricks"),
            ("T111", "UW2", "Databrick"),
        ]

        # A value is checked as if typed: too long, no name, or pings, nothing is followed.
        for value, expected in [
            ("A" * 1999, "at most 100 characters"),
            ("!!! ???", "Give a company name"),
            ("'; DROP TABLE follows; --", "You now follow “'; DROP TABLE follows; --”"),
        ]:
            before = len(bot.stub.responses)
            click(bot, ACTION_FOLLOW_AS_TYPED, value, "UW3")
            assert expected in blocks_text(last_response(bot, before)), value
        before = len(bot.stub.responses)
        click(bot, ACTION_FOLLOW_AS_TYPED, "<!channel> <@U1>", "UW3")
        pinged = last_response(bot, before)
        assert_valid(pinged)
        assert "<!channel>" not in blocks_text(pinged) and "<@U1>" not in blocks_text(pinged)
        before = len(bot.stub.responses)
        click(bot, f"{ACTION_FOLLOW_SUGGESTED}_0", "x" * 2500, "UW3")  # over Slack's limit
        assert "expired" in blocks_text(last_response(bot, before))
        listed = blocks_text(bot.command("following", user="UW3"))
        # Two waiting follows, each in the blocks and in the fallback text.
        assert "<!channel>" not in listed and listed.count("waiting for a first article") == 4
