"""Roll-ups: the period math, the `/digest rollup` grammar and schedule, and a period's figures
checked against the seed files as the parser reads them (not against the SQL's own logic)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import insert

from bot.core import rollups
from bot.core.ingestion import expand_paths, ingest_files
from bot.core.rollups import Period, parse_rollup, period_containing
from bot.digest.companies import company_key
from bot.digest.models import Issue
from bot.digest.parsing import parse_issue, read_text
from bot.store import workspaces
from bot.store.db import Database
from bot.store.rollups import RollupSchedule
from bot.store.saves import apply_reaction
from bot.store.tables import ArticleRow, DeliveryMessageRow, DeliveryRow, IssueRow
from bot.workspace import Workspace

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
D = dt.date
UTC = dt.UTC
ONE, OTHER = Workspace("T1"), Workspace("T2")


# --- periods (pure) -------------------------------------------------------------------------


def test_a_week_runs_monday_to_sunday_with_its_iso_label() -> None:
    week = period_containing("week", D(2026, 4, 2))  # a Thursday
    assert (week.start, week.end, week.label, week.days) == (
        D(2026, 3, 30),
        D(2026, 4, 5),
        "2026-W14",
        7,
    )
    assert period_containing("week", D(2026, 3, 30)) == week  # its Monday
    assert period_containing("week", D(2026, 4, 5)) == week  # its Sunday
    assert period_containing("week", D(2026, 4, 6)).label == "2026-W15"


@pytest.mark.parametrize(
    ("day", "start", "end", "label"),
    [
        # 2026-01-01 is a Thursday: its week starts in 2025 and is 2026's first ISO week.
        (D(2026, 1, 1), D(2025, 12, 29), D(2026, 1, 4), "2026-W01"),
        (D(2025, 12, 29), D(2025, 12, 29), D(2026, 1, 4), "2026-W01"),
        # 2021-01-01 is a Friday: its week is the last ISO week of 2020 (W53).
        (D(2021, 1, 1), D(2020, 12, 28), D(2021, 1, 3), "2020-W53"),
        (D(2027, 1, 1), D(2026, 12, 28), D(2027, 1, 3), "2026-W53"),
    ],
)
def test_weeks_across_the_new_year(day: dt.date, start: dt.date, end: dt.date, label: str) -> None:
    week = period_containing("week", day)
    assert (week.start, week.end, week.label) == (start, end, label)
    assert week.start.weekday() == 0 and week.days == 7


@pytest.mark.parametrize(
    ("day", "start", "end", "label"),
    [
        (D(2026, 4, 30), D(2026, 4, 1), D(2026, 4, 30), "2026-04"),
        (D(2026, 2, 14), D(2026, 2, 1), D(2026, 2, 28), "2026-02"),
        (D(2028, 2, 29), D(2028, 2, 1), D(2028, 2, 29), "2028-02"),  # leap year
        (D(2026, 12, 31), D(2026, 12, 1), D(2026, 12, 31), "2026-12"),
        (D(2027, 1, 1), D(2027, 1, 1), D(2027, 1, 31), "2027-01"),
    ],
)
def test_months_and_their_boundaries(
    day: dt.date, start: dt.date, end: dt.date, label: str
) -> None:
    month = period_containing("month", day)
    assert (month.start, month.end, month.label) == (start, end, label)


def test_previous_crosses_years() -> None:
    assert period_containing("month", D(2027, 1, 9)).previous().label == "2026-12"
    assert period_containing("week", D(2026, 1, 1)).previous().label == "2025-W52"


def test_the_last_complete_period_is_where_the_channel_is() -> None:
    # Monday 2026-04-06 01:00 UTC: already Monday in Tokyo and Berlin, still Sunday in
    # Los Angeles, where the week of 2026-03-30 is not over yet.
    now = dt.datetime(2026, 4, 6, 1, 0, tzinfo=UTC)
    assert rollups.last_complete("week", now, "Asia/Tokyo").label == "2026-W14"
    assert rollups.last_complete("week", now, "Europe/Berlin").label == "2026-W14"
    assert rollups.last_complete("week", now, "America/Los_Angeles").label == "2026-W13"
    assert rollups.last_complete("week", now, "UTC").label == "2026-W14"
    # 2026-05-01 02:00 UTC: May in Tokyo (April is complete), still April in New York.
    may = dt.datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
    assert rollups.last_complete("month", may, "Asia/Tokyo").label == "2026-04"
    assert rollups.last_complete("month", may, "America/New_York").label == "2026-03"


# --- the /digest rollup grammar (pure) ------------------------------------------------------


def test_rollup_commands_parse_with_defaults() -> None:
    assert parse_rollup("") == rollups.RollupChange("show")
    assert parse_rollup("off") == rollups.RollupChange("off")
    weekly = parse_rollup("weekly")
    assert (weekly.action, weekly.period, weekly.weekday, weekly.hour, weekly.minute) == (
        "set",
        "week",
        0,
        9,
        0,
    )
    assert weekly.timezone is None  # the person's own, filled in by the caller
    assert parse_rollup("monthly").period == "month"


@pytest.mark.parametrize(
    ("text", "weekday", "hour", "minute", "zone"),
    [
        ("weekly friday 16:30 Europe/Berlin", 4, 16, 30, "Europe/Berlin"),
        ("weekly 7:05 asia/tokyo Tue", 1, 7, 5, "Asia/Tokyo"),
        ("WEEKLY Sundays 8pm", 6, 20, 0, None),
    ],
)
def test_weekly_takes_a_day_time_and_zone_in_any_order(
    text: str, weekday: int, hour: int, minute: int, zone: str | None
) -> None:
    change = parse_rollup(text)
    assert (change.period, change.weekday, change.hour, change.minute, change.timezone) == (
        "week",
        weekday,
        hour,
        minute,
        zone,
    )


def test_monthly_takes_a_time_and_zone() -> None:
    change = parse_rollup("monthly 18:00 America/New_York")
    assert (change.period, change.hour, change.timezone) == ("month", 18, "America/New_York")


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("yearly", "not weekly, monthly or off"),
        ("weekly 25:00", "not a time"),
        ("weekly Mars/Olympus", "neither"),
        ("weekly monday friday", "one day"),
        ("monthly friday", "on the 1st"),
        ("weekly daily", "once a week"),
        ("off now", "/digest rollup"),
    ],
)
def test_bad_rollup_commands_say_why(text: str, said: str) -> None:
    with pytest.raises(ValueError, match=said):
        parse_rollup(text)


def _schedule(period: str, weekday: int, hour: int, zone: str) -> RollupSchedule:
    return RollupSchedule(
        "C1",
        "month" if period == "month" else "week",
        weekday,
        hour,
        0,
        zone,
        "U1",
        dt.datetime(2026, 1, 1, tzinfo=UTC),
        ONE,
    )


def test_next_and_latest_slots_in_the_channels_zone() -> None:
    monday_berlin = _schedule("week", 0, 9, "Europe/Berlin")
    now = dt.datetime(2026, 4, 6, 6, 0, tzinfo=UTC)  # 08:00 in Berlin, Monday
    assert rollups.next_slot(monday_berlin, now) == dt.datetime(2026, 4, 6, 7, 0, tzinfo=UTC)
    slot, period = rollups.latest_slot(monday_berlin, now) or (None, None)
    assert slot == dt.datetime(2026, 3, 30, 7, 0, tzinfo=UTC) and period
    assert period.label == "2026-W13"
    later = dt.datetime(2026, 4, 6, 7, 0, tzinfo=UTC)  # exactly 09:00 in Berlin
    this_week = Period(D(2026, 3, 30), D(2026, 4, 5), "week")
    assert rollups.latest_slot(monday_berlin, later) == (later, this_week)
    monthly_tokyo = _schedule("month", 0, 9, "Asia/Tokyo")
    found = rollups.latest_slot(monthly_tokyo, dt.datetime(2026, 5, 1, 0, 0, tzinfo=UTC))
    assert found == (
        dt.datetime(2026, 5, 1, 0, 0, tzinfo=UTC),
        period_containing("month", D(2026, 4, 1)),
    )
    assert rollups.next_slot(monthly_tokyo, found[0]) == dt.datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
    assert "on Mondays at 09:00 Europe/Berlin" in rollups.describe(monday_berlin, now)
    assert "Mon 2026-04-06 09:00 CEST" in rollups.describe(monday_berlin, now)


# --- settings in the database ---------------------------------------------------------------


def test_settings_per_channel_and_workspace_and_purged_on_uninstall(database: Database) -> None:
    now = dt.datetime(2026, 4, 6, tzinfo=UTC)
    weekly = rollups.RollupChange("set", "week", 4, 16, 30, None)
    set_one = rollups.set_rollup(
        database, ONE, "C1", weekly, timezone="Asia/Kolkata", user_id="U1", now=now
    )
    assert (set_one.period, set_one.weekday, set_one.timezone, set_one.set_by) == (
        "week",
        4,
        "Asia/Kolkata",
        "U1",
    )
    monthly = rollups.RollupChange("set", "month", 3, 8, 0, "UTC")
    rollups.set_rollup(database, OTHER, "C1", monthly, timezone="Asia/Tokyo", user_id="U9", now=now)
    assert rollups.get_rollup(database, ONE, "C1") == set_one  # the other workspace's is apart
    other = rollups.get_rollup(database, OTHER, "C1")
    assert other and (other.period, other.weekday, other.timezone) == ("month", 0, "UTC")
    changed = rollups.set_rollup(
        database, ONE, "C1", monthly, timezone="Asia/Kolkata", user_id="U2", now=now
    )
    assert (changed.period, changed.set_by) == ("month", "U2")
    assert len(rollups.every_rollup(database)) == 2
    assert rollups.stop_rollup(database, ONE, "C1") and not rollups.stop_rollup(database, ONE, "C1")
    assert rollups.get_rollup(database, ONE, "C1") is None
    with database.write() as session:
        workspaces.purge(session, OTHER)
    assert rollups.every_rollup(database) == []


# --- figures against the seeds --------------------------------------------------------------


def seed_issues() -> list[Issue]:
    """The seed files as the parser reads them."""
    return [parse_issue(read_text(path)) for path in sorted(SEEDS.glob("*.txt"))]


def expected(period: Period) -> tuple[int, int, Counter[str]]:
    """Issues, deep dives and articles per company key in a period, counted from the files."""
    issues = [i for i in seed_issues() if period.start <= i.date <= period.end]
    companies: Counter[str] = Counter()
    for issue in issues:
        for article in issue.articles:
            companies.update({company_key(c) for c in article.companies})
    return len(issues), sum(len(i.articles) for i in issues), companies


@pytest.fixture
def archive(database: Database) -> Database:
    ingest_files(database, expand_paths([SEEDS]))
    return database


@pytest.mark.parametrize(
    ("kind", "day"),
    [("week", D(2026, 3, 31)), ("month", D(2026, 4, 15)), ("month", D(2026, 5, 2))],
)
def test_figures_match_the_seed_files(archive: Database, kind: str, day: dt.date) -> None:
    period = period_containing("month" if kind == "month" else "week", day)
    issues, dives, companies = expected(period)
    assert issues == 2 and dives > 10  # each of these periods holds two seed issues
    found = rollups.rollup(archive, ONE, "C1", period)
    assert (len(found.issues), found.deep_dives) == (issues, dives)
    top = list(found.top_companies)
    assert len(top) == 10
    assert [n for _, n in top] == sorted(companies.values(), reverse=True)[:10]
    for name, count in top:
        assert companies[company_key(name)] == count, name
    assert [i.date for i in found.issues] == sorted(
        i.date for i in seed_issues() if period.start <= i.date <= period.end
    )


def test_a_period_without_issues_has_zero_figures(archive: Database) -> None:
    found = rollups.rollup(archive, ONE, "C1", period_containing("week", D(2026, 4, 20)))
    assert (found.issues, found.deep_dives, found.top_companies, found.most_saved) == (
        (),
        0,
        (),
        (),
    )


def _articles(database: Database, day: dt.date) -> list[int]:
    from sqlalchemy import select

    with database.read() as session:
        return list(
            session.scalars(
                select(ArticleRow.id)
                .where(ArticleRow.issue_date == day)
                .order_by(ArticleRow.position)
            )
        )


def _save(
    database: Database, workspace: Workspace, user: str, article: int, removed: bool = False
) -> None:
    with database.write() as session:
        apply_reaction(
            session,
            workspace,
            user,
            article,
            removed=removed,
            event_us=int(dt.datetime.now(UTC).timestamp() * 1e6),
            at=dt.datetime(2026, 4, 2, tzinfo=UTC),
        )


def test_most_saved_counts_this_workspaces_saves_only(archive: Database) -> None:
    week = period_containing("week", D(2026, 3, 31))
    first, second, third = _articles(archive, D(2026, 3, 31))[:3]
    later = _articles(archive, D(2026, 4, 8))[0]  # next week: not in this roll-up
    for user in ("U1", "U2", "U3"):
        _save(archive, ONE, user, second)
    _save(archive, ONE, "U1", first)
    _save(archive, ONE, "U4", first)
    _save(archive, ONE, "U4", first, removed=True)  # unsaved again: does not count
    _save(archive, ONE, "U1", later)
    for user in ("V1", "V2", "V3", "V4"):  # another workspace's people
        _save(archive, OTHER, user, third)
    found = rollups.rollup(archive, ONE, "C1", week)
    assert [(a.id, n) for a, n in found.most_saved] == [(second, 3), (first, 1)]
    theirs = rollups.rollup(archive, OTHER, "C1", week)
    assert [(a.id, n) for a, n in theirs.most_saved] == [(third, 4)]
    as_json = found.as_json()
    assert as_json["most_saved"] == [{"title": a.title, "saves": n} for a, n in found.most_saved]


def test_threads_are_this_channels_daily_parents(archive: Database) -> None:
    from sqlalchemy import select

    with archive.write() as session:
        issue_id = session.scalar(select(IssueRow.id).where(IssueRow.date == D(2026, 3, 31)))
        for workspace, channel, ts in (
            (ONE, "C1", "100.1"),
            (ONE, "C2", "200.2"),
            (OTHER, "C1", "300.3"),
        ):
            delivery = session.execute(
                insert(DeliveryRow)
                .values(
                    team_id=workspace.team_id,
                    enterprise_id="",
                    channel_id=channel,
                    issue_id=issue_id,
                    state="posted",
                )
                .returning(DeliveryRow.id)
            ).scalar_one()
            for part, part_ts in ((0, ts), (1, ts + "9")):
                session.add(
                    DeliveryMessageRow(
                        team_id=workspace.team_id,
                        enterprise_id="",
                        delivery_id=delivery,
                        part=part,
                        channel_id=channel,
                        ts=part_ts,
                    )
                )
    week = period_containing("week", D(2026, 3, 31))
    assert rollups.rollup(archive, ONE, "C1", week).threads == {D(2026, 3, 31): "100.1"}
    assert rollups.rollup(archive, OTHER, "C1", week).threads == {D(2026, 3, 31): "300.3"}
    assert rollups.rollup(archive, ONE, "C9", week).threads == {}


def test_this_week_so_far_where_the_person_is(archive: Database) -> None:
    # Thursday 2026-04-02 in Tokyo: the week of 2026-03-30 so far holds the issues of 03-31
    # and 04-01; the person saved one article this week (another the week before).
    _, dives, companies = expected(period_containing("week", D(2026, 3, 31)))
    first, second = _articles(archive, D(2026, 3, 31))[:2]
    with archive.write() as session:
        for article, at in (
            (first, dt.datetime(2026, 3, 30, 1, tzinfo=UTC)),
            (second, dt.datetime(2026, 3, 28, tzinfo=UTC)),
        ):
            apply_reaction(session, ONE, "U1", article, removed=False, event_us=1, at=at)
    now = dt.datetime(2026, 4, 2, 3, 0, tzinfo=UTC)
    week = rollups.this_week(archive, ONE, "U1", now, "Asia/Tokyo")
    assert week.period.label == "2026-W14" and week.deep_dives == dives
    assert week.your_saves == 1
    assert [n for _, n in week.top_companies] == sorted(companies.values(), reverse=True)[:5]
    # In Los Angeles it is still Wednesday 2026-04-01, and its Monday began after that save.
    la = rollups.this_week(archive, ONE, "U1", now, "America/Los_Angeles")
    assert la.your_saves == 0 and la.deep_dives == dives
