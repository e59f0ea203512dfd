"""/digest subscribe typed in a DM or a group DM: refused in one line, nothing stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from support.signing import post, sign
from support.slack_requests import body_of
from test_slack_app import SECRET, Bot, blocks_text, served_bot

from bot.slack.answers import NOT_IN_A_DM
from bot.store.tables import SubscriptionRow


def command_in(bot: Bot, text: str, channel_id: str, channel_name: str) -> dict[str, object]:
    """/digest TEXT from the recorded slash command, typed in the given conversation."""
    body = body_of(
        "slash_command",
        command="/digest",
        text=text,
        team_id="T111",
        enterprise_id="",
        user_id="U111",
        channel_id=channel_id,
        channel_name=channel_name,
        response_url=bot.stub.response_url("cmd"),
    )
    status, raw, _ = post(bot.url, body, sign(body, SECRET))
    assert status == 200 and raw.strip(), raw
    return dict(json.loads(raw))


@pytest.mark.slow
def test_subscribe_is_refused_in_direct_messages(database_url: str, tmp_path: Path) -> None:
    with served_bot(database_url, tmp_path) as bot:
        for channel_id, name in (
            ("D0ABCDEF1", "directmessage"),  # the app's DM, or a DM between two people
            ("C0MPIM123", "mpdm-ann--bob--carl-1"),  # a group DM
            ("G0MPIM456", "mpdm-ann--bob-1"),  # a group DM from before conversation ids
        ):
            answer = command_in(bot, "subscribe 09:00 UTC", channel_id, name)
            assert answer["text"] == NOT_IN_A_DM and "\n" not in NOT_IN_A_DM
            assert "invite" not in blocks_text(answer)
        with bot.database.read() as session:
            assert session.scalar(select(func.count()).select_from(SubscriptionRow)) == 0
        assert not bot.stub.calls_to("conversations.join")
        # The same command in a channel subscribes it.
        answer = command_in(bot, "subscribe 09:00 UTC", "C0GENERAL", "general")
        assert "09:00 UTC" in blocks_text(answer)
        with bot.database.read() as session:
            channels = session.scalars(select(SubscriptionRow.channel_id)).all()
        assert list(channels) == ["C0GENERAL"]
