"""Channel filters: the `/digest filter` grammar over real HTTP, and filtered threads."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from support.helpers import WS
from support.slack_api import SlackStub

from bot.core.filters import parse_filter
from bot.core.ingestion import expand_paths, ingest_files
from bot.delivery.deliverer import Deliverer, everywhere
from bot.delivery.poster import ChannelPacer, SlackPoster, make_web_client
from bot.store import filters
from bot.store.db import Database
from bot.store.filters import Rule
from bot.store.tables import ArticleRow, ChannelFilterRow, DeliveryRow

REPO = Path(__file__).resolve().parents[2]
LATEST = dt.date(2026, 5, 13)


def _slack_app_helpers() -> Any:
    """The served-bot harness of tests/slack/test_slack_app.py (`slack` names another package)."""
    spec = importlib.util.spec_from_file_location(
        "slack_app_harness", REPO / "tests" / "slack" / "test_slack_app.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_harness = _slack_app_helpers()
Bot, blocks_text, served_bot = _harness.Bot, _harness.blocks_text, _harness.served_bot


def make_deliverer(database: Database, stub: SlackStub) -> Deliverer:
    client = make_web_client("xoxb-test", stub.url, timeout=2)
    poster = SlackPoster(client, ChannelPacer(interval=0.0), lookup_client=client)
    return Deliverer(database, everywhere(poster), backoff=lambda _s: None)


@pytest.mark.parametrize(
    ("text", "action", "rule"),
    [
        ("", "show", None),
        ("  ", "show", None),
        ("clear", "clear", None),
        ("CLEAR", "clear", None),
        ("include company Cloudflare", "add", Rule("include", "company", "Cloudflare")),
        ("Exclude Topic  crypto   scams", "add", Rule("exclude", "topic", "crypto scams")),
        ("include topic kafka", "add", Rule("include", "topic", "kafka")),
        ("show", "show", None),
        ("include topic kafka\x00\u202e", "add", Rule("include", "topic", "kafka")),
        ("exclude company \x00AWS\x07", "add", Rule("exclude", "company", "AWS")),
        ("include topic \x00\u200b", "error", None),
        ("include", "error", None),
        ("include company", "error", None),
        ("include person Bob", "error", None),
        ("drop company AWS", "error", None),
        ("clear everything", "error", None),
        ("include topic !!! ???", "error", None),
        ("<!channel>", "error", None),
    ],
)
def test_filter_grammar(text: str, action: str, rule: Rule | None) -> None:
    command = parse_filter(text)
    assert command.action == action
    assert command.rule == rule
    if action == "error":
        assert command.error and "\n" not in command.error


def publishers_of(stub: SlackStub, channel: str) -> list[str]:
    parent = stub.messages(channel)[0]
    return [r["text"] for r in stub.thread(channel, parent["ts"])]


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[Bot]:
    with served_bot(database_url, tmp_path, {"DIGEST_ADMINS": "U111"}) as bot:
        yield bot


@pytest.mark.slow
def test_filter_command_and_a_filtered_thread(served: Bot) -> None:
    bot, database = served, served.database
    assert "no filter" in blocks_text(bot.command("filter", channel="CF1"))
    # Company names match as /digest company does: any case, and a near miss gets suggestions.
    shown = blocks_text(bot.command("filter include company cloudflare", channel="CF1"))
    assert "include company Cloudflare" in shown
    assert "Did you mean Cloudflare" in blocks_text(
        bot.command("filter include company Cloudflar", channel="CF1")
    )
    shown = blocks_text(bot.command("filter include topic agents", channel="CF1"))
    shown = blocks_text(bot.command("filter exclude company AWS", channel="CF1"))
    assert "include company Cloudflare · include topic agents · exclude company AWS" in shown
    # Only the people allowed to subscribe may change it; anyone may look.
    assert "Only the digest admins" in blocks_text(
        bot.command("filter clear", user="U999", channel="CF1")
    )
    assert "exclude company AWS" in blocks_text(bot.command("filter", user="U999", channel="CF1"))
    for bad in ("filter include", "filter nonsense <!channel>", "filter include person <@U999>"):
        reply = bot.command(bad, channel="CF1")
        text = blocks_text(reply)
        assert "<!channel>" not in text and "<@U999>" not in text
        assert "Use `/digest filter" in text or "needs a value" in text
    hostile = blocks_text(
        bot.command("filter include topic <!channel> <@U999> kafka", channel="CF2")
    )
    assert "<!channel>" not in hostile and "<@U999>" not in hostile
    # Control characters are dropped before anything is stored (PostgreSQL refuses NUL in text).
    shown = blocks_text(bot.command("filter exclude topic crypto\x00\u202e scams", channel="CF2"))
    assert "exclude topic crypto scams" in shown, shown
    with database.read() as session:
        stored = session.scalars(select(ChannelFilterRow.value)).all()
    assert "crypto scams" in stored and not any("\x00" in v or "\u202e" in v for v in stored)

    with database.read() as session:
        articles = session.scalars(
            select(ArticleRow).where(ArticleRow.issue_date == LATEST).order_by(ArticleRow.position)
        ).all()
    # Independently of the bot: any include (Cloudflare's, or about agents), minus AWS's.
    expected = [
        a.title
        for a in articles
        if ("Cloudflare" in a.publisher or "agent" in (a.title + " " + a.summary).casefold())
        and "AWS" not in a.publisher.split(" / ")
    ]
    assert 1 < len(expected) < len(articles)
    result = make_deliverer(database, bot.stub).deliver_issue(WS, "CF1", LATEST)
    assert result.outcome == "posted" and result.posted == 1 + len(expected) + 1
    parent = bot.stub.messages("CF1")[0]
    assert f"holds the {len(expected)} of {len(articles)} deep dives matching" in json.dumps(
        parent["blocks"]
    )
    replies = publishers_of(bot.stub, "CF1")
    assert [r.split(" — ")[0] for r in replies[:-1]] == expected
    assert replies[-1].startswith("Patterns Across Companies")
    assert "Filter: include company Cloudflare" in blocks_text(bot.command("status", channel="CF1"))


@pytest.mark.slow
def test_nothing_matching_posts_nothing_and_status_says_why(served: Bot) -> None:
    bot = served
    bot.command("filter include topic zyzzyva quokka", channel="CNONE")
    result = make_deliverer(bot.database, bot.stub).deliver_issue(WS, "CNONE", LATEST)
    assert result.outcome == "skipped"
    assert bot.stub.all_messages("CNONE") == []
    assert not [c for c in bot.stub.calls_to("chat.postMessage") if c.params["channel"] == "CNONE"]
    status = blocks_text(bot.command("status", channel="CNONE"))
    assert "none of the 28 deep dives matched this channel's filter" in status
    assert "include topic zyzzyva quokka" in status
    again = make_deliverer(bot.database, bot.stub).deliver_issue(WS, "CNONE", LATEST)
    assert again.outcome == "already" and bot.stub.all_messages("CNONE") == []


@pytest.fixture
def archive(database: Database) -> Database:
    ingest_files(database, expand_paths([REPO / "seeds"]))
    return database


def test_the_matching_set_is_decided_once_per_delivery(archive: Database) -> None:
    with archive.write() as session:
        filters.add_rule(session, WS, "CMID", Rule("include", "company", "AWS"), None)
    with SlackStub() as stub:
        deliverer = make_deliverer(archive, stub)
        stub.fail_next("chat.postMessage", status=500, after=2, times=50)
        first = deliverer.deliver_issue(WS, "CMID", LATEST, origin="schedule")
        assert first.outcome == "retry_later" and len(stub.all_messages("CMID")) >= 2
        with archive.write() as session:  # the filter changes mid-delivery
            filters.clear_rules(session, WS, "CMID")
        stub.reset_faults()
        with archive.read() as session:
            delivery_id = session.scalar(
                select(DeliveryRow.id).where(DeliveryRow.channel_id == "CMID")
            )
        assert delivery_id is not None
        assert deliverer.run(delivery_id).outcome == "posted"
        replies = publishers_of(stub, "CMID")
        with archive.read() as session:
            publishers = session.scalars(
                select(ArticleRow.publisher).where(ArticleRow.issue_date == LATEST)
            ).all()
        by_aws = sum(1 for p in publishers if "AWS" in p.split(" / "))
        assert 1 < by_aws < len(publishers)
        # Only AWS deep dives (as planned before the filter was cleared), then the patterns.
        assert len(replies) == by_aws + 1
        assert all("AWS" in r.split(" — ")[-1].split(" / ") for r in replies[:-1])
        assert replies[-1].startswith("Patterns Across Companies")
        parts = [r["metadata"]["event_payload"]["part"] for r in stub.all_messages("CMID")]
        assert parts == list(range(len(replies) + 1))
