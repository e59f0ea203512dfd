"""Trends counted in SQL on SQLite and PostgreSQL: each period's count is what /digest company
or /digest topic lists for that period (asked through those lookups), every period present."""

from __future__ import annotations

import datetime as dt

import pytest
from support.dated_archive import dated_archive, listed

from bot.core import lookups, trends
from bot.core.trends import Trend, TrendError, TrendQuery, UnknownCompany
from bot.dates import DateRange
from bot.store.db import Database

D = dt.date
# One issue in June 2025, then issues every four days across a new year (2025-12-29 to
# 2026-01-04 is ISO week 2026-W01), then none for weeks, then three in March: zeros between.
DAYS = (
    [D(2025, 6, 2)]
    + [D(2025, 12, 1) + dt.timedelta(days=4 * n) for n in range(10)]
    + [
        D(2026, 3, 2),
        D(2026, 3, 10),
        D(2026, 3, 24),
    ]
)
TODAY = D(2026, 3, 31)


@pytest.fixture
def archive(database: Database) -> Database:
    return dated_archive(database, DAYS)


def drawn(database: Database, text: str, dates: DateRange, **options: object) -> Trend:
    found = trends.trend(database, trends.parse_trend(text), dates, today=TODAY, **options)  # type: ignore[arg-type]
    assert isinstance(found, Trend)
    return found


@pytest.mark.parametrize(
    "text",
    ["company AWS vs cloudflare vs GOOGLE", "topic kafka vs AI vs rate limiting vs agents"],
)
@pytest.mark.parametrize(
    ("dates", "by"),
    [
        (DateRange(D(2025, 12, 1), D(2026, 3, 31)), "week"),
        (DateRange(D(2025, 1, 1), D(2026, 3, 31)), "month"),
        (DateRange(D(2025, 11, 20), D(2026, 1, 10)), "week"),
    ],
)
def test_each_period_counts_what_the_lookup_lists(
    archive: Database, text: str, dates: DateRange, by: str
) -> None:
    found = drawn(archive, text, dates)
    assert found.by == by
    kind = text.split()[0]
    nonzero = 0
    for line, typed in zip(found.lines, trends.parse_trend(text).names, strict=True):
        for period, count in zip(found.periods, line.counts, strict=True):
            assert count == listed(archive, kind, typed, DateRange(period.first, period.last))
            nonzero += count > 0
        assert line.total == listed(archive, kind, typed, found.dates)
    assert nonzero >= 4  # the lines are not all zeros


def test_every_period_is_present_with_zeros(archive: Database) -> None:
    found = drawn(archive, "company AWS", DateRange(D(2025, 12, 1), D(2026, 3, 31)))
    keys = [p.key for p in found.periods]
    assert keys[0] == "2025-W49" and keys[-1] == "2026-W14"
    assert len(keys) == len(set(keys)) == 18  # Monday 2025-12-01 to Tuesday 2026-03-31
    # February has no issue: its weeks are there, as zeros.
    counts = dict(zip(found.periods, found.lines[0].counts, strict=True))
    assert [c for p, c in counts.items() if p.first.month == 2] == [0, 0, 0, 0]
    # Periods follow each other without a gap, clipped to the range at both ends.
    assert found.periods[0].first == D(2025, 12, 1) and found.periods[-1].last == D(2026, 3, 31)
    for before, after in zip(found.periods, found.periods[1:], strict=False):
        assert after.first == before.last + dt.timedelta(days=1)

    months = drawn(archive, "company AWS", DateRange(D(2025, 1, 1), D(2026, 3, 31)))
    # From the first issue (June 2025) on: July to November and February are zeros.
    assert [p.key for p in months.periods] == [
        "2025-06", "2025-07", "2025-08", "2025-09", "2025-10", "2025-11", "2025-12",
        "2026-01", "2026-02", "2026-03",
    ]  # fmt: skip
    shown = months.lines[0].counts
    assert shown[1:6] == (0, 0, 0, 0, 0) and shown[8] == 0
    assert shown[0] > 0 and shown[6] > 0 and shown[9] > 0


def test_a_week_across_new_year_is_one_iso_week(archive: Database) -> None:
    assert trends.week_key(D(2025, 12, 29)) == trends.week_key(D(2026, 1, 4)) == "2026-W01"
    assert trends.week_key(D(2021, 1, 1)) == "2020-W53"
    assert trends.week_key(D(2026, 12, 31)) == "2026-W53"
    found = drawn(archive, "topic AI", DateRange(D(2025, 12, 22), D(2026, 1, 11)))
    assert [p.key for p in found.periods] == ["2025-W52", "2026-W01", "2026-W02"]
    new_year = found.periods[1]
    assert (new_year.first, new_year.last) == (D(2025, 12, 29), D(2026, 1, 4))
    # 2025-12-29 and 2026-01-02 both have an issue: both count in 2026-W01.
    assert found.lines[0].counts[1] == listed(
        archive, "topic", "AI", DateRange(D(2025, 12, 29), D(2025, 12, 29))
    ) + listed(archive, "topic", "AI", DateRange(D(2026, 1, 2), D(2026, 1, 2)))
    assert found.lines[0].counts[1] > 0


def test_weeks_up_to_26_weeks_then_months(archive: Database) -> None:
    start = D(2025, 9, 1)  # a Monday
    weeks = drawn(archive, "company AWS", DateRange(start, start + dt.timedelta(days=181)))
    months = drawn(archive, "company AWS", DateRange(start, start + dt.timedelta(days=182)))
    assert (weeks.by, len(weeks.periods)) == ("week", 26)
    assert (months.by, len(months.periods)) == ("month", 7)
    assert sum(weeks.lines[0].counts) == sum(months.lines[0].counts) - (
        listed(archive, "company", "AWS", DateRange(months.dates.until, months.dates.until))
    )
    forced = drawn(archive, "company AWS", weeks.dates, by="month")
    assert forced.by == "month" and forced.periods[0].key == "2025-09"
    assert sum(forced.lines[0].counts) == sum(weeks.lines[0].counts)
    by_week = drawn(archive, "company AWS", DateRange(D(2025, 6, 1), TODAY), by="week")
    assert len(by_week.periods) == 44


def test_the_default_is_the_last_12_months_or_the_whole_archive(database: Database) -> None:
    dated_archive(database, [D(2024, 1, 10), D(2025, 6, 3), D(2026, 3, 2)])
    found = drawn(database, "company AWS", DateRange())
    assert found.dates == DateRange(D(2025, 4, 1), TODAY)
    assert found.by == "month" and len(found.periods) == 12
    short = drawn(database, "company AWS", DateRange(since=D(2026, 1, 1)))
    assert short.by == "week" and short.dates == DateRange(D(2026, 1, 1), TODAY)


def test_a_short_archive_is_shown_whole(archive: Database) -> None:
    found = drawn(archive, "company AWS", DateRange())
    assert found.dates == DateRange(DAYS[0], TODAY)  # shorter than 12 months: all of it
    assert found.by == "month" and len(found.periods) == 10


def test_at_most_five_names(archive: Database) -> None:
    five = "company AWS vs Google vs Meta vs Cloudflare vs Microsoft"
    assert len(trends.parse_trend(five).names) == 5
    with pytest.raises(TrendError, match="at most 5"):
        trends.parse_trend(five + " vs Netflix")
    with pytest.raises(TrendError, match="at most 5 topics"):
        trends.parse_trend("topic a vs b vs c vs d vs e VERSUS f")
    assert trends.parse_trend("company AWS vs aws vs  Google").names == ("AWS", "Google")
    for bad in ["", "people AWS", "company", "company vs", "topic  vs  vs "]:
        with pytest.raises(TrendError):
            trends.parse_trend(bad)


def test_an_unknown_company_gets_the_same_did_you_mean(archive: Database) -> None:
    query = TrendQuery("company", ("AWS", "Cloudflar"))
    found = trends.trend(archive, query, today=TODAY)
    assert isinstance(found, UnknownCompany)
    expected = lookups.company(archive, "Cloudflar")
    assert expected.company is None and expected.suggestions
    assert found.suggestions == expected.suggestions and found.query == "Cloudflar"


def test_nothing_to_count(database: Database) -> None:
    with pytest.raises(trends.EmptyArchiveError):
        trends.trend(database, TrendQuery("company", ("AWS",)), today=TODAY)
    dated_archive(database, DAYS[:2])
    with pytest.raises(TrendError, match="no words"):
        trends.trend(database, TrendQuery("topic", ("kafka", "&& !!")), today=TODAY)
    with pytest.raises(TrendError, match="runs from 2025-06-02 to 2025-12-01"):
        trends.trend(
            database, TrendQuery("topic", ("kafka",)), DateRange(until=D(2020, 1, 1)), today=TODAY
        )
