"""Polling the configured sources: only new or changed items go through the ingest pipeline.

Each source item is fingerprinted in `feed_state`; a bad item is logged once and remembered
with its fingerprint, so it is not retried until it changes. A database failure is not
remembered: the item is tried again at the next poll.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from bot.core.ingestion import Outcome, ingest_texts
from bot.sources.feeds import feed_items
from bot.sources.folder import folder_items
from bot.sources.http import fetch
from bot.sources.item import SourceItem
from bot.store import feed_state
from bot.store.archive import IngestStatus
from bot.store.db import Database

log = logging.getLogger(__name__)


@dataclass
class PollReport:
    """What one poll did."""

    ingested: list[tuple[str, IngestStatus]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    unchanged: int = 0


def _fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


class Poller:
    """Polls the configured sources and ingests what is new or changed."""

    def __init__(self, database: Database, source_dir: str | None, feed_url: str | None) -> None:
        self.database = database
        self.source_dir = Path(source_dir) if source_dir else None
        self.feed_url = feed_url

    def poll(self) -> PollReport:
        """One pass over every source."""
        report = PollReport()
        if self.source_dir is not None:
            self._ingest(list(folder_items(self.source_dir)), report)
        if self.feed_url:
            try:
                items = self._fetch_feed(self.feed_url)
            except Exception as exc:  # any network or HTTP failure: try again next poll
                log.warning("feed %s unavailable: %s", self.feed_url, type(exc).__name__)
                report.failed.append((self.feed_url, type(exc).__name__))
            else:
                self._ingest(items, report)
        return report

    def _fetch_feed(self, url: str) -> list[SourceItem]:
        with self.database.read() as session:
            etag, modified = feed_state.validators(session, f"url:{url}")
        result = fetch(url, etag, modified)
        if result.status == 304:
            return []
        with self.database.write() as session:
            feed_state.remember_validators(session, f"url:{url}", result.etag, result.last_modified)
        return list(feed_items(result.body, result.content_type, url))

    def _ingest(self, items: list[SourceItem], report: PollReport) -> None:
        fresh = self._fresh(items, report)
        if not fresh:
            return
        fingerprints = {item.key: fingerprint for item, fingerprint in fresh}
        ingest_texts(
            self.database,
            [(item.key, item.text, item.error) for item, _ in fresh],
            lambda outcome: self._record(outcome, fingerprints[outcome.path], report),
        )

    def _fresh(self, items: list[SourceItem], report: PollReport) -> list[tuple[SourceItem, str]]:
        """The items that are new or changed since they were last seen, with fingerprints."""
        with self.database.read() as session:
            known = feed_state.fingerprints(session, (item.key for item in items))
        fresh: list[tuple[SourceItem, str]] = []
        for item in items:
            fingerprint = _fingerprint(item.text if item.text is not None else item.error or "")
            if known.get(feed_state.source_key(item.key)) == fingerprint:
                report.unchanged += 1
            else:
                fresh.append((item, fingerprint))
        return fresh

    def _record(self, outcome: Outcome[str], fingerprint: str, report: PollReport) -> None:
        """Report an item's outcome and remember its fingerprint (unless it is to be retried)."""
        if outcome.retry:
            return  # not remembered: a database hiccup is retried next poll
        key, error = outcome.path, outcome.error
        if outcome.status is None:
            # Logged once: the fingerprint is remembered, so the same bad item is skipped
            # quietly until it changes.
            log.warning("skipping %s: %s", key, error)
            report.failed.append((key, error or "not stored"))
        else:
            report.ingested.append((key, outcome.status))
            if outcome.status != "unchanged":
                log.info("ingested %s (%s)", key, outcome.status)
        with self.database.write() as session:
            feed_state.remember_item(session, key, fingerprint, error)
