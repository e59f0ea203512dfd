"""Ingesting digest files: gather publisher knowledge, parse, store, and report per file."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bot.digest.companies import PublisherKnowledge
from bot.digest.models import Issue
from bot.digest.parsing import DigestParseError, add_text_knowledge, parse_issue, read_text
from bot.store.archive import CompanyCache, IngestStatus, load_knowledge, store_issue
from bot.store.db import Database

log = logging.getLogger(__name__)

DIGEST_SUFFIXES = (".txt", ".md", ".markdown")


@dataclass
class FileOutcome:
    """What happened to one file."""

    path: Path
    status: IngestStatus | None
    issue: Issue | None = None
    error: str | None = None


@dataclass
class IngestReport:
    """Counts of an ingest run, plus the failures with their reasons."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[FileOutcome] = field(default_factory=list)
    articles: int = 0

    def add(self, outcome: FileOutcome) -> None:
        """Count one file's outcome."""
        if outcome.status is None:
            self.failed.append(outcome)
            return
        setattr(self, outcome.status, getattr(self, outcome.status) + 1)
        if outcome.issue is not None:
            self.articles += len(outcome.issue.articles)

    def summary(self) -> str:
        """The one-line summary the CLI prints."""
        return (
            f"{self.new} new / {self.updated} updated / {self.unchanged} unchanged / "
            f"{len(self.failed)} failed ({self.articles} articles)"
        )


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files named directly, plus digest files (.txt/.md) found in named folders, sorted."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in DIGEST_SUFFIXES)
            )
        else:
            files.append(path)
    return files


def gather_knowledge(texts: Iterable[str], base: PublisherKnowledge) -> PublisherKnowledge:
    """Add every publisher the texts state unambiguously to `base`."""
    for text in texts:
        add_text_knowledge(base, text)
    return base


def _read_all(files: Iterable[Path]) -> Iterator[str]:
    for path in files:
        try:
            yield read_text(path)
        except (OSError, DigestParseError):
            continue  # reported when the file itself is parsed


def parse_files(
    files: list[Path], knowledge: PublisherKnowledge
) -> Iterator[tuple[Path, Issue | None, str | None]]:
    """Parse each file with knowledge from all of them; (path, issue, error) per file."""
    gather_knowledge(_read_all(files), knowledge)
    for path in files:
        try:
            yield path, parse_issue(read_text(path), knowledge), None
        except DigestParseError as exc:
            yield path, None, str(exc)
        except OSError as exc:
            yield path, None, exc.strerror or type(exc).__name__


def ingest_files(
    database: Database,
    files: list[Path],
    on_file: Callable[[FileOutcome], None] | None = None,
) -> IngestReport:
    """Store every file's issue, one transaction per file; bad files are skipped whole."""
    report = IngestReport()
    with database.read() as session:
        knowledge = load_knowledge(session)
        cache = CompanyCache.load(session)
    for path, issue, error in parse_files(files, knowledge):
        if issue is None:
            outcome = FileOutcome(path, None, error=error)
        else:
            try:
                with database.write() as session:
                    status = store_issue(session, issue, cache)
            except Exception:
                # The transaction rolled back; companies it created are gone, so re-read them.
                with database.read() as session:
                    cache = CompanyCache.load(session)
                log.exception("storing %s failed", path.name)
                outcome = FileOutcome(path, None, error="could not be stored (see log)")
            else:
                outcome = FileOutcome(path, status, issue)
        report.add(outcome)
        if on_file is not None:
            on_file(outcome)
    return report
