"""The one seam with database-specific SQL: full-text search (SQLite FTS5 or PostgreSQL)."""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.orm import Session

# Ranking cost grows with the number of matches; very common words ("AI") match a large part of
# the archive, so relevance is ranked among the newest matches only.
RANK_WINDOW = 1000
MAX_TERMS = 16
MAX_TERM_CHARS = 64

_TERM_RE = re.compile(r"\w+", re.UNICODE)
_OPERATORS = frozenset({"AND", "OR", "NOT", "NEAR"})


def search_terms(query: str) -> list[str]:
    """The words of a user's query; punctuation, operators and emoji are dropped."""
    terms = [t for t in _TERM_RE.findall(query) if t not in _OPERATORS]
    return [t[:MAX_TERM_CHARS] for t in terms[:MAX_TERMS]]


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

_POSTGRES = text(
    """
    SELECT id FROM (
        SELECT a.id, ts_rank_cd(a.search, q.query) AS rank
        FROM articles AS a, websearch_to_tsquery('english', :query) AS q(query)
        WHERE a.search @@ q.query
        ORDER BY a.id DESC LIMIT :window
    ) AS matches ORDER BY rank DESC, id DESC LIMIT :limit OFFSET :offset
    """
)


def match_article_ids(session: Session, terms: list[str], limit: int, offset: int) -> list[int]:
    """Ids of articles whose title or summary holds every term (stemmed), best first."""
    if not terms:
        return []
    params = {"limit": limit, "offset": offset, "window": RANK_WINDOW}
    if session.get_bind().dialect.name == "sqlite":
        return list(session.scalars(_SQLITE, {"query": _fts5_query(terms), **params}))
    return list(session.scalars(_POSTGRES, {"query": " ".join(terms), **params}))
