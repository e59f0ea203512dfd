"""Company attribution as the operator sees it: list, review, fix and teach (plus learned names).

Every change re-cuts stored articles in place (ids kept, so saves and posted messages still
point at them), re-links their companies, lets the database re-index their text (SQLite FTS
triggers, PostgreSQL's generated tsvector), refreshes the issue fingerprints (a re-ingest of the
same file is then 'unchanged') and bumps the archive version (cached answers change at once).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.orm import Session

from bot.digest.companies import (
    PublisherKnowledge,
    Words,
    company_key,
    name_words,
    organisation_forms,
    split_joint,
)
from bot.digest.models import Article
from bot.digest.resplit import LOW_CONFIDENCE, replace_company, resplit, revise
from bot.store.archive import (
    CompanyCache,
    load_knowledge,
    mark_archive_changed,
    refresh_fingerprints,
    relink_companies,
)
from bot.store.queries import suggest_companies
from bot.store.tables import (
    ArticleCompanyRow,
    ArticleRow,
    CompanyAliasRow,
    CompanyRow,
    PublisherCorrectionRow,
    TaughtNameRow,
)

MAX_NAME_CHARS = 200


class CompanyInputError(ValueError):
    """Operator input that cannot be applied; nothing was changed."""


@dataclass(frozen=True, slots=True)
class CompanyStats:
    """A company with its number of articles and of low-confidence splits among them."""

    name: str
    articles: int
    low_confidence: int


@dataclass(frozen=True, slots=True)
class UncertainSplit:
    """A stored split the parser was unsure of, for an operator to check."""

    article_id: int
    issue_date: dt.date
    title: str
    publisher: str
    summary: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a correction did: articles re-split, and of how many considered."""

    changed: int
    considered: int
    merged: int = 0


def list_companies(session: Session) -> list[CompanyStats]:
    """Every company with its article count and low-confidence count, by name."""
    low = func.sum(case((ArticleRow.confidence < LOW_CONFIDENCE, 1), else_=0))
    rows = session.execute(
        select(CompanyRow.name, func.count(ArticleRow.id), low)
        .outerjoin(ArticleCompanyRow, ArticleCompanyRow.company_id == CompanyRow.id)
        .outerjoin(ArticleRow, ArticleRow.id == ArticleCompanyRow.article_id)
        .group_by(CompanyRow.id, CompanyRow.name)
    ).tuples()
    stats = [CompanyStats(name, int(count), int(lows or 0)) for name, count, lows in rows]
    return sorted(stats, key=lambda s: (s.name.casefold(), s.name))


def uncertain_splits(session: Session, limit: int = 20) -> list[UncertainSplit]:
    """The least certain splits (below 1), least certain first, newest first among equals."""
    rows = session.scalars(
        select(ArticleRow)
        .where(ArticleRow.confidence < 1.0)
        .order_by(ArticleRow.confidence, ArticleRow.issue_date.desc(), ArticleRow.position)
        .limit(max(1, limit))
    )
    return [
        UncertainSplit(r.id, r.issue_date, r.title, r.publisher, r.summary, r.confidence)
        for r in rows
    ]


def clean_name(text: str, what: str) -> str:
    """A name as the operator typed it, spaces tidied; refuses empty and overlong ones."""
    name = " ".join(text.split())
    if not name:
        raise CompanyInputError(f"{what} is empty")
    if len(name) > MAX_NAME_CHARS:
        raise CompanyInputError(f"{what} is longer than {MAX_NAME_CHARS} characters")
    if not company_key(name):
        raise CompanyInputError(f"{what} {name!r} has no letters or digits")
    return name


def _company_keys(session: Session, name: str) -> tuple[int, str, set[str]] | None:
    """The company a name stands for (key or taught alias): id, display name, all its keys."""
    key = company_key(name)
    row = session.execute(select(CompanyRow.id, CompanyRow.name).where(CompanyRow.key == key))
    found = row.first()
    if found is None:
        found = session.execute(
            select(CompanyRow.id, CompanyRow.name)
            .join(TaughtNameRow, TaughtNameRow.company_id == CompanyRow.id)
            .where(TaughtNameRow.key == key)
        ).first()
    if found is None:
        return None
    company_id, display = found
    keys = {key, *session.scalars(select(CompanyRow.key).where(CompanyRow.id == company_id))}
    keys.update(
        session.scalars(select(TaughtNameRow.key).where(TaughtNameRow.company_id == company_id))
    )
    return company_id, display, keys


def _articles_of(session: Session, company_ids: Iterable[int]) -> list[ArticleRow]:
    ids = list(company_ids)
    if not ids:
        return []
    return list(
        session.scalars(
            select(ArticleRow)
            .join(ArticleCompanyRow, ArticleCompanyRow.article_id == ArticleRow.id)
            .where(ArticleCompanyRow.company_id.in_(ids))
            .order_by(ArticleRow.id)
            .distinct()
        )
    )


def fix_company(session: Session, wrong: str, right: str) -> Outcome:
    """Re-split WRONG's articles whose line starts with RIGHT, and remember the correction."""
    wrong, right = clean_name(wrong, "WRONG"), clean_name(right, "RIGHT")
    if name_words(wrong) == name_words(right):
        raise CompanyInputError("WRONG and RIGHT are the same name")
    if len(split_joint(wrong)) > 1:
        raise CompanyInputError(f"WRONG names one company; fix {wrong!r} one company at a time")
    company = _company_keys(session, wrong)
    if company is None:
        hint = suggest_companies(session, wrong)
        tail = f" (did you mean {', '.join(hint)}?)" if hint else ""
        raise CompanyInputError(f"no company named {wrong!r}{tail}")
    company_id, display, keys = company
    rows = _articles_of(session, [company_id])
    changes: list[tuple[ArticleRow, str, str]] = []
    for row in rows:
        target = row.publisher
        for key in keys:
            target = replace_company(target, key, right) or target
        moved = resplit(row.publisher, row.summary, target) if target != row.publisher else None
        if moved is not None:
            changes.append((row, *moved))
    if not changes and company_key(right) in keys:
        raise CompanyInputError(f"nothing to change: {right!r} is {display!r} already")
    if not changes:
        raise CompanyInputError(
            f"{right!r} fits none of the {len(rows)} articles of {display!r} "
            "(no line of theirs starts with it)"
        )
    _remember_correction(session, wrong, right)
    _rewrite(session, changes, confidence=1.0)
    return Outcome(len(changes), len(rows))


def _remember_correction(session: Session, wrong: str, right: str) -> None:
    wrong_key, right_key = company_key(wrong), company_key(right)
    # Undo what this overrides: the opposite correction, and WRONG taught as a name.
    if right_key != wrong_key:
        session.execute(
            delete(PublisherCorrectionRow).where(PublisherCorrectionRow.wrong_key == right_key)
        )
    session.execute(delete(TaughtNameRow).where(TaughtNameRow.key == wrong_key))
    existing = session.get(PublisherCorrectionRow, wrong_key)
    if existing is None:
        session.add(PublisherCorrectionRow(wrong_key=wrong_key, wrong=wrong, right=right))
    else:
        existing.wrong, existing.right = wrong, right
    session.flush()


def teach_company(session: Session, name: str, aliases: Sequence[str] = ()) -> Outcome:
    """Teach a name (and aliases for it), then re-split stored articles it now explains."""
    name = clean_name(name, "NAME")
    aliases = [clean_name(a, "alias") for a in aliases]
    cache = CompanyCache.load(session)
    company_id = cache.resolve(session, name)
    merged = 0
    for form in (name, *aliases):
        merged += _absorb(session, cache, company_id, company_key(form))
        _remember_taught(session, cache, company_id, form)
    forms = [name, *aliases]
    session.execute(
        delete(PublisherCorrectionRow).where(
            PublisherCorrectionRow.wrong_key.in_({company_key(f) for f in forms})
        )
    )
    session.flush()
    knowledge = load_knowledge(session)
    changed, considered = _revise_stored(session, knowledge, forms, confidence=1.0)
    mark_archive_changed(session)  # a new alias alone changes what lookups answer
    return Outcome(changed, considered, merged)


def _remember_taught(session: Session, cache: CompanyCache, company_id: int, form: str) -> None:
    key = company_key(form)
    row = session.get(TaughtNameRow, key)
    if row is None:
        session.add(TaughtNameRow(key=key, name=form, company_id=company_id))
    else:
        row.name, row.company_id = form, company_id
    cache.ids[key] = company_id
    if form not in cache.aliases and session.get(CompanyAliasRow, form) is None:
        session.add(CompanyAliasRow(alias=form, company_id=company_id))
    cache.aliases.add(form)
    session.flush()


def _absorb(session: Session, cache: CompanyCache, company_id: int, key: str) -> int:
    """Merge the company stored under `key` into `company_id` (an alias now names it)."""
    other = session.scalar(select(CompanyRow.id).where(CompanyRow.key == key))
    if other is None or other == company_id:
        return 0
    both = select(ArticleCompanyRow.article_id).where(ArticleCompanyRow.company_id == company_id)
    session.execute(
        delete(ArticleCompanyRow).where(
            ArticleCompanyRow.company_id == other, ArticleCompanyRow.article_id.in_(both)
        )
    )
    moved = session.execute(
        update(ArticleCompanyRow)
        .where(ArticleCompanyRow.company_id == other)
        .values(company_id=company_id)
    )
    for table in (CompanyAliasRow, TaughtNameRow):
        session.execute(
            update(table).where(table.company_id == other).values(company_id=company_id)
        )
    session.execute(delete(CompanyRow).where(CompanyRow.id == other))
    cache.ids[key] = company_id
    return int(getattr(moved, "rowcount", 0) or 0)


def resplit_learned(
    session: Session, knowledge: PublisherKnowledge, learned: Iterable[tuple[str, bool]]
) -> int:
    """Re-split stored articles that names an ingest just learned explain; returns how many.

    `learned` are (name, from a Sources list) pairs as `save_knowledge` returns them, and
    `knowledge` is what the ingest parses with (it holds them). A new name lengthens a
    publisher ('Acme' + 'Robotics builds…' -> 'Acme Robotics'), and shortens one only where the
    split was uncertain and the longer name is unknown; the articles keep their confidence.
    """
    forms = [form for name, src in learned for form in organisation_forms(name, src)]
    if not forms:
        return 0
    changed, _ = _revise_stored(session, knowledge, forms, confidence=None)
    return changed


def _revise_stored(
    session: Session, knowledge: PublisherKnowledge, forms: Sequence[str], confidence: float | None
) -> tuple[int, int]:
    """Apply `knowledge` to stored articles whose publisher could be the start of a form."""
    rows = _articles_of(session, _companies_before(session, forms))
    changes: list[tuple[ArticleRow, str, str]] = []
    for row in rows:
        revised = revise(knowledge, row.publisher, row.summary, row.confidence)
        if revised is not None:
            changes.append((row, *revised))
    if changes:
        _rewrite(session, changes, confidence)
    return len(changes), len(rows)


def _companies_before(session: Session, forms: Sequence[str]) -> set[int]:
    """Companies written (some alias) as the start of a form, or starting with one."""
    index: dict[str, list[Words]] = {}
    for form in forms:
        words = name_words(form)
        if words:
            index.setdefault(words[0], []).append(words)
    found: set[int] = set()
    for alias, company_id in session.execute(
        select(CompanyAliasRow.alias, CompanyAliasRow.company_id)
    ).tuples():
        words = name_words(alias)
        if words and any(
            len(words) != len(f) and f[: len(words)] == words[: len(f)]
            for f in index.get(words[0], ())
        ):
            found.add(company_id)
    return found


def _rewrite(
    session: Session, changes: Sequence[tuple[ArticleRow, str, str]], confidence: float | None
) -> None:
    """Store new splits in place, re-link companies, tidy orphans, refresh fingerprints."""
    ids = [row.id for row, _, _ in changes]
    before = set(
        session.scalars(
            select(ArticleCompanyRow.company_id).where(ArticleCompanyRow.article_id.in_(ids))
        )
    )
    links = []
    for row, publisher, summary in changes:
        row.publisher, row.summary = publisher, summary
        if confidence is not None:
            row.confidence = confidence
        article = Article(row.title, tuple(split_joint(publisher)), summary, row.url)
        links.append((row.id, article, row.issue_date, row.position))
    session.flush()
    relink_companies(session, CompanyCache.load(session), links)
    _drop_orphans(session, before)
    refresh_fingerprints(session, {row.issue_id for row, _, _ in changes})
    mark_archive_changed(session)


def _drop_orphans(session: Session, company_ids: set[int]) -> None:
    """Companies left with no article and no taught name are gone (their aliases with them)."""
    if not company_ids:
        return
    linked = select(ArticleCompanyRow.company_id).where(
        ArticleCompanyRow.company_id.in_(company_ids)
    )
    taught = select(TaughtNameRow.company_id).where(TaughtNameRow.company_id.in_(company_ids))
    orphans = list(
        session.scalars(
            select(CompanyRow.id).where(
                CompanyRow.id.in_(company_ids),
                CompanyRow.id.not_in(linked),
                CompanyRow.id.not_in(taught),
            )
        )
    )
    if orphans:
        session.execute(delete(CompanyAliasRow).where(CompanyAliasRow.company_id.in_(orphans)))
        session.execute(delete(CompanyRow).where(CompanyRow.id.in_(orphans)))
