"""Lookups limited to issue dates, in SQL, on SQLite and PostgreSQL (both ends included)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.core.ingestion import expand_paths, ingest_files
from bot.dates import DateRange
from bot.store.db import Database
from bot.store.queries import ArticleView, find_by_company, search_topic
from bot.store.saves import apply_reaction, saved_articles
from bot.workspace import Workspace

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
D = dt.date
HERE = Workspace("T1")
ELSEWHERE = Workspace("T2")
RANGES = [
    DateRange(since=D(2026, 4, 8)),
    DateRange(until=D(2026, 4, 1)),
    DateRange(D(2026, 4, 1), D(2026, 5, 1)),
    DateRange(D(2026, 5, 13), D(2026, 5, 13)),
    DateRange(D(2027, 1, 1)),
    DateRange(until=D(2000, 1, 1)),
]


@pytest.fixture
def archive(database: Database) -> Database:
    ingest_files(database, expand_paths([SEEDS]))
    return database


def within(items: tuple[ArticleView, ...], dates: DateRange) -> list[int]:
    """The ids of the items a range keeps, in their order (what the SQL must return)."""
    since, until = dates.since or dt.date.min, dates.until or dt.date.max
    return [a.id for a in items if since <= a.issue_date <= until]


@pytest.mark.parametrize("dates", RANGES, ids=str)
def test_company_range_is_the_unlimited_list_filtered(archive: Database, dates: DateRange) -> None:
    with archive.read() as session:
        everything = find_by_company(session, "AWS", limit=50).page.items
        limited = find_by_company(session, "aws", limit=50, dates=dates)
    assert len(everything) > 20  # the seeds hold AWS articles on several days
    assert [a.id for a in limited.page.items] == within(everything, dates)
    assert limited.company == "AWS" and not limited.page.has_more


def test_company_range_pages(archive: Database) -> None:
    dates = DateRange(since=D(2026, 4, 8))
    with archive.read() as session:
        first = find_by_company(session, "AWS", limit=10, dates=dates).page
        second = find_by_company(session, "AWS", limit=10, offset=10, dates=dates).page
        whole = find_by_company(session, "AWS", limit=50, dates=dates).page
    assert first.has_more and len(first.items) == 10
    assert [a.id for a in first.items + second.items] == [a.id for a in whole.items]


@pytest.mark.parametrize("dates", RANGES, ids=str)
@pytest.mark.parametrize("words", ["AI", "rate limiting", "kafka", "latency"])
def test_topic_range_keeps_only_matches_in_range(
    archive: Database, dates: DateRange, words: str
) -> None:
    with archive.read() as session:
        everything = search_topic(session, words, limit=50).page.items
        limited = search_topic(session, words, limit=50, dates=dates).page.items
    assert everything
    # Ranking is among matches, so the order is the engine's; the set must be exactly these.
    assert sorted(a.id for a in limited) == sorted(within(everything, dates))


def test_saved_range_filters_by_the_article_issue_date(archive: Database) -> None:
    at = dt.datetime(2026, 5, 20, tzinfo=dt.UTC)
    with archive.read() as session:
        articles = find_by_company(session, "AWS", limit=50).page.items
    days = {a.issue_date: a for a in articles}
    assert len(days) >= 3
    with archive.write() as session:
        for n, article in enumerate(days.values()):
            apply_reaction(session, HERE, "U1", article.id, removed=False, event_us=n + 1, at=at)
    dates = DateRange(since=sorted(days)[1])
    with archive.read() as session:
        everything = saved_articles(session, HERE, "U1", limit=50).items
        limited = saved_articles(session, HERE, "U1", limit=50, dates=dates).items
        other = saved_articles(session, HERE, "U2", limit=50, dates=dates).items
    assert len(everything) == len(days)
    assert [a.id for a in limited] == within(everything, dates) and len(limited) == len(days) - 1
    assert other == ()


def test_saved_range_stays_in_the_asking_workspace(archive: Database) -> None:
    """The same user id in another workspace is another person: a range never crosses over."""
    at = dt.datetime(2026, 5, 20, tzinfo=dt.UTC)
    with archive.read() as session:
        articles = find_by_company(session, "AWS", limit=50).page.items
    mine, theirs = articles[0], articles[1]
    with archive.write() as session:
        apply_reaction(session, HERE, "U1", mine.id, removed=False, event_us=1, at=at)
        apply_reaction(session, ELSEWHERE, "U1", theirs.id, removed=False, event_us=2, at=at)
    dates = DateRange(
        min(mine.issue_date, theirs.issue_date), max(mine.issue_date, theirs.issue_date)
    )
    with archive.read() as session:
        here = saved_articles(session, HERE, "U1", limit=50, dates=dates).items
        elsewhere = saved_articles(session, ELSEWHERE, "U1", limit=50, dates=dates).items
    assert [a.id for a in here] == [mine.id]
    assert [a.id for a in elsewhere] == [theirs.id]
