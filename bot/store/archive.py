"""Storing issues: insert new ones, update edited ones in place, leave unchanged ones alone."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from bot.clock import utc_now
from bot.digest.companies import PublisherKnowledge, canonical_name, company_key, split_joint
from bot.digest.models import Article, Issue
from bot.store.db import Database
from bot.store.tables import (
    ArchiveStateRow,
    ArticleCompanyRow,
    ArticleRow,
    CompanyAliasRow,
    CompanyRow,
    IssueRow,
    PublisherCorrectionRow,
    StatedPublisherRow,
    TaughtNameRow,
)

IngestStatus = Literal["new", "updated", "unchanged"]


def issue_fingerprint(issue: Issue) -> str:
    """A hash of everything stored about an issue, to tell unchanged re-ingests apart."""
    payload = json.dumps(issue.to_json(), sort_keys=True, ensure_ascii=False)
    payload += json.dumps(list(issue.categories))
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class CompanyCache:
    """Company ids by key, so ingesting thousands of issues does not query per article."""

    ids: dict[str, int]
    aliases: set[str]

    @classmethod
    def load(cls, session: Session) -> CompanyCache:
        """Read every company and alias once."""
        # Taught aliases first: a company's own key wins over an alias spelled the same way.
        taught = select(TaughtNameRow.key, TaughtNameRow.company_id)
        ids = {key: cid for key, cid in session.execute(taught).tuples()}
        ids.update(
            (key, cid) for key, cid in session.execute(select(CompanyRow.key, CompanyRow.id))
        )
        aliases = set(session.scalars(select(CompanyAliasRow.alias)))
        return cls(ids, aliases)

    def copy(self) -> CompanyCache:
        """An independent copy (to go back to if a transaction is rolled back)."""
        return CompanyCache(dict(self.ids), set(self.aliases))

    def resolve(self, session: Session, name: str) -> int:
        """The id of the company a written name stands for, creating it on first sight."""
        key = company_key(name) or name.casefold()
        company_id = self.ids.get(key)
        if company_id is None:
            company_id = session.scalar(select(CompanyRow.id).where(CompanyRow.key == key))
            if company_id is None:
                company_id = session.scalars(
                    insert(CompanyRow).returning(CompanyRow.id),
                    [{"key": key, "name": canonical_name(name)}],
                ).one()
            self.ids[key] = company_id
        alias = " ".join(name.split())
        if alias not in self.aliases:
            exists = session.scalar(
                select(CompanyAliasRow.alias).where(CompanyAliasRow.alias == alias)
            )
            if exists is None:
                session.execute(
                    insert(CompanyAliasRow), [{"alias": alias, "company_id": company_id}]
                )
            self.aliases.add(alias)
        return company_id


def load_knowledge(session: Session) -> PublisherKnowledge:
    """Publisher knowledge from every name ingested issues stated unambiguously."""
    knowledge = PublisherKnowledge()
    for name, from_sources in session.execute(
        select(StatedPublisherRow.name, StatedPublisherRow.from_sources)
    ).tuples():
        if from_sources:
            knowledge.add_source(name)
        else:
            knowledge.add(name)
    for (taught,) in session.execute(select(TaughtNameRow.name)):
        knowledge.teach(taught)
    for wrong, right in session.execute(
        select(PublisherCorrectionRow.wrong, PublisherCorrectionRow.right)
    ).tuples():
        knowledge.add_correction(wrong, right)
    return knowledge


def save_knowledge(session: Session, knowledge: PublisherKnowledge) -> list[tuple[str, bool]]:
    """Remember newly stated publisher names for later parses; returns the new ones."""
    stored = set(
        session.execute(select(StatedPublisherRow.name, StatedPublisherRow.from_sources)).tuples()
    )
    fresh = [
        {"name": name[:300], "from_sources": src}
        for name, src in knowledge.stated - stored
        if name.strip()
    ]
    if fresh:
        session.execute(insert(StatedPublisherRow), fresh)
    return [(str(row["name"]), bool(row["from_sources"])) for row in fresh]


def _article_values(
    article: Article, issue_id: int, date: dt.date, position: int
) -> dict[str, object]:
    return {
        "issue_id": issue_id,
        "issue_date": date,
        "position": position,
        "title": article.title,
        "publisher": article.publisher,
        "summary": article.summary,
        "url": article.url,
        "confidence": article.confidence,
    }


def _title_key(title: str) -> str:
    return " ".join(title.casefold().split())


def _match_existing(new: Sequence[Article], old: Sequence[ArticleRow]) -> list[ArticleRow | None]:
    """Pair each new article with the stored one it continues (same title, url, or near-same)."""
    from rapidfuzz import fuzz  # only an ingest re-reading a stored issue compares texts

    unused = list(old)
    matched: list[ArticleRow | None] = [None] * len(new)
    rules: list[Callable[[int, Article, ArticleRow], bool]] = [
        lambda _i, a, r: _title_key(a.title) == _title_key(r.title),
        lambda _i, a, r: a.url is not None and a.url == r.url,
        # A typo fixed in a title keeps the article's identity; a different article does not.
        lambda _i, a, r: fuzz.ratio(_title_key(a.title), _title_key(r.title)) >= 85,
        lambda i, a, r: r.position == i and fuzz.ratio(a.summary, r.summary) >= 85,
    ]
    for rule in rules:
        for i, article in enumerate(new):
            if matched[i] is not None:
                continue
            for row in unused:
                if rule(i, article, row):
                    matched[i] = row
                    unused.remove(row)
                    break
    return matched


def _link_companies(
    session: Session,
    cache: CompanyCache,
    links: Iterable[tuple[int, Article, dt.date, int]],
) -> None:
    rows = []
    for article_id, article, date, position in links:
        seen: set[int] = set()
        for name in article.companies:
            company_id = cache.resolve(session, name)
            if company_id not in seen:
                seen.add(company_id)
                rows.append(
                    {
                        "article_id": article_id,
                        "company_id": company_id,
                        "issue_date": date,
                        "position": position,
                    }
                )
    if rows:
        # Core executemany: the ORM's bulk path costs more than the insert itself here.
        session.connection().execute(insert(ArticleCompanyRow), rows)


def relink_companies(
    session: Session, cache: CompanyCache, links: Sequence[tuple[int, Article, dt.date, int]]
) -> None:
    """Point articles whose publisher changed at their companies now (ids kept)."""
    ids = [link[0] for link in links]
    if ids:
        session.execute(delete(ArticleCompanyRow).where(ArticleCompanyRow.article_id.in_(ids)))
        _link_companies(session, cache, links)


def stored_fingerprints(session: Session, dates: Iterable[dt.date]) -> dict[dt.date, str]:
    """Content hashes of the stored issues among `dates` (one query for a whole batch)."""
    wanted = list(dates)
    if not wanted:
        return {}
    rows = session.execute(
        select(IssueRow.date, IssueRow.content_hash).where(IssueRow.date.in_(wanted))
    ).tuples()
    return dict(rows.all())


_CHANGED_IN = "archive_changed_in"


def refresh_fingerprints(session: Session, issue_ids: set[int]) -> None:
    """Hash issues as now stored: a re-ingest that splits the same way is then 'unchanged'."""
    for issue in session.scalars(select(IssueRow).where(IssueRow.id.in_(issue_ids))):
        rows = session.scalars(
            select(ArticleRow).where(ArticleRow.issue_id == issue.id).order_by(ArticleRow.position)
        )
        stored = Issue(
            date=issue.date,
            signal=issue.signal,
            articles=tuple(
                Article(r.title, tuple(split_joint(r.publisher)), r.summary, r.url) for r in rows
            ),
            patterns=issue.patterns,
            sources=tuple(json.loads(issue.sources or "[]")),
            categories=tuple(json.loads(issue.categories or "[]")),
        )
        issue.content_hash = issue_fingerprint(stored)


def archive_version(session: Session | Connection) -> int:
    """The archive's current version: equal versions mean identical lookup results."""
    return session.scalar(select(ArchiveStateRow.version).where(ArchiveStateRow.id == 1)) or 0


def read_version(database: Database) -> int:
    """The archive's version, read on a bare connection (a third of an ORM session's cost)."""
    with database.engine.connect() as connection:
        return archive_version(connection)


def mark_archive_changed(session: Session) -> None:
    """Bump the archive version once in the caller's transaction (invalidates cached answers)."""
    transaction = session.get_transaction()
    if transaction is not None and session.info.get(_CHANGED_IN) is transaction:
        return  # already bumped in this transaction: one write per ingest batch, not per issue
    session.execute(
        update(ArchiveStateRow)
        .where(ArchiveStateRow.id == 1)
        .values(version=ArchiveStateRow.version + 1)
    )
    session.info[_CHANGED_IN] = transaction


def store_issue(
    session: Session,
    issue: Issue,
    cache: CompanyCache,
    known: dict[dt.date, str] | None = None,
) -> IngestStatus:
    """Store one issue inside the caller's transaction and say what changed.

    `known` (from `stored_fingerprints`) lets a batch skip the per-issue lookup.
    """
    fingerprint = issue_fingerprint(issue)
    if known is not None:
        if known.get(issue.date) == fingerprint:
            return "unchanged"
        if issue.date not in known:
            return _insert_issue(session, issue, cache, fingerprint)
    existing = session.scalar(select(IssueRow).where(IssueRow.date == issue.date))
    if existing is None:
        return _insert_issue(session, issue, cache, fingerprint)
    if existing.content_hash == fingerprint:
        return "unchanged"
    return _update_issue(session, issue, cache, existing, fingerprint)


def store_paced(
    session: Session, issues: Sequence[Issue | None], before: CompanyCache | None, seconds: float
) -> tuple[CompanyCache, list[IngestStatus | None]]:
    """Store issues from the front of `issues` until `seconds` have passed (ingest pacing).

    Returns the company ids as they now are and a status per issue taken (None for a gap). A
    retried attempt starts again from `before`, the ids known before the rolled-back one.
    """
    cache = before.copy() if before is not None else CompanyCache.load(session)
    began, statuses = time.monotonic(), list[IngestStatus | None]()
    known = stored_fingerprints(session, (i.date for i in issues if i is not None))
    for issue in issues:
        if issue is None:
            statuses.append(None)
            continue
        statuses.append(store_issue(session, issue, cache, known))
        known[issue.date] = issue_fingerprint(issue)  # the same date twice in a batch
        if time.monotonic() - began >= seconds:
            break
    return cache, statuses


def _issue_fields(issue: Issue, fingerprint: str) -> dict[str, object]:
    return {
        "signal": issue.signal,
        "patterns": issue.patterns,
        "sources": json.dumps(list(issue.sources), ensure_ascii=False),
        "categories": json.dumps(list(issue.categories), ensure_ascii=False),
        "content_hash": fingerprint,
    }


def _insert_issue(
    session: Session, issue: Issue, cache: CompanyCache, fingerprint: str
) -> IngestStatus:
    mark_archive_changed(session)
    issue_id = session.scalars(
        insert(IssueRow).returning(IssueRow.id),
        [{"date": issue.date, **_issue_fields(issue, fingerprint)}],
    ).one()
    values = [_article_values(a, issue_id, issue.date, i) for i, a in enumerate(issue.articles)]
    # A plain executemany, then one ordered read: SQLite cannot return the ids of a multi-row
    # insert in parameter order, which would make SQLAlchemy insert row by row.
    session.connection().execute(insert(ArticleRow), values)
    ids = session.scalars(
        select(ArticleRow.id).where(ArticleRow.issue_id == issue_id).order_by(ArticleRow.position)
    ).all()
    links = [
        (aid, a, issue.date, i) for i, (aid, a) in enumerate(zip(ids, issue.articles, strict=True))
    ]
    _link_companies(session, cache, links)
    return "new"


def _update_issue(
    session: Session, issue: Issue, cache: CompanyCache, existing: IssueRow, fingerprint: str
) -> IngestStatus:
    mark_archive_changed(session)
    fields = _issue_fields(issue, fingerprint)
    session.execute(
        update(IssueRow).where(IssueRow.id == existing.id).values(**fields, updated_at=utc_now())
    )
    old = session.scalars(
        select(ArticleRow).where(ArticleRow.issue_id == existing.id).order_by(ArticleRow.position)
    ).all()
    matched = _match_existing(issue.articles, old)
    keep_ids = {row.id for row in matched if row is not None}
    stale = [row.id for row in old if row.id not in keep_ids]
    if stale:
        session.execute(delete(ArticleRow).where(ArticleRow.id.in_(stale)))
    links: list[tuple[int, Article, dt.date, int]] = []
    for position, (article, row) in enumerate(zip(issue.articles, matched, strict=True)):
        fresh = _article_values(article, existing.id, issue.date, position)
        if row is None:
            article_id = session.scalars(insert(ArticleRow).returning(ArticleRow.id), [fresh]).one()
        else:
            article_id = row.id
            session.execute(update(ArticleRow).where(ArticleRow.id == row.id).values(**fresh))
        links.append((article_id, article, issue.date, position))
    article_ids = [link[0] for link in links]
    session.execute(delete(ArticleCompanyRow).where(ArticleCompanyRow.article_id.in_(article_ids)))
    _link_companies(session, cache, links)
    return "updated"
