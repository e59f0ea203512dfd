"""/digest text as Slack sends it (`&amp; &lt; &gt;`; with should_escape, links, channels, people
and special mentions in `<…>`): decoded once before the grammar, answered escaped once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from support.signing import post, sign
from support.slack_requests import body_of
from test_slack_app import SECRET, Bot, blocks_text, served_bot

from bot.slack.command_text import plain_text
from bot.store.tables import FollowRow


@pytest.mark.parametrize(
    ("sent", "meant"),
    [
        ("Dungeons &amp; Desktops", "Dungeons & Desktops"),
        ("Q&amp;A", "Q&A"),
        ("a &lt;b&gt; c", "a <b> c"),
        ("&amp;lt; stays literal", "&lt; stays literal"),  # decoded once, not twice
        ("<http://DeepLearning.AI|DeepLearning.AI>", "DeepLearning.AI"),
        ("<https://example.com/a?b=1&amp;c=2>", "https://example.com/a?b=1&c=2"),
        ("<mailto:ann@example.com|ann@example.com>", "ann@example.com"),
        ("<#C0123ABC|general>", "#general"),
        ("<#C0123ABC>", "#C0123ABC"),
        ("<@U0AB12|ann>", "@U0AB12"),
        ("<@W0AB12>", "@W0AB12"),
        ("<!here>", "@here"),
        ("<!channel> <!everyone|everyone>", "@channel @everyone"),
        ("<!subteam^S0123|@platform>", "@platform"),
        ("<!subteam^S0123>", "@S0123"),
        ("<!date^1392734382^{date}|Feb 18, 2014>", "Feb 18, 2014"),
        ("Q&A <unclosed", "Q&A <unclosed"),
        ("", ""),
    ],
)
def test_plain_text_decodes_what_slack_escaped(sent: str, meant: str) -> None:
    assert plain_text(sent) == meant


def command(bot: Bot, text: str, user: str = "U111") -> str:
    """/digest TEXT from the recorded slash command (only command, text and ids changed)."""
    body = body_of(
        "slash_command",
        command="/digest",
        text=text,
        team_id="T111",
        enterprise_id="",
        user_id=user,
        response_url=bot.stub.response_url("cmd"),
    )
    status, raw, _ = post(bot.url, body, sign(body, SECRET))
    assert status == 200 and raw.strip(), raw
    return blocks_text(json.loads(raw))


@pytest.mark.slow
def test_escaped_command_text_finds_what_the_person_typed(
    database_url: str, tmp_path: Path
) -> None:
    with served_bot(database_url, tmp_path) as bot:
        found = command(bot, "topic Dungeons &amp; Desktops")
        assert "Dungeons &amp; Desktops: 10 roguelikes" in found
        assert "Nothing in the archive matches" not in found
        assert "&amp;amp;" not in found
        company = command(bot, "company <http://DeepLearning.AI|DeepLearning.AI>")
        assert "Articles by DeepLearning.AI" in company, company
        followed = command(bot, "follow topic Q&amp;A", user="UQA")
        assert (
            "Q&amp;A" in followed
            and "&amp;amp;" not in followed
            and "amp" not in (followed.replace("&amp;", ""))
        )
        with bot.database.read() as session:
            labels = session.scalars(select(FollowRow.label).where(FollowRow.user_id == "UQA"))
            assert list(labels) == ["Q&A"]
        listed = command(bot, "following", user="UQA")
        assert "Q&amp;A" in listed and "&amp;amp;" not in listed
        assert "no longer follow" in command(bot, "unfollow topic Q&amp;A", user="UQA")
        # Mentions the person wrote never ping: shown as text, escaped once.
        for text in (
            "topic <!channel> <!here> <!subteam^S1|@oncall> &lt;!everyone&gt;",
            "follow topic <!channel> kafka",
        ):
            answer = command(bot, text, user="UM")
            for live in ("<!channel>", "<!here>", "<!subteam", "<!everyone>", "&amp;amp;"):
                assert live not in answer, (text, answer)
            assert "@\u200bchannel" in answer
