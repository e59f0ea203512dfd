"""Counts over time for trends: articles per issue day, for a company or a topic, in SQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.store.fulltext import count_matches_by_day, search_terms
from bot.store.tables import ArticleCompanyRow, IssueRow


def archive_span(session: Session) -> tuple[dt.date, dt.date] | None:
    """The first and the last issue date (None: the archive is empty)."""
    first, last = session.execute(select(func.min(IssueRow.date), func.max(IssueRow.date))).one()
    return (first, last) if first is not None and last is not None else None


def company_counts_by_day(
    session: Session, company_id: int, since: dt.date, until: dt.date
) -> dict[dt.date, int]:
    """How many of a company's articles were issued each day from `since` to `until` (the
    articles `/digest company` lists, whichever alias named it)."""
    rows = session.execute(
        # (company_id, issue_date, article_id) is indexed: an index-only range scan.
        select(ArticleCompanyRow.issue_date, func.count())
        .where(
            ArticleCompanyRow.company_id == company_id,
            ArticleCompanyRow.issue_date >= since,
            ArticleCompanyRow.issue_date <= until,
        )
        .group_by(ArticleCompanyRow.issue_date)
    )
    return {day: int(n) for day, n in rows.tuples()}


def topic_counts_by_day(
    session: Session, words: str, since: dt.date, until: dt.date
) -> dict[dt.date, int]:
    """How many articles about a topic were issued each day (the matches of `/digest topic`)."""
    return count_matches_by_day(session, search_terms(words), since, until)
