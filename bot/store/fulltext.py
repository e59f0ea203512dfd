"""The one seam with database-specific SQL: full-text search (SQLite FTS5 or PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
import re

from sqlalchemy import Date, Integer, TextClause, bindparam, text
from sqlalchemy.orm import Session

from bot.dates import ALL_DATES, DateRange

# Ranking cost grows with the number of matches; very common words ("AI") match a large part of
# the archive, so relevance is ranked among the newest matches only.
RANK_WINDOW = 1000
MAX_TERMS = 16
MAX_TERM_CHARS = 64

_TERM_RE = re.compile(r"\w+", re.UNICODE)
_OPERATORS = frozenset({"AND", "OR", "NOT", "NEAR"})


def search_terms(query: str) -> list[str]:
    """The words of a user's query; punctuation, operators and emoji are dropped."""
    # Repeats are dropped (both engines fold case): "a a a …" must cost what "a" costs.
    unique: dict[str, str] = {}
    for term in _TERM_RE.findall(query):
        if term not in _OPERATORS:
            unique.setdefault(term.casefold(), term[:MAX_TERM_CHARS])
    return list(unique.values())[:MAX_TERMS]


def _fts5_query(terms: list[str]) -> str:
    # Every term quoted: FTS5 syntax in user text ("c++", "NEAR(", unbalanced quotes) is inert.
    return " ".join('"' + t.replace('"', '""') + '"' for t in terms)


_SQLITE = text(
    """
    SELECT id FROM (
        SELECT rowid AS id, bm25(articles_fts, 5.0, 1.0) AS rank
        FROM articles_fts WHERE articles_fts MATCH :query
        ORDER BY rowid DESC LIMIT :window
    ) ORDER BY rank, id DESC LIMIT :limit OFFSET :offset
    """
)

# With a date range: the newest matches within it (articles.id is the FTS rowid).
_SQLITE_DATED = text(
    """
    SELECT id FROM (
        SELECT articles_fts.rowid AS id, bm25(articles_fts, 5.0, 1.0) AS rank
        FROM articles_fts JOIN articles AS a ON a.id = articles_fts.rowid
        WHERE articles_fts MATCH :query AND a.issue_date BETWEEN :since AND :until
        ORDER BY articles_fts.rowid DESC LIMIT :window
    ) ORDER BY rank, id DESC LIMIT :limit OFFSET :offset
    """
).bindparams(bindparam("since", type_=Date()), bindparam("until", type_=Date()))

_POSTGRES = """
    SELECT id FROM (
        SELECT a.id, ts_rank_cd(a.search, q.query) AS rank
        FROM articles AS a, websearch_to_tsquery('english', :query) AS q(query)
        WHERE a.search @@ q.query{dated}
        ORDER BY {order} DESC LIMIT :window
    ) AS matches ORDER BY rank DESC, id DESC LIMIT :limit OFFSET :offset
    """
# Newest-first by walking the primary key: cheap when matches are dense (a common word).
_POSTGRES_WALK = text(_POSTGRES.format(order="a.id", dated=""))
# All matches from the GIN index, then sorted: cheap when matches are few.
_POSTGRES_GIN = text(_POSTGRES.format(order="a.id + 0", dated=""))
# Within a date range the planner chooses (full-text index, issue-date index, or both): walking
# the primary key could read the whole archive for a range far back.
_POSTGRES_DATED = text(
    _POSTGRES.format(order="a.id + 0", dated=" AND a.issue_date BETWEEN :since AND :until")
).bindparams(bindparam("since", type_=Date()), bindparam("until", type_=Date()))
_POSTGRES_ESTIMATE = text(
    "EXPLAIN (FORMAT JSON) SELECT 1 FROM articles "
    "WHERE search @@ websearch_to_tsquery('english', :query)"
)
# Where the two plans cost the same (measured: ~4.6 us per GIN match ranked and sorted, ~1.3 us
# per row walked): matches^2 = 0.28 * window * rows. PostgreSQL's own choice ignores the cost of
# reading each tsvector, and picks the walk for mid-frequency words (35 ms instead of 13 ms).
_WALK_COST_RATIO = 0.28


def _postgres_plan(session: Session, query: str) -> TextClause:
    estimate = session.scalar(_POSTGRES_ESTIMATE, {"query": query})
    plan = (estimate if isinstance(estimate, list) else json.loads(estimate))[0]["Plan"]
    matches = float(plan.get("Plan Rows", 0))
    total = float(
        session.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'articles'")) or 0
    )
    walk_is_cheaper = matches * matches > _WALK_COST_RATIO * RANK_WINDOW * max(total, 1.0)
    return _POSTGRES_WALK if walk_is_cheaper else _POSTGRES_GIN


def match_article_ids(
    session: Session, terms: list[str], limit: int, offset: int, dates: DateRange = ALL_DATES
) -> list[int]:
    """Ids of articles whose title or summary holds every term (stemmed), best first; only
    those issued within `dates`."""
    if not terms:
        return []
    params: dict[str, object] = {"limit": limit, "offset": offset, "window": RANK_WINDOW}
    dated = not dates.is_open
    if dated:
        params |= {"since": dates.since or dt.date.min, "until": dates.until or dt.date.max}
    sqlite = session.get_bind().dialect.name == "sqlite"
    if sqlite:
        statement, query = (_SQLITE_DATED if dated else _SQLITE), _fts5_query(terms)
    else:
        query = " ".join(terms)
        statement = _POSTGRES_DATED if dated else _postgres_plan(session, query)
    return list(session.scalars(statement, {"query": query, **params}))


def after_bulk_load(session: Session) -> None:
    """Refresh what search plans depend on after many articles changed at once.

    PostgreSQL: fresh planner statistics (the plan choice above reads its estimates) and the GIN
    pending list merged into the index, which every search would otherwise scan until autovacuum
    gets to it. SQLite: `PRAGMA optimize`, its own advice after large changes.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE articles"))
        session.execute(text("ANALYZE article_companies"))
        session.execute(text("SELECT gin_clean_pending_list('ix_articles_search'::regclass)"))
    else:
        session.execute(text("PRAGMA optimize"))


def topic_key(query: str) -> str:
    """A topic query's identity: its search terms, lower-cased (both engines fold case)."""
    return " ".join(term.lower() for term in search_terms(query))


_SQLITE_SCRATCH = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.follow_fts USING fts5("
    "title, summary, tokenize='porter unicode61 remove_diacritics 2')"
)
_POSTGRES_MATCH = text(
    """
    SELECT q.key, a.id
    FROM unnest(CAST(:keys AS text[])) AS q(key)
    CROSS JOIN LATERAL websearch_to_tsquery('english', q.key) AS t(query)
    JOIN articles AS a ON a.id = ANY(:ids) AND a.search @@ t.query
    """
)


def match_new_articles(
    session: Session, articles: list[tuple[int, str, str]], keys: list[str]
) -> dict[str, list[int]]:
    """Which of the given articles (id, title, summary) each topic key matches, as /digest topic
    would: every query is run once, against these articles only, not the whole archive."""
    if not articles or not keys:
        return {}
    found: dict[str, list[int]] = {}
    if session.get_bind().dialect.name != "sqlite":
        ids = [a[0] for a in articles]
        for key, article_id in session.execute(
            _POSTGRES_MATCH, {"keys": keys, "ids": ids}
        ).tuples():
            found.setdefault(key, []).append(article_id)
        return found
    # A scratch index of just the new articles, with the archive index's tokenizer: a query
    # costs microseconds there, where the archive's index walks every match in ten years.
    session.execute(text(_SQLITE_SCRATCH))
    session.execute(text("DELETE FROM temp.follow_fts"))
    session.execute(
        text("INSERT INTO temp.follow_fts(rowid, title, summary) VALUES (:id, :title, :summary)"),
        [{"id": i, "title": t, "summary": s} for i, t, s in articles],
    )
    # Thousands of tiny queries: straight through the driver's cursor (SQLAlchemy's per-statement
    # overhead would cost more than the searches).
    cursor = session.connection().connection.cursor()
    try:
        for key in keys:
            terms = search_terms(key)
            if terms:
                cursor.execute(
                    "SELECT rowid FROM temp.follow_fts WHERE follow_fts MATCH ?",
                    (_fts5_query(terms),),
                )
                ids = [row[0] for row in cursor.fetchall()]
                if ids:
                    found[key] = ids
    finally:
        cursor.close()
    session.execute(text("DELETE FROM temp.follow_fts"))
    return found


def match_among(session: Session, terms: list[str], ids: list[int]) -> set[int]:
    """Which of the given articles hold every term (stemmed), as `/digest topic` matches."""
    if not terms or not ids:
        return set()
    if session.get_bind().dialect.name == "sqlite":
        found = session.scalars(
            text(
                "SELECT rowid FROM articles_fts WHERE articles_fts MATCH :query AND rowid IN :ids"
            ).bindparams(bindparam("ids", expanding=True)),
            {"query": _fts5_query(terms), "ids": list(ids)},
        )
    else:
        found = session.scalars(
            text(
                "SELECT id FROM articles WHERE id = ANY(:ids) "
                "AND search @@ websearch_to_tsquery('english', :query)"
            ),
            {"ids": list(ids), "query": " ".join(terms)},
        )
    return {int(i) for i in found}


_SQLITE_DAILY = text(
    """
    SELECT a.issue_date AS day, count(*) AS n
    FROM articles_fts JOIN articles AS a ON a.id = articles_fts.rowid
    WHERE articles_fts MATCH :query AND a.issue_date BETWEEN :since AND :until
    GROUP BY a.issue_date
    """
)
_POSTGRES_DAILY = text(
    """
    SELECT a.issue_date AS day, count(*) AS n
    FROM articles AS a, websearch_to_tsquery('english', :query) AS q(query)
    WHERE a.search @@ q.query AND a.issue_date BETWEEN :since AND :until
    GROUP BY a.issue_date
    """
)


def count_matches_by_day(
    session: Session, terms: list[str], since: dt.date, until: dt.date
) -> dict[dt.date, int]:
    """How many articles issued each day from `since` to `until` hold every term: the matches
    `/digest topic` lists (the same engine query), counted by the database."""
    if not terms:
        return {}
    sqlite = session.get_bind().dialect.name == "sqlite"
    statement = (_SQLITE_DAILY if sqlite else _POSTGRES_DAILY).bindparams(
        bindparam("since", type_=Date()), bindparam("until", type_=Date())
    )
    query = _fts5_query(terms) if sqlite else " ".join(terms)
    rows = session.execute(
        statement.columns(day=Date(), n=Integer()),
        {"query": query, "since": since, "until": until},
    )
    return {day: int(n) for day, n in rows.tuples()}
