"""Archive lookups (company, topic, date, saved): plain results for any front end to render."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.dates import ALL_DATES, DateRange
from bot.store.archive import read_version
from bot.store.db import Database
from bot.store.queries import (
    CompanyResult,
    IssueView,
    Page,
    TopicResult,
    find_by_company,
    get_issue,
    issue_count,
    latest_issue_date,
    nearby_dates,
    search_topic,
)
from bot.store.saves import saved_articles
from bot.workspace import Workspace

PAGE_SIZE = 10


@dataclass(frozen=True)
class IssueLookup:
    """One day's issue, or (none that day) the nearest days that have one."""

    day: dt.date | None
    issue: IssueView | None
    nearby: tuple[dt.date, ...] = ()

    def missing_text(self, quote: str = "") -> str:
        """Why there is no issue to show, naming the nearby days (each wrapped in `quote`)."""
        if self.day is None:
            return "The archive is empty: no issue has been ingested yet."
        if self.nearby:
            dates = ", ".join(f"{quote}{d.isoformat()}{quote}" for d in self.nearby)
            return f"No issue on {self.day.isoformat()}. Nearby issues: {dates}."
        return f"No issue on {self.day.isoformat()}, and the archive is empty."


def archive_version(database: Database) -> int:
    """The archive's version: equal versions mean identical lookup results."""
    return read_version(database)


def company(
    database: Database, name: str, offset: int = 0, dates: DateRange = ALL_DATES
) -> CompanyResult:
    """Articles by a company, newest first (issued within `dates`)."""
    with database.read() as session:
        return find_by_company(session, name, PAGE_SIZE, offset, dates)


def topic(
    database: Database, words: str, offset: int = 0, dates: DateRange = ALL_DATES
) -> TopicResult:
    """Articles about a topic, most relevant first (issued within `dates`)."""
    with database.read() as session:
        return search_topic(session, words, PAGE_SIZE, offset, dates)


def issue(database: Database, day: dt.date | None) -> IssueLookup:
    """The issue of `day` (None: the latest), with nearby days when there is none."""
    with database.read() as session:
        found = get_issue(session, day)
        nearby = nearby_dates(session, day) if found is None and day else ()
    return IssueLookup(day, found, nearby)


def saved(
    database: Database,
    workspace: Workspace,
    user_id: str,
    offset: int = 0,
    dates: DateRange = ALL_DATES,
) -> Page:
    """A person's saved articles in a workspace issued within `dates`, latest save first."""
    with database.read() as session:
        return saved_articles(session, workspace, user_id, PAGE_SIZE, offset, dates)


def archive_size(database: Database) -> tuple[int, dt.date | None]:
    """How many issues the archive holds, and the newest one's date (None: empty)."""
    with database.read() as session:
        return issue_count(session), latest_issue_date(session)
