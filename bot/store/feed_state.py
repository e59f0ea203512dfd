"""What the poller last saw of each source: HTTP validators and item fingerprints."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import utc_now
from bot.store.tables import FeedStateRow

KEY_CHARS = 500  # the column's width: longer keys (feed entry ids, URLs) are cut
_CHUNK = 500  # keys per IN (…) query, well under every backend's parameter limit


def source_key(key: str) -> str:
    """A source key as stored (cut to the column's width)."""
    return key[:KEY_CHARS]


def validators(session: Session, source: str) -> tuple[str | None, str | None]:
    """The ETag and Last-Modified a source last answered with, for a conditional GET."""
    row = session.get(FeedStateRow, source_key(source))
    return (row.etag, row.last_modified) if row is not None else (None, None)


def remember_validators(
    session: Session, source: str, etag: str | None, last_modified: str | None
) -> None:
    """Keep a source's new ETag and Last-Modified."""
    row = _row(session, source)
    row.etag, row.last_modified, row.checked_at = etag, last_modified, utc_now()


def fingerprints(session: Session, keys: Iterable[str]) -> dict[str, str | None]:
    """The fingerprint last remembered for each of `keys` that has one."""
    wanted = sorted({source_key(key) for key in keys})
    found: dict[str, str | None] = {}
    for start in range(0, len(wanted), _CHUNK):
        query = select(FeedStateRow.source, FeedStateRow.fingerprint).where(
            FeedStateRow.source.in_(wanted[start : start + _CHUNK])
        )
        found.update(session.execute(query).tuples().all())
    return found


def remember_item(session: Session, key: str, fingerprint: str, error: str | None) -> None:
    """Keep an item's fingerprint and error, so an unchanged item is skipped next time."""
    row = _row(session, key)
    row.fingerprint, row.last_error, row.checked_at = fingerprint, error, utc_now()


def _row(session: Session, key: str) -> FeedStateRow:
    row = session.get(FeedStateRow, source_key(key))
    if row is None:
        row = FeedStateRow(source=source_key(key))
        session.add(row)
    return row
