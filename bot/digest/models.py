"""Plain data for one digest issue, as read from a file and as returned by lookups."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Article:
    """One Deep Dive: a title, its publishers as written, a summary and an optional link."""

    title: str
    companies: tuple[str, ...]
    summary: str
    url: str | None = None
    # How sure the parser is of where the publisher ends (0..1); not part of `parse --json`.
    confidence: float = field(default=1.0, compare=False)

    @property
    def publisher(self) -> str:
        """The publisher line as written, joint publishers joined with ' / '."""
        return " / ".join(self.companies)


@dataclass(frozen=True, slots=True)
class Issue:
    """One dated issue of the digest."""

    date: dt.date
    signal: str
    articles: tuple[Article, ...]
    patterns: str | None = None
    sources: tuple[str, ...] = ()
    categories: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, object]:
        """The `parse --json` shape of this issue."""
        return {
            "date": self.date.isoformat(),
            "signal": self.signal,
            "patterns": self.patterns,
            "sources": list(self.sources),
            "articles": [
                {
                    "title": a.title,
                    "companies": list(a.companies),
                    "summary": a.summary,
                    "url": a.url,
                }
                for a in self.articles
            ],
        }
