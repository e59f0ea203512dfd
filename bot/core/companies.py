"""Company attribution as use cases: list, review, fix a split, teach a name."""

from __future__ import annotations

from bot.store import companies as store
from bot.store.companies import CompanyInputError, CompanyStats, Outcome, UncertainSplit
from bot.store.db import Database

__all__ = ["CompanyInputError", "Outcome", "add", "fix", "listing", "review"]


def listing(database: Database) -> list[CompanyStats]:
    """Every company with its article count and low-confidence splits."""
    with database.read() as session:
        return store.list_companies(session)


def review(database: Database, limit: int) -> list[UncertainSplit]:
    """The least certain splits, least certain first."""
    with database.read() as session:
        return store.uncertain_splits(session, limit)


def fix(database: Database, wrong: str, right: str) -> Outcome:
    """Re-split WRONG's articles whose line starts with RIGHT; CompanyInputError if bad input."""
    with database.write() as session:
        return store.fix_company(session, wrong, right)


def add(database: Database, name: str, aliases: list[str]) -> Outcome:
    """Teach a company name and aliases; CompanyInputError (nothing stored) on bad input."""
    with database.write() as session:
        return store.teach_company(session, name, aliases)
