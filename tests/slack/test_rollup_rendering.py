"""A roll-up as Slack messages: valid, within limits, charts by the block's rules, no pings."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from test_rendering import HOSTILE, MENTIONS, all_text, assert_no_pings, assert_valid_message

from bot.core.ingestion import expand_paths, ingest_files
from bot.core.rollups import Period, Rollup, ThisWeek, period_containing
from bot.slack import charts, rendering
from bot.slack.rollup_rendering import (
    home_this_week,
    render_rollup,
    rollup_messages,
)
from bot.store.db import Database
from bot.store.queries import ArticleView, Page
from bot.store.rollups import IssueText
from bot.workspace import Workspace

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
WEEK = Period(dt.date(2026, 3, 30), dt.date(2026, 4, 5), "week")
MONTH = period_containing("month", dt.date(2026, 5, 1))


def assert_valid_with_chart(message: rendering.Message) -> None:
    """Valid Block Kit apart from the chart (slack_sdk has no model for it), which must pass
    the chart rules, and within the message limits; pings nowhere."""
    assert charts.message_problems(message.blocks) == []
    plain = rendering.Message(message.text, charts.without_charts(message.blocks))
    assert_valid_message(plain)
    assert len(message.blocks) <= rendering.MESSAGE_BLOCK_LIMIT
    assert len(message.text) <= rendering.FALLBACK_LIMIT
    assert_no_pings(message)


def hostile_rollup(period: Period = WEEK, days: int = 2) -> Rollup:
    issues = tuple(
        IssueText(period.start + dt.timedelta(days=i), HOSTILE, HOSTILE) for i in range(days)
    )
    names = [f"{m} Corp {i} & Sons {'y' * 40}" for i, m in enumerate(MENTIONS)]
    names += ["@channel", "<!here>"]
    saved = tuple(
        (
            ArticleView(i, HOSTILE, HOSTILE, HOSTILE, "https://e.example/a", period.start, i),
            10 - i,
        )
        for i in range(5)
    )
    top = tuple((name, 20 - i) for i, name in enumerate(names[:10]))
    return Rollup(period, issues, 42, top, saved)


def test_a_hostile_rollup_is_escaped_valid_and_charted_within_limits() -> None:
    messages = render_rollup(hostile_rollup())
    assert len(messages) == 4  # parent, signals, patterns, most saved
    for message in messages:
        assert_valid_with_chart(message)
    parent = messages[0]
    chart = [b for b in parent.blocks if charts.is_chart(b)]
    assert len(chart) == 1 and charts.problems(chart[0]) == []
    assert len(chart[0]["chart"]["axis_config"]["categories"]) == 10
    # The same figures as text, in the parent itself.
    text = all_text(charts.without_charts(parent.blocks))
    for count in range(11, 21):
        assert re.search(rf"\s{count}\b", text), count
    assert "2 issues · 42 deep dives" in text and "Mon 2026-03-30 – Sun 2026-04-05" in text


def test_counts_and_names_reach_the_chart_and_the_text() -> None:
    top = (("AWS", 9), ("InfoQ", 6), ("Cloudflare", 5))
    found = Rollup(WEEK, (IssueText(dt.date(2026, 3, 31), "Signal.", None),), 12, top, ())
    messages = render_rollup(found)
    assert len(messages) == 2  # no patterns, nobody saved anything: those replies are left out
    parent = messages[0]
    chart = next(b for b in parent.blocks if charts.is_chart(b))
    points = chart["chart"]["series"][0]["data"]
    assert [(p["label"], p["value"]) for p in points] == [
        ("AWS", 9),
        ("InfoQ", 6),
        ("Cloudflare", 5),
    ]
    assert "AWS 9, InfoQ 6, Cloudflare 5" in parent.text
    assert "1 issue · 12 deep dives" in all_text(parent.blocks)
    assert "the week 2026-W14" in parent.blocks[0]["text"]["text"]


def test_an_empty_period_has_no_chart_and_no_replies() -> None:
    messages = render_rollup(Rollup(MONTH, (), 0, (), ()))
    assert len(messages) == 1
    assert not any(charts.is_chart(b) for b in messages[0].blocks)
    assert "0 issues · 0 deep dives" in all_text(messages[0].blocks)
    assert "the month 2026-05" in messages[0].text
    assert_valid_with_chart(messages[0])


def test_a_long_month_continues_in_further_replies_losing_no_day() -> None:
    found = hostile_rollup(MONTH, days=31)
    messages = render_rollup(found)
    signals = [m for m in messages if "Signals of the Day" in m.text]
    assert len(signals) > 1  # too long for one message: continued, not cut
    for message in messages:
        assert_valid_with_chart(message)
    shown = "\n".join(all_text(m.blocks) for m in signals)
    for issue in found.issues:
        assert issue.date.isoformat() in shown


def test_links_go_to_the_daily_threads_the_channel_has() -> None:
    issues = (
        IssueText(dt.date(2026, 3, 31), "First.", "Pattern one."),
        IssueText(dt.date(2026, 4, 1), "Second.", "Pattern two."),
    )
    found = Rollup(WEEK, issues, 3, (("AWS", 1),), ())
    links = {dt.date(2026, 3, 31): "https://acme.slack.com/archives/C1/p100"}
    signals = all_text(render_rollup(found, links)[1].blocks)
    assert "<https://acme.slack.com/archives/C1/p100|Tue 2026-03-31>" in signals
    assert "Wed 2026-04-01" in signals and "|Wed 2026-04-01>" not in signals


def test_rollup_messages_from_the_archive_link_this_channels_threads(database: Database) -> None:
    ingest_files(database, expand_paths([SEEDS]))
    from sqlalchemy import insert, select

    from bot.store.tables import DeliveryMessageRow, DeliveryRow, IssueRow

    with database.write() as session:
        issue_id = session.scalar(select(IssueRow.id).where(IssueRow.date == dt.date(2026, 3, 31)))
        delivery = session.execute(
            insert(DeliveryRow)
            .values(team_id="T1", channel_id="C1", issue_id=issue_id, state="posted")
            .returning(DeliveryRow.id)
        ).scalar_one()
        session.add(
            DeliveryMessageRow(
                team_id="T1", delivery_id=delivery, part=0, channel_id="C1", ts="1.5"
            )
        )
    asked: list[str] = []

    def permalink(ts: str) -> str:
        asked.append(ts)
        return f"https://acme.slack.com/archives/C1/p{ts.replace('.', '')}"

    messages = rollup_messages(database, Workspace("T1"), "C1", WEEK, permalink=permalink)
    assert asked == ["1.5"]
    assert "<https://acme.slack.com/archives/C1/p15|Tue 2026-03-31>" in all_text(messages[1].blocks)
    for message in messages:
        assert_valid_with_chart(message)
    # Without a way to make permalinks, the dates are plain text.
    plain = rollup_messages(database, Workspace("T1"), "C1", WEEK)
    assert "https://acme" not in all_text(plain[1].blocks)


def test_this_week_on_home_is_text_within_the_view_limits() -> None:
    week = ThisWeek(WEEK, 17, tuple((n, 5 - i) for i, n in enumerate(MENTIONS[:5])), 3)
    blocks = home_this_week(week)
    assert not any(charts.is_chart(b) for b in blocks)
    text = all_text(blocks)
    assert "17 deep dives so far" in text and "you saved 3 articles" in text
    assert not re.search(r"<[!@#]", text)
    home = rendering.render_home(None, Page((), 0, 10, False), "bookmark", this_week=blocks)
    View(**home).validate_json()
    assert len(home["blocks"]) <= rendering.VIEW_BLOCK_LIMIT
    assert "This week" in all_text(home["blocks"])
    assert Block.parse_all(blocks)
