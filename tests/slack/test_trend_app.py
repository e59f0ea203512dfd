"""/digest trend over real HTTP (signed as Slack signs) against the app `serve` runs, with the
Slack stand-in judging every chart by Slack's limits; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from support.dated_archive import dated_archive, listed
from support.served_app import SECRET, Served, served, settings_for
from support.signing import block_actions_body, post, sign
from support.slack_api import SlackStub
from support.slack_api.state import Call

from bot.core.trends import week_key
from bot.dates import DateRange
from bot.slack import chart_fallback, charts
from bot.slack.rendering import ACTION_SHARE, decode_action
from bot.store.db import Database

D = dt.date
# Every week from 2025-09-01 (a Monday) to 2026-03-01 has an issue on its Tuesday.
DAYS = [D(2025, 9, 2) + dt.timedelta(weeks=n) for n in range(26)]
RANGE = "from 2025-12-01 to 2026-01-25"  # 8 weeks, across new year


@pytest.fixture
def app(database_url: str) -> Iterator[tuple[Served, Database]]:
    database = dated_archive(Database(database_url), DAYS)
    try:
        with SlackStub() as stub:
            settings = settings_for(stub, database_url, many=False)
            with served(settings, database, stub) as front:
                yield front, database
    finally:
        database.dispose()


def ask(front: Served, text: str, *, answers: int = 1) -> list[Call]:
    """/digest TEXT: acked at once with nothing, the answer(s) posted to response_url."""
    before = len(front.stub.responses)
    status, body, seconds = front.command(text)
    assert status == 200 and body.strip() == "" and seconds < 3
    deadline = time.monotonic() + 10
    while len(front.stub.responses) < before + answers and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # nothing more is on its way
    sent = front.stub.responses[before:]
    assert len(sent) == answers, [c.params.get("text") for c in sent]
    return sent


def chart_of(message: dict[str, Any]) -> dict[str, Any]:
    found = [b for b in message["blocks"] if charts.is_chart(b)]
    assert len(found) == 1
    return found[0]


def table_rows(message: dict[str, Any]) -> dict[str, list[int]]:
    """The counts of the text table, by period, read back from the code blocks."""
    code = "\n".join(
        b["text"]["text"]
        for b in message["blocks"]
        if b.get("type") == "section" and b["text"]["text"].startswith("```")
    )
    rows = re.findall(r"^(?:```)?(\d{4}-(?:W\d\d|\d\d))((?:[ ]+\d+)+)", code, re.MULTILINE)
    return {period: [int(n) for n in counts.split()] for period, counts in rows}


def assert_other_blocks_valid(message: dict[str, Any]) -> None:
    others = [b for b in message["blocks"] if not charts.is_chart(b)]
    assert [b.to_dict() for b in Block.parse_all(others)] == others
    assert len(message["blocks"]) <= 50 and message["text"]


def test_trend_is_a_valid_chart_with_the_lookups_counts_as_text(
    app: tuple[Served, Database],
) -> None:
    front, database = app
    (sent,) = ask(front, f"trend company aws vs Cloudflare vs GitHub {RANGE}")
    message = sent.params
    assert sent.refused is None and message["response_type"] == "ephemeral"
    chart = chart_of(message)
    assert charts.problems(chart) == [] and charts.message_problems(message["blocks"]) == []
    assert chart["chart"]["type"] == "line"
    weeks = ["2025-W49", "2025-W50", "2025-W51", "2025-W52", "2026-W01", "2026-W02"]
    weeks += ["2026-W03", "2026-W04"]
    assert chart["chart"]["axis_config"]["categories"] == weeks
    assert [s["name"] for s in chart["chart"]["series"]] == ["AWS", "Cloudflare", "GitHub"]
    rows = table_rows(message)
    assert list(rows) == weeks  # the text twin: every period
    for column, name in enumerate(["AWS", "Cloudflare", "GitHub"]):
        expected = [
            listed(database, "company", name, DateRange(monday, monday + dt.timedelta(6)))
            for monday in (D.fromisocalendar(int(w[:4]), int(w[6:]), 1) for w in weeks)
        ]
        assert [rows[w][column] for w in weeks] == expected
        assert [p["value"] for p in chart["chart"]["series"][column]["data"]] == expected
    assert sum(rows["2026-W01"]) > 0  # 2025-12-30 is in ISO week 2026-W01
    assert week_key(D(2025, 12, 30)) == "2026-W01"
    assert "Articles by AWS vs Cloudflare vs GitHub per week" in message["text"]
    assert_other_blocks_valid(message)
    share = next(
        e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
    )  # fmt: skip
    assert share["action_id"] == ACTION_SHARE
    repeat = decode_action(share["value"])
    assert repeat is not None and repeat.kind == "trend"
    assert repeat.dates == DateRange(D(2025, 12, 1), D(2026, 1, 25))


def test_a_topic_trend_counts_what_topic_lists_and_share_posts_it(
    app: tuple[Served, Database],
) -> None:
    front, database = app
    (sent,) = ask(front, f"trend topic AI vs kafka {RANGE}")
    rows = table_rows(sent.params)
    mondays = [D.fromisocalendar(int(w[:4]), int(w[6:]), 1) for w in rows]
    for column, words in enumerate(["AI", "kafka"]):
        assert [r[column] for r in rows.values()] == [
            listed(database, "topic", words, DateRange(m, m + dt.timedelta(6))) for m in mondays
        ]
    value = next(
        e["value"] for b in sent.params["blocks"] if b["type"] == "actions" for e in b["elements"]
    )
    before = len(front.stub.responses)
    click = block_actions_body(
        ACTION_SHARE, value, user_id="U1", response_url=front.stub.response_url("share"),
        channel_id="C1",
    )  # fmt: skip
    assert post(front.base + "/slack/events", click, sign(click, SECRET))[0] == 200
    deadline = time.monotonic() + 10
    while len(front.stub.responses) == before and time.monotonic() < deadline:
        time.sleep(0.02)
    shared = front.stub.responses[before].params
    assert shared["response_type"] == "in_channel"
    assert table_rows(shared) == rows and chart_of(shared) == chart_of(sent.params)
    assert not any(b["type"] == "actions" for b in shared["blocks"])  # no Share on the copy


def test_more_than_20_periods_condense_in_the_chart_not_in_the_table(
    app: tuple[Served, Database],
) -> None:
    front, _ = app
    (sent,) = ask(front, "trend company AWS from 2025-09-01 to 2026-03-01")  # 26 weeks
    chart = chart_of(sent.params)
    assert charts.problems(chart) == []
    categories = chart["chart"]["axis_config"]["categories"]
    assert len(categories) == 13 and categories[:2] == ["2025-W36", "2025-W38"]
    assert "2-week sums" in chart["title"]
    rows = table_rows(sent.params)
    assert len(rows) == 26 and list(rows)[-1] == "2026-W09"
    values = chart["chart"]["series"][0]["data"]
    assert [v["value"] for v in values] == [
        sum(r[0] for r in list(rows.values())[i : i + 2]) for i in range(0, 26, 2)
    ]
    months = ask(front, "trend company AWS from 2025-09-02 to 2026-03-03")[0].params
    assert "per month" in months["text"] and min(table_rows(months)) == "2025-09"


def test_a_refused_chart_goes_again_without_it_logged_once(
    app: tuple[Served, Database], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    front, _ = app
    monkeypatch.setattr(chart_fallback, "_warned", False)  # a fresh process
    front.stub.reject_charts()
    caplog.set_level(logging.WARNING, logger="bot.slack.chart_fallback")
    for text in (f"trend company AWS {RANGE}", f"trend topic kafka vs AI {RANGE}"):
        refused, again = ask(front, text, answers=2)
        assert refused.refused and charts.is_chart(chart_of(refused.params))
        assert again.refused is None
        assert again.params["blocks"] == charts.without_charts(refused.params["blocks"])
        assert again.params["text"] == refused.params["text"]
        assert table_rows(again.params)  # the figures are still there, as text
    warnings = [r for r in caplog.records if "refused a chart" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    front.stub.reset_faults()
    (accepted,) = ask(front, f"trend company AWS {RANGE}")
    assert accepted.refused is None and chart_of(accepted.params)


def test_names_errors_and_hostile_text(app: tuple[Served, Database]) -> None:
    front, _ = app
    status, body, _ = front.command("trend company AWS vs Cloudflar")
    expected_status, expected, _ = front.command("company Cloudflar")
    assert status == expected_status == 200
    assert "Did you mean *Cloudflare*" in body
    assert json.loads(body)["blocks"] == json.loads(expected)["blocks"]

    six = front.command("trend topic a vs b vs c vs d vs e vs f")[1]
    assert "at most 5 topics" in six and len(json.loads(six)["text"]) < 200

    hostile = front.command("trend company <!channel> vs &amp;lt;b&amp;gt;")[1]
    assert "<!channel>" not in hostile and "@\u200bchannel" in json.loads(hostile)["text"]
    (sent,) = ask(front, f"trend topic <!channel> vs &lt;script&gt; vs kafka {RANGE}")
    # Button values are data for the click, never shown: everything else is checked.
    shown = [b for b in sent.params["blocks"] if b["type"] != "actions"]
    raw = json.dumps([sent.params["text"], shown], ensure_ascii=False)
    assert "<!channel>" not in raw and "<script>" not in raw and "@channel" not in raw
    assert "&lt;script&gt;" in sent.params["text"]  # escaped once
    assert "&amp;lt;" not in raw
    assert charts.problems(chart_of(sent.params)) == []
