"""Roll-ups on the one ledger and engine: posted once (by the worker at their slot, or by hand),
caught up within the grace period, linked to the channel's daily threads, a refused chart sent
again without it, and never taken for an issue's thread."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from support.helpers import NO_BACKOFF, WS, subscribe
from support.slack_api import SlackStub

from bot.config import Settings
from bot.core import rollups
from bot.core.grammar import parse_request
from bot.core.ingestion import expand_paths, ingest_files
from bot.delivery.deliverer import Deliverer, everywhere
from bot.delivery.poster import ChannelPacer, SlackPoster, make_lookup_client, make_web_client
from bot.slack import chart_fallback, charts
from bot.slack.answers import Answers, Asker
from bot.slack.rollup_rendering import render_rollup
from bot.store import edits, ledger
from bot.store import rollups as rollup_store
from bot.store.db import Database
from bot.store.tables import DeliveryRow, IssueRow
from bot.worker.dispatcher import Dispatcher

REPO = Path(__file__).resolve().parents[2]
W14 = rollups.period_containing("week", dt.date(2026, 4, 1))  # 2026-03-30..04-05: two issues
DAYS = (dt.date(2026, 3, 31), dt.date(2026, 4, 1))
SLOT = dt.datetime(2026, 4, 6, 9, 0, tzinfo=dt.UTC)  # Monday 09:00 UTC: W14's weekly roll-up
SET_AT = SLOT - dt.timedelta(days=3)
GRACE = dt.timedelta(hours=6)


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chart_fallback, "_warned", False)  # its WARNING comes once a process


@pytest.fixture
def archive(database: Database) -> Database:
    ingest_files(database, expand_paths([REPO / "seeds"]))
    return database


def deliverer(database: Database, url: str, now: dt.datetime = SLOT) -> Deliverer:
    lookup = make_lookup_client("xoxb-l", url, timeout=2, sleep=lambda _s: None, backoff=NO_BACKOFF)
    poster = SlackPoster(
        make_web_client("xoxb-p", url, timeout=2), ChannelPacer(0), lookup_client=lookup
    )
    return Deliverer(database, everywhere(poster), clock=lambda: now, backoff=lambda _s: None)


def weekly(database: Database, channel: str, *, set_at: dt.datetime = SET_AT) -> None:
    with database.write() as session:
        rollup_store.set_rollup(
            session,
            WS,
            channel,
            period="week",
            weekday=0,
            hour=9,
            minute=0,
            timezone="UTC",
            user_id="U1",
            now=set_at,
        )


def parts(messages: list[dict[str, Any]]) -> list[int]:
    return [m["metadata"]["event_payload"]["part"] for m in messages]


def assert_rollup_once(stub: SlackStub, channel: str, replies: int = 2) -> dict[str, Any]:
    """Exactly one roll-up thread in the channel (W14's), each reply once, in order."""
    parents = [m for m in stub.messages(channel) if "period" in m["metadata"]["event_payload"]]
    assert len(parents) == 1, [p["text"][:60] for p in parents]
    parent = parents[0]
    assert parent["metadata"]["event_payload"]["period"] == "2026-W14"
    assert parts(stub.thread(channel, parent["ts"])) == list(range(1, replies + 1))
    return parent


# --- the worker -----------------------------------------------------------------------------


def test_two_workers_ticking_at_once_post_a_due_weekly_rollup_once(archive: Database) -> None:
    weekly(archive, "CROLL")  # roll-ups only: the channel has no daily subscription
    now = SLOT + dt.timedelta(minutes=1)
    with SlackStub() as stub:
        workers = [
            Dispatcher(archive, deliverer(archive, stub.url, now), lambda: now, grace=GRACE)
            for _ in range(2)
        ]
        ticks = [threading.Thread(target=w.tick) for w in workers]
        for tick in ticks:
            tick.start()
        for tick in ticks:
            tick.join(60)
        for worker in workers:  # and again, later the same morning
            worker.tick()
        parent = assert_rollup_once(stub, "CROLL")
        assert len(stub.all_messages("CROLL")) == 3
        assert "the week 2026-W14" in parent["text"]
    with archive.read() as session:
        rows = session.execute(
            select(DeliveryRow.state, DeliveryRow.period, DeliveryRow.issue_id, DeliveryRow.origin)
        ).all()
    assert [tuple(r) for r in rows] == [("posted", "2026-W14", None, "schedule")]


def test_a_rollup_missed_by_less_than_the_grace_is_posted_late_an_older_one_skipped(
    archive: Database, caplog: pytest.LogCaptureFixture
) -> None:
    weekly(archive, "CLATE")
    weekly(archive, "CGONE")
    late = SLOT + GRACE - dt.timedelta(minutes=10)
    with SlackStub() as stub:
        Dispatcher(archive, deliverer(archive, stub.url, late), lambda: late, grace=GRACE).tick()
        assert_rollup_once(stub, "CLATE")
        assert_rollup_once(stub, "CGONE")  # both were within the grace then
    weekly(archive, "CMISS")  # set before the slot, but the worker comes back too late
    too_late = SLOT + GRACE + dt.timedelta(minutes=10)
    caplog.set_level(logging.WARNING, logger="bot.worker.dispatcher")
    with SlackStub() as stub:
        worker = Dispatcher(
            archive, deliverer(archive, stub.url, too_late), lambda: too_late, grace=GRACE
        )
        worker.tick()
        worker.tick()
        assert stub.all_messages("CMISS") == []
    missed = [r for r in caplog.records if "missed" in r.getMessage() and "CMISS" in r.getMessage()]
    assert len(missed) == 1 and "roll-up of 2026-W14" in missed[0].getMessage()
    assert not [r for r in caplog.records if "CLATE" in r.getMessage()]  # posted: no warning
    with archive.read() as session:
        periods = set(
            session.scalars(select(DeliveryRow.channel_id).where(DeliveryRow.period.is_not(None)))
        )
    assert periods == {"CLATE", "CGONE"}


def test_a_rollup_set_after_its_slot_waits_for_the_next_one(archive: Database) -> None:
    weekly(archive, "CNEW", set_at=SLOT + dt.timedelta(minutes=5))
    now = SLOT + dt.timedelta(minutes=10)
    with SlackStub() as stub:
        Dispatcher(archive, deliverer(archive, stub.url, now), lambda: now, grace=GRACE).tick()
        assert stub.all_messages("CNEW") == []


def test_the_worker_leaves_a_rollup_whose_schedule_was_stopped(archive: Database) -> None:
    weekly(archive, "CSTOP")
    weekly(archive, "CKEEP")
    with archive.write() as session:
        for channel in ("CSTOP", "CKEEP"):
            ledger.ensure_delivery(session, WS, channel, None, period="2026-W14", due_at=SLOT)
        rollup_store.clear_rollup(session, WS, "CSTOP")
    with SlackStub() as stub:
        Dispatcher(archive, deliverer(archive, stub.url), lambda: SLOT, grace=GRACE).tick()
        assert stub.all_messages("CSTOP") == []
        assert_rollup_once(stub, "CKEEP")


# --- by hand, links, charts -------------------------------------------------------------------


def test_a_manual_rollup_posts_once_and_a_rerun_posts_nothing(archive: Database) -> None:
    with SlackStub() as stub:
        first = deliverer(archive, stub.url).deliver_rollup(WS, "CHAND", "2026-W14")
        assert (first.outcome, first.posted, first.period) == ("posted", 3, "2026-W14")
        again = deliverer(archive, stub.url).deliver_rollup(WS, "CHAND", "2026-W14")
        assert again.outcome == "already" and again.posted == 0
        assert_rollup_once(stub, "CHAND")
        assert len(stub.all_messages("CHAND")) == 3
        # A period without issues posts nothing, and says so.
        empty = deliverer(archive, stub.url).deliver_rollup(WS, "CHAND", "2026-W22")
        assert empty.outcome == "skipped" and "no issues in the week 2026-W22" in str(empty.error)
        assert len(stub.all_messages("CHAND")) == 3


def test_days_link_to_the_permalinks_of_the_channels_daily_thread_parents(
    archive: Database,
) -> None:
    with SlackStub() as stub:
        sender = deliverer(archive, stub.url)
        for day in DAYS:
            assert sender.deliver_issue(WS, "CLINK", day).outcome == "posted"
        daily = {m["metadata"]["event_payload"]["issue"]: m["ts"] for m in stub.messages("CLINK")}
        replies = [m["ts"] for m in stub.all_messages("CLINK") if m.get("thread_ts")]
        assert sender.deliver_rollup(WS, "CLINK", "2026-W14").outcome == "posted"
        parent = assert_rollup_once(stub, "CLINK")
        signals = stub.thread("CLINK", parent["ts"])[0]
        shown = str(signals["blocks"])
        for day in DAYS:
            ts = daily[day.isoformat()].replace(".", "")
            url = f"https://example.slack.com/archives/CLINK/p{ts}"
            assert f"<{url}|" in shown, (day, shown[:400])
        # Only the parents are linked (a reply's permalink would be another URL).
        assert not any(f"/p{ts.replace('.', '')}" in shown for ts in replies)
        asked = {c.params.get("message_ts") for c in stub.calls_to("chat.getPermalink")}
        assert asked == set(daily.values())
        # Another channel has no daily threads: its days are plain text.
        assert sender.deliver_rollup(WS, "COTHER", "2026-W14").outcome == "posted"
        other = stub.thread("COTHER", assert_rollup_once(stub, "COTHER")["ts"])[0]
        assert "https://example.slack.com" not in str(other["blocks"])


def test_a_refused_chart_is_posted_again_without_it_once_with_the_same_text(
    archive: Database, caplog: pytest.LogCaptureFixture
) -> None:
    expected = render_rollup(rollups.rollup(archive, WS, "CCHART", W14))[0]
    assert any(charts.is_chart(b) for b in expected.blocks)  # the parent carries a chart
    caplog.set_level(logging.WARNING)
    with SlackStub() as stub:
        stub.reject_charts()
        for channel in ("CCHART", "CCHART2"):
            result = deliverer(archive, stub.url).deliver_rollup(WS, channel, "2026-W14")
            assert result.outcome == "posted" and result.posted == 3
        for channel in ("CCHART", "CCHART2"):
            parent = assert_rollup_once(stub, channel)
            assert parent["text"] == expected.text
            assert parent["blocks"] == charts.without_charts(expected.blocks)
        refused = [c for c in stub.calls_to("chat.postMessage") if c.refused]
        assert len(refused) == 2  # one refusal per parent, nothing posted by it
    warnings = [r for r in caplog.records if "refused a chart" in r.getMessage()]
    assert len(warnings) == 1


# --- not an issue ----------------------------------------------------------------------------


def test_a_rollup_never_counts_as_an_issue_delivery(archive: Database) -> None:
    subscribe(archive, "CBOTH", now=SET_AT)
    with SlackStub() as stub:
        sender = deliverer(archive, stub.url)
        assert sender.deliver_issue(WS, "CDAILY", DAYS[1]).outcome == "posted"
        assert sender.deliver_rollup(WS, "CBOTH", "2026-W14").outcome == "posted"
        stub.fail_next("chat.postMessage", status=500, after=1, times=100)
        half = sender.deliver_rollup(WS, "CHALF", "2026-W14")
    assert half.outcome == "retry_later" and half.posted == 1
    with archive.read() as session:
        assert ledger.delivered_dates(session, WS, ["CBOTH"]) == {"CBOTH": set()}
        assert ledger.last_delivery(session, WS, "CBOTH") is None
    status = Answers(archive, Settings(), lambda: SLOT).answer(
        parse_request("status"), Asker("U1", "CBOTH", WS)
    )
    assert "Last delivery: none yet." in status.text
    # A half-sent roll-up by hand says how to finish it, as a half-sent `post` does.
    status = Answers(archive, Settings(), lambda: SLOT).answer(
        parse_request("status"), Asker("U1", "CHALF", WS)
    )
    assert "python -m bot rollup --channel CHALF --period week --ending 2026-04-05" in status.text
    # Every issue corrected: the issue's thread is reopened for edits, the roll-up is not.
    with archive.write() as session:
        session.execute(update(IssueRow).values(content_hash="corrected"))
        reopened = edits.reopen_changed(session, SLOT - dt.timedelta(days=30))
    with archive.read() as session:
        kinds = {
            r.id: (r.channel_id, r.state)
            for r in session.scalars(select(DeliveryRow).where(DeliveryRow.id.in_(reopened)))
        }
        rollup_state = session.scalar(
            select(DeliveryRow.state).where(DeliveryRow.channel_id == "CBOTH")
        )
    assert sorted(kinds.values()) == [("CDAILY", "pending")]
    assert rollup_state == "posted"


def test_a_reaction_on_a_rollup_message_saves_nothing(archive: Database) -> None:
    from bot.store import saves

    with SlackStub() as stub:
        deliverer(archive, stub.url).deliver_rollup(WS, "CSAVE", "2026-W14")
        posted = [m["ts"] for m in stub.all_messages("CSAVE")]
    with archive.read() as session:
        assert all(saves.article_for_message(session, WS, "CSAVE", ts) is None for ts in posted)
        assert all(saves.message_anywhere(session, "CSAVE", ts) is None for ts in posted)
