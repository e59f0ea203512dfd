"""Channel schedules under a controlled clock: DST, timezones, weekdays, grace and max age."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.schedule import ChannelSchedule, decide

UTC = dt.UTC
EPOCH = dt.datetime(2020, 1, 1, tzinfo=UTC)
MAX_AGE = dt.timedelta(days=2)
GRACE = dt.timedelta(hours=6)


def schedule(zone: str, hour: int = 9, minute: int = 0, days: str = "weekdays") -> ChannelSchedule:
    return ChannelSchedule("C1", hour, minute, zone, days, EPOCH)  # type: ignore[arg-type]


def slots_between(s: ChannelSchedule, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Every slot in [start, end), found by walking next_slot like a clock would."""
    found = []
    now = start
    while True:
        slot = s.next_slot(now)
        if slot >= end:
            return found
        found.append(slot)
        now = slot


@pytest.mark.parametrize(
    ("zone", "start", "end"),
    [
        (
            "Europe/Berlin",
            dt.datetime(2026, 3, 23, tzinfo=UTC),
            dt.datetime(2026, 4, 6, tzinfo=UTC),
        ),
        (
            "Europe/Berlin",
            dt.datetime(2026, 10, 19, tzinfo=UTC),
            dt.datetime(2026, 11, 2, tzinfo=UTC),
        ),
        (
            "America/New_York",
            dt.datetime(2026, 3, 2, tzinfo=UTC),
            dt.datetime(2026, 3, 16, tzinfo=UTC),
        ),
        (
            "America/New_York",
            dt.datetime(2026, 10, 26, tzinfo=UTC),
            dt.datetime(2026, 11, 9, tzinfo=UTC),
        ),
        ("Asia/Kolkata", dt.datetime(2026, 3, 2, tzinfo=UTC), dt.datetime(2026, 3, 16, tzinfo=UTC)),
    ],
)
def test_daily_slot_is_nine_local_once_a_day_across_dst(
    zone: str, start: dt.datetime, end: dt.datetime
) -> None:
    s = schedule(zone, days="daily")
    slots = slots_between(s, start, end)
    local = [slot.astimezone(ZoneInfo(zone)) for slot in slots]
    assert [t.time() for t in local] == [dt.time(9, 0)] * len(local)
    days = [t.date() for t in local]
    assert len(days) == len(set(days)) == (end - start).days  # no skipped or doubled day


def test_new_york_utc_hour_moves_with_dst() -> None:
    s = schedule("America/New_York", days="daily")
    before = s.slot_on(dt.date(2026, 3, 6))
    after = s.slot_on(dt.date(2026, 3, 9))
    assert (before.hour, after.hour) == (14, 13)


def test_kolkata_half_hour_offset() -> None:
    s = schedule("Asia/Kolkata", 9, 0)
    assert s.slot_on(dt.date(2026, 5, 13)) == dt.datetime(2026, 5, 13, 3, 30, tzinfo=UTC)


def test_nonexistent_local_time_fires_once_on_spring_forward_day() -> None:
    s = schedule("America/New_York", 2, 30, "daily")
    slots = slots_between(
        s, dt.datetime(2026, 3, 7, tzinfo=UTC), dt.datetime(2026, 3, 10, tzinfo=UTC)
    )
    assert len(slots) == 3
    assert slots[1] == dt.datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT, once


def test_repeated_local_time_fires_once_on_fall_back_day() -> None:
    s = schedule("America/New_York", 1, 30, "daily")
    slots = slots_between(
        s, dt.datetime(2026, 10, 31, tzinfo=UTC), dt.datetime(2026, 11, 3, tzinfo=UTC)
    )
    assert len(slots) == 3


def test_weekdays_skip_the_weekend_in_local_time() -> None:
    s = schedule("Asia/Kolkata")
    slots = slots_between(
        s, dt.datetime(2026, 5, 8, tzinfo=UTC), dt.datetime(2026, 5, 16, tzinfo=UTC)
    )
    days = [slot.astimezone(ZoneInfo("Asia/Kolkata")).strftime("%a") for slot in slots]
    assert days == ["Fri", "Mon", "Tue", "Wed", "Thu", "Fri"]


ISSUES = [dt.date(2026, 5, 13), dt.date(2026, 5, 12), dt.date(2026, 5, 11)]


def at(zone: str, y: int, m: int, d: int, hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def test_due_at_slot_posts_newest_issue() -> None:
    s = schedule("Europe/Berlin")
    decision = decide(
        s, at("Europe/Berlin", 2026, 5, 13, 9, 0), ISSUES, set(), max_age=MAX_AGE, grace=GRACE
    )
    assert (decision.action, decision.issue_date) == ("post", dt.date(2026, 5, 13))


def test_not_due_before_slot_and_not_twice() -> None:
    s = schedule("Europe/Berlin")
    early = decide(
        s,
        at("Europe/Berlin", 2026, 5, 13, 8, 59),
        ISSUES,
        {dt.date(2026, 5, 12)},
        max_age=MAX_AGE,
        grace=GRACE,
    )
    # Before 09:00 the 13th's issue waits for its slot; the 12th's was delivered.
    assert early.action == "wait"
    done = decide(
        s,
        at("Europe/Berlin", 2026, 5, 13, 9, 5),
        ISSUES,
        {dt.date(2026, 5, 13)},
        max_age=MAX_AGE,
        grace=GRACE,
    )
    assert done.action == "wait"


def test_catch_up_within_grace_then_skip_after() -> None:
    s = schedule("America/New_York")
    within = decide(
        s, at("America/New_York", 2026, 5, 13, 14, 59), ISSUES, set(), max_age=MAX_AGE, grace=GRACE
    )
    assert within.action == "post"
    after = decide(
        s, at("America/New_York", 2026, 5, 13, 15, 1), ISSUES, set(), max_age=MAX_AGE, grace=GRACE
    )
    assert after.action == "missed"


def test_old_issue_is_never_posted() -> None:
    s = schedule("UTC", days="daily")
    stale = [dt.date(2026, 5, 1)]
    decision = decide(s, at("UTC", 2026, 5, 13, 9, 1), stale, set(), max_age=MAX_AGE, grace=GRACE)
    assert decision.action == "wait"
    recent = [dt.date(2026, 5, 11)]
    decision = decide(s, at("UTC", 2026, 5, 13, 9, 1), recent, set(), max_age=MAX_AGE, grace=GRACE)
    assert decision.action == "post"


def test_only_newest_issue_after_downtime_no_flood() -> None:
    s = schedule("UTC", days="daily")
    decision = decide(s, at("UTC", 2026, 5, 13, 9, 1), ISSUES, set(), max_age=MAX_AGE, grace=GRACE)
    assert decision.issue_date == dt.date(2026, 5, 13)
    # Once the newest is delivered nothing older follows.
    again = decide(
        s,
        at("UTC", 2026, 5, 13, 9, 2),
        ISSUES,
        {dt.date(2026, 5, 13)},
        max_age=MAX_AGE,
        grace=GRACE,
    )
    assert again.action == "wait"


def test_slots_before_subscribing_do_not_count() -> None:
    subscribed = at("UTC", 2026, 5, 13, 10, 0)
    s = ChannelSchedule("C1", 9, 0, "UTC", "daily", subscribed)
    decision = decide(s, at("UTC", 2026, 5, 13, 10, 1), ISSUES, set(), max_age=MAX_AGE, grace=GRACE)
    assert decision.action == "wait"
    tomorrow = decide(s, at("UTC", 2026, 5, 14, 9, 0), ISSUES, set(), max_age=MAX_AGE, grace=GRACE)
    assert (tomorrow.action, tomorrow.issue_date) == ("post", dt.date(2026, 5, 13))


def test_weekend_gets_nothing_on_weekdays_schedule() -> None:
    s = schedule("UTC")
    saturday = at("UTC", 2026, 5, 16, 9, 30)
    decision = decide(s, saturday, [dt.date(2026, 5, 16)], set(), max_age=MAX_AGE, grace=GRACE)
    assert decision.action != "post"


def test_outlook_says_when_the_newest_issue_is_too_old_to_post() -> None:
    from bot.schedule import outlook

    sub = ChannelSchedule(
        "C1", 9, 0, "Europe/Berlin", "weekdays", dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )
    now = dt.datetime(2026, 5, 13, 12, 0, tzinfo=dt.UTC)  # a Wednesday, after 09:00 Berlin
    two_days = dt.timedelta(days=2)
    fresh = outlook(sub, now, dt.date(2026, 5, 13), False, max_age=two_days)
    assert (fresh.state, fresh.issue_date) == ("post", dt.date(2026, 5, 13))
    assert fresh.slot == dt.datetime(2026, 5, 14, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    edge = outlook(sub, now, dt.date(2026, 5, 12), False, max_age=two_days)
    assert (edge.state, edge.age_days) == ("post", 2)
    stale = outlook(sub, now, dt.date(2026, 5, 11), False, max_age=two_days)
    assert (stale.state, stale.age_days) == ("stale", 3)
    assert outlook(sub, now, dt.date(2026, 5, 13), True, max_age=two_days).state == "posted"
    assert outlook(sub, now, None, False, max_age=two_days).state == "empty"
    # What decide() does at that slot agrees with the outlook.
    at_slot = fresh.slot.astimezone(dt.UTC)
    for newest, state in ((dt.date(2026, 5, 12), "post"), (dt.date(2026, 5, 11), "stale")):
        decision = decide(sub, at_slot, [newest], set(), max_age=two_days, grace=dt.timedelta(0))
        assert (decision.action == "post") == (state == "post")
