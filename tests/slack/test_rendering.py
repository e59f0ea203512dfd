"""Rendering is pure: escaped, within Slack's limits, valid Block Kit for any input."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.dates import DateRange
from bot.slack import rendering
from bot.store.queries import ArticleView, CompanyResult, IssueView, Page, TopicResult

MENTIONS = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U123ABC>",
    "<!subteam^S123>",
    "<#C123>",
    "<https://evil.example|https://good.example>",
    "<!date^1392734382^x|y>",
]
HOSTILE = " ".join(MENTIONS) + " & @channel @here " + "x" * 5000


def article(
    i: int = 1,
    *,
    title: str = "A title",
    summary: str = "A summary.",
    publisher: str = "Cloudflare",
    url: str | None = "https://example.com/a",
) -> ArticleView:
    return ArticleView(i, title, publisher, summary, url, dt.date(2026, 5, 13), i)


def all_text(blocks: list[dict[str, Any]]) -> str:
    """Every string in the blocks, joined."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key not in ("value", "action_id", "block_id", "type"):  # never displayed
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            out.append(node)

    walk(blocks)
    return "\n".join(out)


def assert_valid_message(message: rendering.Message) -> None:
    assert message.text.strip()
    assert len(message.text) <= 40_000
    assert len(message.blocks) <= 50
    parsed = Block.parse_all(message.blocks)
    # The renderer builds plain dicts: slack_sdk's models must read them and give back the same.
    assert [block.to_dict() for block in parsed] == message.blocks
    for block in parsed:
        block.validate_json()
        as_dict = block.to_dict()
        if as_dict["type"] == "section":
            assert len(as_dict["text"]["text"]) <= 3000
            assert as_dict["text"].get("verbatim") is True
        if as_dict["type"] == "header":
            assert len(as_dict["text"]["text"]) <= 150
        if as_dict["type"] == "actions":
            for element in as_dict["elements"]:
                assert len(element.get("value", "")) <= 2000


def assert_no_pings(message: rendering.Message) -> None:
    text = all_text(message.blocks)
    for mention in MENTIONS:
        assert mention not in text
    assert not re.search(r"<[!@#]", text)
    assert "@channel" not in text and "@here" not in text
    assert not re.search(r"<[!@#]", message.text)


def test_escape_order_and_entities() -> None:
    assert rendering.escape("a & b < c > d") == "a &amp; b &lt; c &gt; d"
    assert rendering.escape("&lt;") == "&amp;lt;"


def test_links_cannot_be_disguised_or_broken() -> None:
    text = rendering.link("https://x.example/a|b>c", "<@U1> label")
    assert text.startswith("<https://x.example/a%7Cb%3Ec|")
    assert "<@U1>" not in text
    assert rendering.link("javascript:alert(1)", "t") == "t"


def test_hostile_article_is_escaped_and_within_limits() -> None:
    hostile = article(
        title=HOSTILE, summary=HOSTILE, publisher=HOSTILE, url="https://e.com/" + "a" * 3000
    )
    issue = IssueView(1, dt.date(2026, 5, 13), HOSTILE, HOSTILE, (), (hostile,) * 60)
    messages = [
        *rendering.issue_messages(issue),
        rendering.render_issue_overview(issue),
        rendering.render_topic(TopicResult(HOSTILE, ("x",), Page((hostile,) * 10, 0, 10, True))),
        rendering.render_company(
            CompanyResult(HOSTILE, HOSTILE, Page((hostile,) * 10, 0, 10, True))
        ),
        rendering.render_company(CompanyResult(HOSTILE, None, Page((), 0, 10, False), (HOSTILE,))),
        rendering.render_help(HOSTILE, note=HOSTILE),
        rendering.render_text(HOSTILE),
    ]
    for message in messages:
        assert_valid_message(message)
        assert_no_pings(message)


def test_long_summary_is_split_not_lost() -> None:
    long = ("word " * 1500).strip()
    reply = rendering.render_article_reply(article(summary=long))
    assert_valid_message(reply)
    body = "".join(b["text"]["text"] for b in reply.blocks[1:])
    assert body.replace(" ", "") == long.replace(" ", "")


def test_more_and_share_buttons_round_trip() -> None:
    page = Page((article(),) * 10, 0, 10, True)
    message = rendering.render_topic(TopicResult("rate limiting", ("rate", "limiting"), page))
    actions = next(b for b in message.blocks if b["type"] == "actions")["elements"]
    ids = [e["action_id"] for e in actions]
    assert ids == [rendering.ACTION_MORE, rendering.ACTION_SHARE]
    assert rendering.decode_action(actions[0]["value"]) == rendering.Repeat(
        "topic", "rate limiting", 10
    )
    assert rendering.decode_action("not json") is None


def test_buttons_carry_the_date_range_and_refuse_a_forged_one() -> None:
    page = Page((article(),) * 10, 0, 10, True)
    dates = DateRange(dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    message = rendering.render_topic(TopicResult("kafka", ("kafka",), page), dates=dates)
    assert "from 2026-01-01 to 2026-03-31" in message.blocks[0]["text"]["text"]
    actions = next(b for b in message.blocks if b["type"] == "actions")["elements"]
    more, share = (rendering.decode_action(e["value"]) for e in actions)
    assert more == rendering.Repeat("topic", "kafka", 10, dates)
    assert share == rendering.Repeat("topic", "kafka", 0, dates)
    reversed_range = '{"k":"topic","q":"x","o":0,"s":"2026-05-01","u":"2026-04-01"}'
    for forged in (reversed_range, '{"k":"topic","q":"x","o":0,"s":"2026-13-01"}'):
        assert rendering.decode_action(forged) is None
    since_only = rendering.Repeat("company", "AWS", 0, DateRange(since=dt.date(2026, 4, 1)))
    assert rendering.decode_action(rendering.encode_action(since_only)) == since_only


def test_a_full_length_query_keeps_its_range_within_the_button_limit() -> None:
    query = "🚀" * 375  # 1,500 UTF-8 bytes: the most the grammar lets through
    dates = DateRange(dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    value = rendering.encode_action(rendering.Repeat("topic", query, 10, dates))
    assert len(value.encode()) <= rendering.BUTTON_VALUE_BYTES
    assert rendering.decode_action(value) == rendering.Repeat("topic", query, 10, dates)


def test_no_more_button_on_last_page_and_no_share_when_shared() -> None:
    page = Page((article(),), 0, 10, False)
    message = rendering.render_company(CompanyResult("x", "Cloudflare", page), shareable=False)
    assert not [b for b in message.blocks if b["type"] == "actions"]


def test_home_view_is_valid() -> None:
    issue = IssueView(1, dt.date(2026, 5, 13), HOSTILE, None, (), ())
    view = rendering.render_home(issue, Page((article(),) * 10, 0, 10, True), "bookmark")
    model = View(**view)
    model.validate_json()
    assert model.to_dict() == view
    assert len(view["blocks"]) <= 100
    assert "2026-05-13" in all_text(view["blocks"])


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=4000), st.text(max_size=400), st.text(max_size=80))
def test_any_text_renders_valid_safe_messages(summary: str, title: str, publisher: str) -> None:
    a = article(title=title or "t", summary=summary, publisher=publisher or "p")
    for message in (
        rendering.render_article_reply(a),
        rendering.render_topic(TopicResult(summary, ("x",), Page((a,), 0, 10, False))),
    ):
        assert_valid_message(message)
        assert "<!" not in all_text(message.blocks)
        assert "<@" not in all_text(message.blocks)


def test_issue_parent_names_the_configured_save_emoji() -> None:
    issue = IssueView(1, dt.date(2026, 5, 13), "Signal", "Patterns", (), (article(),))
    parent, reply, patterns = rendering.issue_messages(issue, "star")
    assert ":star: to save one" in all_text(parent.blocks)
    assert "A title" in all_text(reply.blocks) and "Patterns" in all_text(patterns.blocks)
    hostile = rendering.issue_messages(issue, "<!channel>")[0]
    assert "<!channel>" not in all_text(hostile.blocks)
    assert_valid_message(hostile)


def test_did_you_mean_offers_each_close_name_and_the_typed_one_within_limits() -> None:
    message = rendering.render_follow_choice("Databrick", ["Databricks", "Databricks Labs"])
    assert_valid_message(message)
    [actions] = [b for b in message.blocks if b["type"] == "actions"]
    buttons = [(e["action_id"], e["text"]["text"], e["value"]) for e in actions["elements"]]
    assert buttons == [
        (f"{rendering.ACTION_FOLLOW_SUGGESTED}_0", "Follow Databricks", "Databricks"),
        (f"{rendering.ACTION_FOLLOW_SUGGESTED}_1", "Follow Databricks Labs", "Databricks Labs"),
        (rendering.ACTION_FOLLOW_AS_TYPED, "Follow “Databrick” anyway", "Databrick"),
    ]
    assert "Did you mean *Databricks* or *Databricks Labs*?" in message.blocks[0]["text"]["text"]


def test_did_you_mean_with_hostile_and_long_names_pings_nobody() -> None:
    name = HOSTILE[:100]
    message = rendering.render_follow_choice(name, [HOSTILE[:200], "🚀" * 200])
    assert_valid_message(message)
    assert_no_pings(message)
    [actions] = [b for b in message.blocks if b["type"] == "actions"]
    for element in actions["elements"]:
        assert len(element["text"]["text"]) <= rendering.BUTTON_TEXT_LIMIT
    assert actions["elements"][-1]["value"] == name  # followed as typed, whatever it shows
