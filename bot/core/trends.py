"""Trends: articles per week or month for up to five companies or topics, for any front end.

A company counts the articles `/digest company` lists for it (its aliases resolved the same
way), a topic the articles `/digest topic` finds (the same full-text query); every period of
the range is present, zeros included.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from bot.core.text import clean
from bot.dates import ALL_DATES, DateRange
from bot.store.db import Database
from bot.store.fulltext import search_terms
from bot.store.queries import resolve_company, suggest_companies
from bot.store.trends import archive_span, company_counts_by_day, topic_counts_by_day

Kind = Literal["company", "topic"]
By = Literal["week", "month"]
KINDS: tuple[Kind, ...] = ("company", "topic")
MAX_NAMES = 5
# Up to 26 weeks a trend counts per week, beyond that per month (as the issue asks).
WEEKLY_UP_TO_DAYS = 26 * 7
DEFAULT_MONTHS = 12
USAGE = (
    "Use `/digest trend company Cloudflare` or `/digest trend topic kafka`; compare up to "
    f"{MAX_NAMES} with vs (`/digest trend company AWS vs Google`), and end with a date range "
    "if you like (`since 2026-01-01`)."
)
_VS_RE = re.compile(r"(?<!\S)(?:vs\.?|versus)(?!\S)", re.IGNORECASE)


class TrendError(ValueError):
    """A trend that cannot be drawn: bad input, or nothing to count (one line says why)."""


class EmptyArchiveError(TrendError):
    """No issue has been ingested yet."""


@dataclass(frozen=True)
class TrendQuery:
    """What to count: companies or topics, one to five names."""

    kind: Kind
    names: tuple[str, ...]

    @property
    def text(self) -> str:
        """The query as typed again: 'company AWS vs Google'."""
        return f"{self.kind} " + " vs ".join(self.names)


def parse_trend(text: str) -> TrendQuery:
    """'company AWS vs Google' or 'topic kafka vs pulsar' (no date range); TrendError if not."""
    kind, _, rest = clean(text).partition(" ")
    return make_query(kind, _VS_RE.split(rest))


def make_query(kind: str, names: Iterable[str]) -> TrendQuery:
    """A query of one to five distinct names (case ignored); TrendError otherwise."""
    kind = kind.casefold()
    if kind not in KINDS:
        raise TrendError(USAGE)
    found: dict[str, str] = {}
    for name in names:
        name = clean(name)
        if name:
            found.setdefault(name.casefold(), name)
    if not found:
        raise TrendError(USAGE)
    if len(found) > MAX_NAMES:
        noun = "companies" if kind == "company" else "topics"
        raise TrendError(f"A trend compares at most {MAX_NAMES} {noun} ({len(found)} given).")
    return TrendQuery("company" if kind == "company" else "topic", tuple(found.values()))


@dataclass(frozen=True)
class Period:
    """One week or month of a trend, as far as the trend's range covers it."""

    key: str  # '2026-W05' (ISO week) or '2026-03'
    first: dt.date
    last: dt.date


@dataclass(frozen=True)
class Line:
    """One company's or topic's counts, one per period."""

    name: str
    counts: tuple[int, ...]

    @property
    def total(self) -> int:
        """Articles over the whole range."""
        return sum(self.counts)


@dataclass(frozen=True)
class Trend:
    """Counts per period for each name, over `dates` (both ends known)."""

    query: TrendQuery
    by: By
    dates: DateRange
    periods: tuple[Period, ...]
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class UnknownCompany:
    """A company name that matched none: the names it may have meant."""

    query: str
    suggestions: tuple[str, ...]


def week_key(day: dt.date) -> str:
    """The ISO week of a day: '2026-W05' (the ISO year, which differs near new year)."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def month_key(day: dt.date) -> str:
    """'2026-03'."""
    return f"{day.year:04d}-{day.month:02d}"


def _month_start(day: dt.date, back: int = 0) -> dt.date:
    """The first day of the month `back` months before `day`'s."""
    months = day.year * 12 + day.month - 1 - back
    return dt.date(months // 12, months % 12 + 1, 1)


def choose_by(dates: DateRange) -> By:
    """Per week for a range of up to 26 weeks, else per month."""
    assert dates.since and dates.until  # noqa: S101  a resolved range
    days = (dates.until - dates.since).days + 1
    return "week" if days <= WEEKLY_UP_TO_DAYS else "month"


def periods(dates: DateRange, by: By) -> list[Period]:
    """Every week (Monday to Sunday) or month that the range touches, clipped to it."""
    assert dates.since and dates.until  # noqa: S101  a resolved range
    found: list[Period] = []
    day = dates.since
    while day <= dates.until:
        if by == "week":
            start = day - dt.timedelta(days=day.weekday())
            end, key = start + dt.timedelta(days=6), week_key(day)
        else:
            start = day.replace(day=1)
            end, key = _month_start(day, -1) - dt.timedelta(days=1), month_key(day)
        found.append(Period(key, max(start, dates.since), min(end, dates.until)))
        day = end + dt.timedelta(days=1)
    return found


def resolve_range(requested: DateRange, today: dt.date, span: tuple[dt.date, dt.date]) -> DateRange:
    """The dates a trend covers: the range asked for (default: the last 12 months), within the
    archive (it starts no earlier than the first issue and ends no later than today or the last
    issue); TrendError when that leaves nothing."""
    first, last = span
    end = min(requested.until or today, max(today, last))
    start = max(requested.since or _month_start(end, DEFAULT_MONTHS - 1), first)
    if start > end:
        raise TrendError(
            f"The archive has no issues {requested.describe() or 'in that range'}: it runs "
            f"from {first.isoformat()} to {last.isoformat()}."
        )
    return DateRange(start, end)


def trend(
    database: Database,
    query: TrendQuery,
    dates: DateRange = ALL_DATES,
    *,
    today: dt.date,
    by: By | None = None,
) -> Trend | UnknownCompany:
    """Counts per week or month for each name (in one read transaction); an unknown company
    gives the names it may have meant; TrendError for a topic without words or no issues."""
    if query.kind == "topic":
        empty = next((n for n in query.names if not search_terms(n)), None)
        if empty is not None:
            raise TrendError(
                f"“{empty[:60]}” has no words to search for, e.g. `/digest trend topic kafka`."
            )
    with database.read() as session:
        span = archive_span(session)
        if span is None:
            raise EmptyArchiveError("The archive is empty: no issue has been ingested yet.")
        resolved = resolve_range(dates, today, span)
        assert resolved.since and resolved.until  # noqa: S101  resolve_range sets both
        chosen = by or choose_by(resolved)
        shown = periods(resolved, chosen)
        daily: list[tuple[str, dict[dt.date, int]]] = []
        for name in query.names:
            if query.kind == "topic":
                daily.append((name, topic_counts_by_day(session, name, *_ends(resolved))))
                continue
            company = resolve_company(session, name)
            if company is None:
                return UnknownCompany(name, suggest_companies(session, name))
            company_id, display = company
            if any(named == display for named, _ in daily):
                continue  # two spellings of one company: one line
            daily.append((display, company_counts_by_day(session, company_id, *_ends(resolved))))
    index = {p.key: i for i, p in enumerate(shown)}
    key_of = week_key if chosen == "week" else month_key
    lines = []
    for name, by_day in daily:
        counts = [0] * len(shown)
        for day, n in by_day.items():
            counts[index[key_of(day)]] += n
        lines.append(Line(name, tuple(counts)))
    return Trend(query, chosen, resolved, tuple(shown), tuple(lines))


def _ends(dates: DateRange) -> tuple[dt.date, dt.date]:
    assert dates.since and dates.until  # noqa: S101  a resolved range
    return dates.since, dates.until
