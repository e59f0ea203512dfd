"""Roll-ups: periods (ISO weeks, months), the `/digest rollup` settings, and a period's figures.

A week runs Monday to Sunday and is named by its ISO week ("2026-W14"); a month is named
"2026-04". A roll-up covers the last *complete* period where the channel is (its timezone),
so a Monday-morning roll-up in Tokyo and one in Los Angeles both cover the week just ended
there.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

from bot.core.grammar import parse_schedule
from bot.store import rollups as store
from bot.store.db import Database, Session
from bot.store.queries import ArticleView
from bot.store.rollups import IssueText, PeriodKind, RollupSchedule
from bot.workspace import Workspace

TOP_COMPANIES = 10
MOST_SAVED = 5
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
USAGE = (
    "Use `/digest rollup` to see this channel's roll-up, `/digest rollup weekly [DAY] [HH:MM] "
    "[Timezone]`, `/digest rollup monthly [HH:MM] [Timezone]` or `/digest rollup off`."
)


# --- periods --------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Period:
    """A calendar week (Monday..Sunday) or month, both ends included."""

    start: dt.date
    end: dt.date
    kind: PeriodKind

    @property
    def label(self) -> str:
        """'2026-W14' (ISO week: its year may differ from the start's) or '2026-04'."""
        if self.kind == "month":
            return f"{self.start.year}-{self.start.month:02d}"
        year, week, _ = self.start.isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def days(self) -> int:
        """How many days the period has."""
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period just before this one."""
        return period_containing(self.kind, self.start - dt.timedelta(days=1))


def period_containing(kind: PeriodKind, day: dt.date) -> Period:
    """The week (Monday..Sunday) or month that a day falls in."""
    if kind == "month":
        last = calendar.monthrange(day.year, day.month)[1]
        return Period(day.replace(day=1), day.replace(day=last), "month")
    start = day - dt.timedelta(days=day.weekday())
    return Period(start, start + dt.timedelta(days=6), "week")


def period_named(label: str) -> Period:
    """The period a label names ('2026-W14' or '2026-04'); ValueError for anything else."""
    year, _, rest = label.partition("-")
    if not (year.isdigit() and len(year) == 4 and rest):
        raise ValueError(f"not a period: {label[:20]!r}")
    if rest[0] == "W" and rest[1:].isdigit() and len(rest) == 3:
        return period_containing("week", dt.date.fromisocalendar(int(year), int(rest[1:]), 1))
    if rest.isdigit() and len(rest) == 2 and 1 <= int(rest) <= 12:
        return period_containing("month", dt.date(int(year), int(rest), 1))
    raise ValueError(f"not a period: {label[:20]!r}")


def last_complete(kind: PeriodKind, now: dt.datetime, timezone: str) -> Period:
    """The newest period that has ended where the channel is (in `timezone`) at `now`."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    return period_containing(kind, today).previous()


# --- settings: /digest rollup ---------------------------------------------------------------


@dataclass(frozen=True)
class RollupChange:
    """`/digest rollup [weekly|monthly …|off]`: show (no action), set, or stop."""

    action: Literal["show", "set", "off"]
    period: PeriodKind = "week"
    weekday: int = 0
    hour: int = 9
    minute: int = 0
    timezone: str | None = None  # None: the person's Slack timezone


_DAY_WORDS = {name[:n]: i for i, name in enumerate(WEEKDAYS) for n in (3, len(name))}
_DAY_WORDS |= {"tues": 1, "wednes": 2, "thur": 3, "thurs": 3}
_SCHEDULE_DAYS = frozenset({"weekdays", "weekday", "workdays", "daily", "everyday", "every-day"})


def parse_rollup(text: str) -> RollupChange:
    """'', 'off', 'weekly [DAY] [HH:MM] [Timezone]' or 'monthly [HH:MM] [Timezone]' (time,
    zone and day in any order); ValueError with a one-line hint otherwise."""
    words = text.split()
    if not words:
        return RollupChange("show")
    first, rest = words[0].casefold(), words[1:]
    if first in ("off", "stop", "none"):
        if rest:
            raise ValueError(USAGE)
        return RollupChange("off")
    kind: PeriodKind
    if first in ("weekly", "week"):
        kind = "week"
    elif first in ("monthly", "month"):
        kind = "month"
    else:
        raise ValueError(f"“{words[0][:20]}” is not weekly, monthly or off. {USAGE}")
    weekday: int | None = None
    others: list[str] = []
    for word in rest:
        low = word.casefold().rstrip(",.")
        if low in _SCHEDULE_DAYS:
            raise ValueError(f"A roll-up comes once a {kind}, not “{word[:20]}”. {USAGE}")
        day = _DAY_WORDS.get(low.removesuffix("s") if low.endswith("days") else low)
        if day is None:
            others.append(word)
            continue
        if kind == "month":
            raise ValueError("A monthly roll-up comes on the 1st: give a time and timezone only.")
        if weekday is not None:
            raise ValueError("Give one day for a weekly roll-up.")
        weekday = day
    when = parse_schedule(" ".join(others))
    return RollupChange("set", kind, weekday or 0, when.hour, when.minute, when.timezone)


def set_rollup(
    database: Database,
    workspace: Workspace,
    channel_id: str,
    change: RollupChange,
    *,
    timezone: str,
    user_id: str | None,
    now: dt.datetime,
) -> RollupSchedule:
    """Give the channel a weekly or monthly roll-up; `timezone` when `change` names none."""
    return database.write_retrying(
        lambda session: store.set_rollup(
            session,
            workspace,
            channel_id,
            period=change.period,
            weekday=change.weekday if change.period == "week" else 0,
            hour=change.hour,
            minute=change.minute,
            timezone=change.timezone or timezone,
            user_id=user_id,
            now=now,
        )
    )


def stop_rollup(database: Database, workspace: Workspace, channel_id: str) -> bool:
    """Stop the channel's roll-ups; False when it had none."""
    return database.write_retrying(
        lambda session: store.clear_rollup(session, workspace, channel_id)
    )


def get_rollup(database: Database, workspace: Workspace, channel_id: str) -> RollupSchedule | None:
    """The channel's roll-up setting, if any."""
    with database.read() as session:
        return store.get_rollup(session, workspace, channel_id)


def every_rollup(database: Database) -> list[RollupSchedule]:
    """Every channel's roll-up setting (what the worker schedules)."""
    with database.read() as session:
        return store.all_rollups(session)


def channel_known(database: Database, workspace: Workspace, channel_id: str) -> bool:
    """Whether the bot knows the channel: subscribed, with a roll-up, or posted to."""
    with database.read() as session:
        return store.channel_known(session, workspace, channel_id)


def channel_timezone(database: Database, workspace: Workspace, channel_id: str) -> str:
    """Where a channel's periods end: its roll-up's timezone, its subscription's, else UTC."""
    with database.read() as session:
        return store.channel_timezone(session, workspace, channel_id) or "UTC"


def _slot_on(schedule: RollupSchedule, day: dt.date) -> dt.datetime:
    local = dt.datetime.combine(
        day, dt.time(schedule.hour, schedule.minute), tzinfo=ZoneInfo(schedule.timezone)
    )
    # Round-trip through UTC normalises a time that does not exist locally (spring forward).
    return local.astimezone(dt.UTC)


def _runs_on(schedule: RollupSchedule, day: dt.date) -> bool:
    return day.day == 1 if schedule.period == "month" else day.weekday() == schedule.weekday


def next_slot(schedule: RollupSchedule, now: dt.datetime) -> dt.datetime:
    """The first moment strictly after `now` when the channel's roll-up is due."""
    day = now.astimezone(ZoneInfo(schedule.timezone)).date()
    for ahead in range(33):
        candidate = day + dt.timedelta(days=ahead)
        if _runs_on(schedule, candidate) and _slot_on(schedule, candidate) > now:
            return _slot_on(schedule, candidate)
    raise AssertionError("a roll-up is due at least once in 33 days")


def latest_slot(schedule: RollupSchedule, now: dt.datetime) -> tuple[dt.datetime, Period] | None:
    """The newest moment at or before `now` when the roll-up was due, and the period it rolls
    up there (the last complete one on that local day); None within the first month."""
    day = now.astimezone(ZoneInfo(schedule.timezone)).date()
    for back in range(33):
        candidate = day - dt.timedelta(days=back)
        if _runs_on(schedule, candidate) and _slot_on(schedule, candidate) <= now:
            return _slot_on(schedule, candidate), period_containing(
                schedule.period, candidate
            ).previous()
    return None


def describe(schedule: RollupSchedule, now: dt.datetime) -> str:
    """What `/digest rollup` says about a channel's roll-up, with the next one."""
    when = f"{schedule.hour:02d}:{schedule.minute:02d} {schedule.timezone}"
    if schedule.period == "month":
        what = f"a monthly roll-up (the month before) on the 1st at {when}"
    else:
        day = WEEKDAYS[schedule.weekday].capitalize()
        what = f"a weekly roll-up (the week before, Monday to Sunday) on {day}s at {when}"
    upcoming = next_slot(schedule, now).astimezone(ZoneInfo(schedule.timezone))
    return f"This channel gets {what}. Next: {upcoming:%a %Y-%m-%d %H:%M %Z}."


# --- the figures ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rollup:
    """A period's figures for one channel: issues, deep dives, top companies, most saved."""

    period: Period
    issues: tuple[IssueText, ...]
    deep_dives: int
    top_companies: tuple[tuple[str, int], ...]
    most_saved: tuple[tuple[ArticleView, int], ...]
    # The ts of the channel's daily thread per issue date (no entry: the channel has none).
    threads: dict[dt.date, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The figures as `python -m bot rollup --json` prints them."""
        return {
            "period": self.period.label,
            "start": self.period.start.isoformat(),
            "end": self.period.end.isoformat(),
            "issues": len(self.issues),
            "deep_dives": self.deep_dives,
            "top_companies": [{"name": n, "articles": c} for n, c in self.top_companies],
            "most_saved": [{"title": a.title, "saves": c} for a, c in self.most_saved],
        }


def rollup(database: Database, workspace: Workspace, channel_id: str, period: Period) -> Rollup:
    """The figures of a period for a channel: the archive's, and this workspace's saves."""
    with database.read() as session:
        return figures(session, workspace, channel_id, period)


def figures(session: Session, workspace: Workspace, channel_id: str, period: Period) -> Rollup:
    """`rollup` in a transaction of the caller's (the delivery engine reads it in its own)."""
    start, end = period.start, period.end
    return Rollup(
        period,
        tuple(store.issues_between(session, start, end)),
        store.deep_dive_count(session, start, end),
        tuple(store.top_companies(session, start, end, TOP_COMPANIES)),
        tuple(store.most_saved(session, workspace, start, end, MOST_SAVED)),
        store.thread_parents(session, workspace, channel_id, start, end),
    )


# --- App Home: this week so far -------------------------------------------------------------

HOME_TOP_COMPANIES = 5


@dataclass(frozen=True)
class ThisWeek:
    """The person's week so far: deep dives, top companies, and how many they saved."""

    period: Period
    deep_dives: int
    top_companies: tuple[tuple[str, int], ...]
    your_saves: int


def this_week(
    database: Database, workspace: Workspace, user_id: str, now: dt.datetime, timezone: str
) -> ThisWeek:
    """The week so far (Monday until now) where the person is."""
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    week = period_containing("week", today)
    since = dt.datetime.combine(week.start, dt.time(), tzinfo=zone).astimezone(dt.UTC)
    with database.read() as session:
        return ThisWeek(
            week,
            store.deep_dive_count(session, week.start, today),
            tuple(store.top_companies(session, week.start, today, HOME_TOP_COMPANIES)),
            store.saves_by_between(session, workspace, user_id, since, now),
        )
