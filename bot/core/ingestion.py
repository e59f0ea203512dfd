"""The one ingest pipeline: texts → parse with publisher knowledge → store → report.

`ingest_files` (the CLI's `ingest`) and `ingest_texts` (the source poller) differ only in where
texts come from; both learn names, refuse a second issue for one date, and store in paced,
retried transactions through the same writer.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from bot.digest.companies import PublisherKnowledge
from bot.digest.models import Issue
from bot.digest.parsing import DigestParseError, add_text_knowledge, parse_issue, read_text
from bot.store.archive import (
    CompanyCache,
    IngestStatus,
    load_knowledge,
    save_knowledge,
    store_issue,
    store_paced,
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

K = TypeVar("K")  # what names a text: a file's Path, or a polled source item's key


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
class Outcome(Generic[K]):
    """What happened to one text (a file, or a polled item)."""

    path: K
    status: IngestStatus | None
    issue: Issue | None = None
    error: str | None = None
    # The database failed, not the text: the same text may well be stored on a later try.
    retry: bool = False


FileOutcome = Outcome[Path]


@dataclass
class IngestReport(Generic[K]):
    """Counts of an ingest run, plus the failures with their reasons."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[Outcome[K]] = field(default_factory=list)
    articles: int = 0

    def add(self, outcome: Outcome[K]) -> None:
        """Count one text's outcome."""
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


def digest_files(folder: Path) -> list[Path]:
    """The digest files (.txt/.md) anywhere below a folder, sorted."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in DIGEST_SUFFIXES)


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files named directly, plus digest files (.txt/.md) found in named folders, sorted."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(digest_files(path))
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


def learn_names(database: Database, texts: Iterable[str]) -> PublisherKnowledge:
    """Stored publisher knowledge plus what `texts` state; newly stated names are saved and
    re-split the stored articles they explain."""
    with database.read() as session:
        knowledge = load_knowledge(session)
    gather_knowledge(texts, knowledge)
    with database.write() as session:
        resplit_learned(session, knowledge, save_knowledge(session, knowledge))
    return knowledge


def ingest_files(
    database: Database,
    files: list[Path],
    on_file: Callable[[FileOutcome], None] | None = None,
    pace: IngestPace = DEFAULT_PACE,
) -> IngestReport[Path]:
    """Store every file's issue; bad files are skipped whole, the rest go in.

    Files are committed a few at a time (`pace`: other writers wait milliseconds); if a
    transaction fails its files are retried one by one, so only the bad file is left out and
    nothing of it is kept. Large runs parse in a second process while this one stores.
    """
    knowledge = learn_names(database, _read_all(files))
    windows = _parsed_windows(files, knowledge, max(PARSE_WINDOW, pace.files))
    return _store_all(database, windows, _FileDates(), on_file, pace)


def ingest_texts(
    database: Database,
    items: Sequence[tuple[str, str | None, str | None]],
    on_item: Callable[[Outcome[str]], None] | None = None,
    pace: IngestPace = DEFAULT_PACE,
) -> IngestReport[str]:
    """Store the issue of each (key, text, error) item, as `ingest_files` does for files.

    An item that comes with an error instead of a text (it could not be read) is reported as
    failed in its place, so outcomes arrive in the items' order.
    """
    knowledge = learn_names(database, (text for _, text, _ in items if text is not None))
    parsed: list[_Parsed[str]] = []
    crashed: list[Outcome[str]] = []
    for key, text, error in items:
        if text is None:
            parsed.append((key, None, error))
            continue
        try:
            parsed.append((key, parse_issue(text, knowledge), None))
        except DigestParseError as exc:
            parsed.append((key, None, str(exc)))
        except Exception:  # a parser bug: the same text is tried again once a fixed bot runs
            log.exception("parsing %s failed", key)
            crashed.append(Outcome(key, None, error="could not be parsed (see log)", retry=True))
    report = _store_all(database, [parsed], _PollDates(), on_item, pace)
    for outcome in crashed:
        report.add(outcome)
        if on_item is not None:
            on_item(outcome)
    return report


_Parsed = tuple[K, Issue | None, str | None]
_worker_knowledge: PublisherKnowledge | None = None


def _store_all(
    database: Database,
    windows: Iterable[list[_Parsed[K]]],
    dates: _RepeatedDates[K],
    on_outcome: Callable[[Outcome[K]], None] | None,
    pace: IngestPace,
) -> IngestReport[K]:
    """Store parsed windows (refusing repeated dates), then refresh statistics after a bulk load."""
    report = IngestReport[K]()
    writer = _ArchiveWriter(database, pace, report, on_outcome)
    for window in windows:
        writer.store_window(dates.refuse(window))
    if report.new + report.updated >= BULK_LOAD_ISSUES:
        with database.write() as session:
            after_bulk_load(session)
    return report


def _init_parser(knowledge: PublisherKnowledge) -> None:
    global _worker_knowledge
    _worker_knowledge = knowledge


def _parse_window(paths: list[Path]) -> list[_Parsed[Path]]:
    assert _worker_knowledge is not None  # noqa: S101  set by the pool initializer
    return list(parse_each(paths, _worker_knowledge))


def _parsed_windows(
    files: list[Path], knowledge: PublisherKnowledge, size: int
) -> Iterator[list[_Parsed[Path]]]:
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


class _RepeatedDates(Generic[K]):
    """A second text with a date already seen in this run is an error, not a silent update.

    Which of two texts for one day is right cannot be told; the first (in order) stands, the
    later one is reported so that someone decides.
    """

    def __init__(self) -> None:
        self.first_of_date: dict[dt.date, K] = {}

    def refuse(self, batch: list[_Parsed[K]]) -> list[_Parsed[K]]:
        """The batch with each repeated date turned into an error."""
        checked: list[_Parsed[K]] = []
        for key, issue, error in batch:
            if issue is not None:
                first = self.first_of_date.setdefault(issue.date, key)
                if first != key:
                    error, issue = self.message(issue.date, first), None
            checked.append((key, issue, error))
        return checked

    def message(self, day: dt.date, first: K) -> str:
        """The error of a text repeating `day`, first seen in `first`."""
        raise NotImplementedError


class _FileDates(_RepeatedDates[Path]):
    def message(self, day: dt.date, first: Path) -> str:
        return f"same issue date {day} as {first.name}, earlier in this run; not stored"


class _PollDates(_RepeatedDates[str]):
    def message(self, day: dt.date, first: str) -> str:
        return f"same issue date {day} as {first[-80:]}, earlier in this poll"


@dataclass
class _ArchiveWriter(Generic[K]):
    """Stores parsed texts in short transactions, keeping company ids between them."""

    database: Database
    pace: IngestPace
    report: IngestReport[K]
    on_outcome: Callable[[Outcome[K]], None] | None
    cache: CompanyCache | None = None

    def store_window(self, batch: list[_Parsed[K]]) -> None:
        """Store a window of parsed texts, a transaction at a time, pausing between them."""
        start = 0
        while start < len(batch):
            outcomes = self._transaction(batch[start : start + self.pace.files])
            start += len(outcomes)
            for outcome in outcomes:
                self.report.add(outcome)
                if self.on_outcome is not None:
                    self.on_outcome(outcome)
            if self.database.is_sqlite and self.pace.sqlite_pause:
                time.sleep(self.pace.sqlite_pause)

    def _transaction(self, batch: list[_Parsed[K]]) -> list[Outcome[K]]:
        """Store texts from the front of `batch` in one transaction of about `pace.seconds`.

        Returns the outcomes of the texts it took. If the transaction fails, its texts are
        stored one transaction each, so only the text that cannot be stored is reported and
        nothing of it is kept.
        """
        issues = [issue for _, issue, _ in batch]
        before = self.cache
        try:
            # Retried while the lock is taken, like the other writers: on SQLite its own busy
            # handler would sleep up to 100 ms at a time after each reaction save.
            self.cache, statuses = self.database.write_retrying(
                lambda session: store_paced(session, issues, before, self.pace.seconds)
            )
        except Exception:
            log.warning("a batch failed to store; retrying its texts one by one")
            self.cache = None  # it may hold ids of companies that were rolled back
            return [_store_one(self.database, *parsed) for parsed in batch]
        return [
            Outcome(key, status, issue, error)
            for (key, issue, error), status in zip(batch, statuses, strict=False)
        ]


def _store_one(database: Database, key: K, issue: Issue | None, error: str | None) -> Outcome[K]:
    if issue is None:
        return Outcome(key, None, error=error)
    try:
        with database.write() as session:
            status = store_issue(session, issue, CompanyCache.load(session))
    except Exception:
        log.exception("storing %s failed", key.name if isinstance(key, Path) else key)
        return Outcome(key, None, error="could not be stored (see log)", retry=True)
    return Outcome(key, status, issue)


def stored_knowledge(database: Database) -> PublisherKnowledge:
    """The company names the archive has learned (none from a database without our tables)."""
    try:
        with database.read() as session:
            return load_knowledge(session)
    except Exception:  # an archive without our tables adds no knowledge
        return PublisherKnowledge()
