"""Ingesting digest files: gather publisher knowledge, parse, store, and report per file."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from bot.digest.companies import PublisherKnowledge
from bot.digest.models import Issue
from bot.digest.parsing import DigestParseError, add_text_knowledge, parse_issue, read_text
from bot.store.archive import (
    CompanyCache,
    IngestStatus,
    issue_fingerprint,
    load_knowledge,
    save_knowledge,
    store_issue,
    stored_fingerprints,
)
from bot.store.companies import resplit_learned
from bot.store.db import Database
from bot.store.fulltext import after_bulk_load

log = logging.getLogger(__name__)

DIGEST_SUFFIXES = (".txt", ".md", ".markdown")
# Files are parsed (in a second process) a window at a time, and stored a few per transaction:
# on SQLite a transaction holds the one write lock, and a reaction save or a delivery waiting
# behind it should wait milliseconds, not seconds (benchmarks/bench_busy.py).
PARSE_WINDOW = 64


@dataclass(frozen=True)
class IngestPace:
    """How much one ingest transaction takes before it commits, and the pause after it."""

    files: int = 16
    # A transaction stops taking files after this long: a writer behind it waits about this.
    seconds: float = 0.05
    # SQLite has one write lock: a gap after each commit in which a waiting writer (a reaction
    # save, a delivery) takes it, instead of the ingest re-taking it at once.
    sqlite_pause: float = 0.003


DEFAULT_PACE = IngestPace()
PARALLEL_MIN_WINDOWS = 4  # below ~250 files a second process costs more than it saves
# A run that changes this many issues (a backfill, a first import) refreshes search statistics;
# daily runs leave that to autovacuum.
BULK_LOAD_ISSUES = 100


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
    return parse_each(files, knowledge)


def parse_each(
    files: list[Path], knowledge: PublisherKnowledge
) -> Iterator[tuple[Path, Issue | None, str | None]]:
    """Parse each file with the given knowledge; (path, issue, error) per file."""
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
    pace: IngestPace = DEFAULT_PACE,
) -> IngestReport:
    """Store every file's issue; bad files are skipped whole, the rest go in.

    Files are committed a few at a time (`pace`: other writers wait milliseconds); if a
    transaction fails its files are retried one by one, so only the bad file is left out and
    nothing of it is kept. Large runs parse in a second process while this one stores.
    """
    report = IngestReport()
    with database.read() as session:
        knowledge = load_knowledge(session)
    gather_knowledge(_read_all(files), knowledge)
    with database.write() as session:
        # Names stated for the first time also re-split earlier articles they explain.
        resplit_learned(session, knowledge, save_knowledge(session, knowledge))
    first_of_date: dict[dt.date, Path] = {}
    writer = _ArchiveWriter(database, pace, report, on_file)
    for window in _parsed_windows(files, knowledge, max(PARSE_WINDOW, pace.files)):
        writer.store_window(_refuse_repeated_dates(window, first_of_date))
    if report.new + report.updated >= BULK_LOAD_ISSUES:
        with database.write() as session:
            after_bulk_load(session)
    return report


_Parsed = tuple[Path, Issue | None, str | None]
_worker_knowledge: PublisherKnowledge | None = None


def _init_parser(knowledge: PublisherKnowledge) -> None:
    global _worker_knowledge
    _worker_knowledge = knowledge


def _parse_window(paths: list[Path]) -> list[_Parsed]:
    assert _worker_knowledge is not None  # noqa: S101  set by the pool initializer
    return list(parse_each(paths, _worker_knowledge))


def _parsed_windows(
    files: list[Path], knowledge: PublisherKnowledge, size: int
) -> Iterator[list[_Parsed]]:
    """Parsed files in windows of `size`, parsing the next window while the caller stores."""
    windows = [files[i : i + size] for i in range(0, len(files), size)]
    if len(windows) < PARALLEL_MIN_WINDOWS:
        for window in windows:
            yield list(parse_each(window, knowledge))
        return
    with ProcessPoolExecutor(
        max_workers=1, initializer=_init_parser, initargs=(knowledge,)
    ) as pool:
        pending = pool.submit(_parse_window, windows[0])
        for following in [*windows[1:], None]:
            parsed = pending.result()
            if following is not None:
                pending = pool.submit(_parse_window, following)
            yield parsed


def _refuse_repeated_dates(
    batch: list[_Parsed], first_of_date: dict[dt.date, Path]
) -> list[_Parsed]:
    """A second file with a date already ingested in this run is an error, not a silent update.

    Which of two files for one day is right cannot be told; the first (in sorted order) stands,
    the later one is reported so that someone decides.
    """
    checked: list[_Parsed] = []
    for path, issue, error in batch:
        if issue is not None:
            first = first_of_date.setdefault(issue.date, path)
            if first != path:
                error = (
                    f"same issue date {issue.date} as {first.name}, earlier in this run; not stored"
                )
                issue = None
        checked.append((path, issue, error))
    return checked


@dataclass
class _ArchiveWriter:
    """Stores parsed files in short transactions, keeping company ids between them."""

    database: Database
    pace: IngestPace
    report: IngestReport
    on_file: Callable[[FileOutcome], None] | None
    cache: CompanyCache | None = None

    def store_window(self, batch: list[_Parsed]) -> None:
        """Store a window of parsed files, a transaction at a time, pausing between them."""
        start = 0
        while start < len(batch):
            taken, outcomes = self._transaction(batch[start : start + self.pace.files])
            start += taken
            for outcome in outcomes:
                self.report.add(outcome)
                if self.on_file is not None:
                    self.on_file(outcome)
            if self.database.is_sqlite and self.pace.sqlite_pause:
                time.sleep(self.pace.sqlite_pause)

    def _transaction(self, batch: list[_Parsed]) -> tuple[int, list[FileOutcome]]:
        """Store files from the front of `batch` in one transaction of about `pace.seconds`.

        Returns how many files it took and their outcomes. If the transaction fails, its files
        are stored one transaction each, so only the file that cannot be stored is reported and
        nothing of it is kept.
        """
        taken = 0
        before = self.cache.copy() if self.cache is not None else None

        def store(session: Session) -> list[FileOutcome]:
            nonlocal taken
            # A retried attempt starts again from the ids known before the rolled-back one.
            cache = self.cache = before.copy() if before else CompanyCache.load(session)
            began, taken, outcomes = time.monotonic(), 0, []
            known = stored_fingerprints(session, (i.date for _, i, _ in batch if i is not None))
            for path, issue, error in batch:
                taken += 1
                if issue is None:
                    outcomes.append(FileOutcome(path, None, error=error))
                    continue
                status = store_issue(session, issue, cache, known)
                known[issue.date] = issue_fingerprint(issue)  # the same date twice in a batch
                outcomes.append(FileOutcome(path, status, issue))
                if time.monotonic() - began >= self.pace.seconds:
                    break
            return outcomes

        try:
            # Retried while the lock is taken, like the other writers: on SQLite its own busy
            # handler would sleep up to 100 ms at a time after each reaction save.
            outcomes = self.database.write_retrying(store)
        except Exception:
            log.warning("a batch failed to store; retrying its files one by one")
            self.cache = None  # it may hold ids of companies that were rolled back
            return taken, [_store_one(self.database, *parsed) for parsed in batch[:taken]]
        return taken, outcomes


def _store_one(
    database: Database, path: Path, issue: Issue | None, error: str | None
) -> FileOutcome:
    if issue is None:
        return FileOutcome(path, None, error=error)
    try:
        with database.write() as session:
            status = store_issue(session, issue, CompanyCache.load(session))
    except Exception:
        log.exception("storing %s failed", path.name)
        return FileOutcome(path, None, error="could not be stored (see log)")
    return FileOutcome(path, status, issue)
