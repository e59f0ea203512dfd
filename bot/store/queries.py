"""Lookups over the archive: by company, by topic, by date; plain data out."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.dates import ALL_DATES, DateRange
from bot.digest.companies import company_key
from bot.store.fulltext import match_article_ids, search_terms
from bot.store.sql import within_dates
from bot.store.tables import (
    ArticleCompanyRow,
    ArticleRow,
    CompanyAliasRow,
    CompanyRow,
    IssueRow,
    TaughtNameRow,
)

MAX_PAGE = 50


@dataclass(frozen=True, slots=True)
class ArticleView:
    """An article as lookups return it."""

    id: int
    title: str
    publisher: str
    summary: str
    url: str | None
    issue_date: dt.date
    position: int


@dataclass(frozen=True, slots=True)
class Page:
    """One page of articles; `has_more` says whether another page follows."""

    items: tuple[ArticleView, ...]
    offset: int
    limit: int
    has_more: bool

    @property
    def next_offset(self) -> int | None:
        """The offset of the next page, if any."""
        return self.offset + self.limit if self.has_more else None


@dataclass(frozen=True, slots=True)
class CompanyResult:
    """Articles of one company, or suggestions when the name matched none."""

    query: str
    company: str | None
    page: Page
    suggestions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TopicResult:
    """Articles matching a topic, best first."""

    query: str
    terms: tuple[str, ...]
    page: Page


@dataclass(frozen=True, slots=True)
class IssueView:
    """A whole issue with its articles in order."""

    id: int
    date: dt.date
    signal: str
    patterns: str | None
    sources: tuple[str, ...]
    articles: tuple[ArticleView, ...]


def clamp_page(limit: int, offset: int) -> tuple[int, int]:
    return max(1, min(limit, MAX_PAGE)), max(0, offset)


def _view(row: ArticleRow) -> ArticleView:
    return ArticleView(
        row.id, row.title, row.publisher, row.summary, row.url, row.issue_date, row.position
    )


def _page(rows: Sequence[ArticleRow], limit: int, offset: int) -> Page:
    return Page(tuple(_view(r) for r in rows[:limit]), offset, limit, len(rows) > limit)


def articles_by_ids(session: Session, ids: Sequence[int]) -> list[ArticleView]:
    """Articles in the order of the given ids (missing ones skipped)."""
    if not ids:
        return []
    rows = {r.id: r for r in session.scalars(select(ArticleRow).where(ArticleRow.id.in_(ids)))}
    return [_view(rows[i]) for i in ids if i in rows]


def resolve_company(session: Session, name: str) -> tuple[int, str] | None:
    """The company a user's name means: exact key or alias, else a unique whole-word prefix.

    'Grafana' finds 'Grafana Labs'; a cut-off word such as 'Cloudflar' only gets suggestions.
    """
    key = company_key(name)
    if not key:
        return None
    row = session.execute(
        select(CompanyRow.id, CompanyRow.name).where(CompanyRow.key == key)
    ).first()
    if row is None:  # an alias the operator taught (`companies add NAME --alias A`)
        row = session.execute(
            select(CompanyRow.id, CompanyRow.name)
            .join(TaughtNameRow, TaughtNameRow.company_id == CompanyRow.id)
            .where(TaughtNameRow.key == key)
        ).first()
    if row is not None:
        return row[0], row[1]
    if len(key) >= 3:
        words = " ".join(name.casefold().split()) + " "
        candidates = [
            (cid, display)
            for cid, display in session.execute(
                select(CompanyRow.id, CompanyRow.name).where(CompanyRow.key.startswith(key))
            )
            .tuples()
            .all()
            if display.casefold().startswith(words)
        ]
        if len(candidates) == 1:
            return candidates[0]
    return None


def suggest_companies(session: Session, name: str, limit: int = 3) -> tuple[str, ...]:
    """The known company names closest to a name that matched nothing."""
    names = dict(
        session.execute(
            select(CompanyAliasRow.alias, CompanyRow.name).join(
                CompanyRow, CompanyRow.id == CompanyAliasRow.company_id
            )
        )
        .tuples()
        .all()
    )
    for canonical in session.scalars(select(CompanyRow.name)):
        names.setdefault(canonical, canonical)
    # Loaded on the first miss: the worker, which never suggests names, is spared it.
    from rapidfuzz import fuzz, process, utils

    matches = process.extract(
        name,
        list(names),
        scorer=fuzz.WRatio,
        processor=utils.default_process,
        score_cutoff=70,
        limit=limit * 3,
    )
    suggestions: list[str] = []
    for alias, _score, _index in matches:
        canonical = names[alias]
        if canonical not in suggestions:
            suggestions.append(canonical)
    return tuple(suggestions[:limit])


def find_by_company(
    session: Session, name: str, limit: int = 10, offset: int = 0, dates: DateRange = ALL_DATES
) -> CompanyResult:
    """Every article by a company (issued within `dates`), newest first; suggestions when the
    name matches no company."""
    limit, offset = clamp_page(limit, offset)
    company = resolve_company(session, name)
    if company is None:
        empty = Page((), offset, limit, False)
        return CompanyResult(name, None, empty, suggest_companies(session, name))
    company_id, display = company
    ids = list(
        session.scalars(
            select(ArticleCompanyRow.article_id)
            # (company_id, issue_date, article_id) is indexed: the range is an index range.
            .where(
                ArticleCompanyRow.company_id == company_id,
                *within_dates(ArticleCompanyRow.issue_date, dates),
            )
            .order_by(
                ArticleCompanyRow.issue_date.desc(),
                ArticleCompanyRow.position,
            )
            .limit(limit + 1)
            .offset(offset)
        )
    )
    views = articles_by_ids(session, ids)
    page = Page(tuple(views[:limit]), offset, limit, len(views) > limit)
    return CompanyResult(name, display, page)


def search_topic(
    session: Session, query: str, limit: int = 10, offset: int = 0, dates: DateRange = ALL_DATES
) -> TopicResult:
    """Full-text search over titles and summaries (of articles issued within `dates`), most
    relevant first (stemmed, safe)."""
    limit, offset = clamp_page(limit, offset)
    terms = search_terms(query)
    ids = match_article_ids(session, terms, limit + 1, offset, dates)
    views = articles_by_ids(session, ids)
    page = Page(tuple(views[:limit]), offset, limit, len(views) > limit)
    return TopicResult(query, tuple(terms), page)


def get_issue(session: Session, date: dt.date | None) -> IssueView | None:
    """One issue by date, or the latest when `date` is None."""
    stmt = select(IssueRow)
    stmt = stmt.where(IssueRow.date == date) if date else stmt.order_by(IssueRow.date.desc())
    issue = session.scalars(stmt.limit(1)).first()
    if issue is None:
        return None
    rows = session.scalars(
        select(ArticleRow).where(ArticleRow.issue_id == issue.id).order_by(ArticleRow.position)
    ).all()
    return IssueView(
        issue.id,
        issue.date,
        issue.signal,
        issue.patterns,
        tuple(json.loads(issue.sources or "[]")),
        tuple(_view(r) for r in rows),
    )


def nearby_dates(session: Session, date: dt.date, count: int = 3) -> tuple[dt.date, ...]:
    """Issue dates closest to `date`, in date order (for 'no issue on that day')."""
    before = session.scalars(
        select(IssueRow.date)
        .where(IssueRow.date < date)
        .order_by(IssueRow.date.desc())
        .limit(count)
    ).all()
    after = session.scalars(
        select(IssueRow.date).where(IssueRow.date > date).order_by(IssueRow.date).limit(count)
    ).all()
    closest = sorted([*before, *after], key=lambda d: (abs((d - date).days), d))[:count]
    return tuple(sorted(closest))


def latest_issue_date(session: Session) -> dt.date | None:
    """The newest issue's date."""
    return session.scalar(select(func.max(IssueRow.date)))


def recent_issues(session: Session, limit: int) -> dict[dt.date, int]:
    """The newest `limit` issues: id by date."""
    rows = session.execute(
        select(IssueRow.date, IssueRow.id).order_by(IssueRow.date.desc()).limit(limit)
    )
    return dict(rows.tuples().all())


def issue_count(session: Session) -> int:
    """How many issues the archive holds."""
    return int(session.scalar(select(func.count()).select_from(IssueRow)) or 0)
