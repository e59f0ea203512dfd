"""Engine, sessions and schema upgrades for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar, cast

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, sessionmaker

from bot.config import normalise_database_url

__all__ = [
    "AsyncDatabase",
    "Database",
    "Session",
    "Upgrade",
    "is_busy",
    "is_transient",
    "make_engine",
    "once_per_transaction",
    "open_database",
    "safe_url",
    "url_password",
]

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
# The newest migration's revision (tests/store/test_migrations.py checks it against Alembic's
# head): a database already there is opened without loading Alembic.
HEAD = "0017"
# How long a SQLite connection waits for another process's lock (DATABASE_BUSY_TIMEOUT).
DEFAULT_BUSY_TIMEOUT_SECONDS = 15.0
# Writes that retry themselves wait on SQLite's lock only this long per attempt: SQLite's own
# busy handler sleeps up to 100 ms between looks, and misses the short gaps between another
# process's batches; a fresh attempt every few milliseconds gets into them.
SQLITE_RETRY_BUSY_MS = 5
WRITE_RETRY_SECONDS = 120.0
# The web process answers Slack within 2.5 s whatever its database does (bot.slack.server);
# these bound how long a thread of it is held: a connection from the pool or a new one, and on
# SQLite the write lock, at most this long...
REQUEST_WAIT_SECONDS = 2.0
# ...and on PostgreSQL a lock wait (then "lock not available", which writes retry) and a
# statement (work after the ack included: a /digest answer waits out a short table lock).
REQUEST_LOCK_SECONDS = 10.0
REQUEST_STATEMENT_SECONDS = 30.0
# PostgreSQL: serialization failure, deadlock, lock not available, cannot connect now.
_TRANSIENT_SQLSTATES = {"40001", "40P01", "55P03", "57P03"}

T = TypeVar("T")


class Upgrade(NamedTuple):
    """What `Database.upgrade` did."""

    before: str | None  # the schema's revision before (None: a database never migrated)
    after: str
    applied: int  # migrations run
    tables: int | None  # tables the database has, when it was created now


def _configure_sqlite(engine: Engine, busy_ms: int) -> None:
    """WAL, a busy timeout and foreign keys, so a web and a worker process can share the file."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # SQLAlchemy emits BEGIN itself: pysqlite's implicit transactions defeat BEGIN IMMEDIATE.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            f"busy_timeout={busy_ms}",
        ):
            cursor.execute("PRAGMA " + pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the lock up front: a deferred read-then-write transaction under WAL fails
        # with SQLITE_BUSY despite the busy timeout.
        options = conn.get_execution_options()
        wait_ms = int(options.get("sqlite_busy_ms", busy_ms))
        conn.exec_driver_sql(f"PRAGMA busy_timeout={wait_ms}")
        conn.exec_driver_sql(f"BEGIN {options.get('sqlite_begin', 'DEFERRED')}")


def make_engine(
    url: str, busy_timeout: float = DEFAULT_BUSY_TIMEOUT_SECONDS, *, request_path: bool = False
) -> Engine:
    """Create an engine for a database URL (Heroku `postgres://` accepted); `request_path`:
    for the web process, every wait bounded (REQUEST_WAIT_SECONDS)."""
    url = normalise_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # The web process never waits on the lock longer than it may hold a request.
        wait = min(busy_timeout, REQUEST_WAIT_SECONDS) if request_path else busy_timeout
        busy_ms = round(wait * 1000)
        engine = create_engine(
            url,
            connect_args={"timeout": busy_ms / 1000},
            # The worker sends to many channels at once; each send holds a connection briefly.
            pool_size=20,
            max_overflow=40,
            pool_timeout=REQUEST_WAIT_SECONDS if request_path else 60,
        )
        _configure_sqlite(engine, busy_ms)
        return engine
    # Connecting never takes long anywhere: an unreachable server is an error, not a hang.
    connect_args: dict[str, Any] = {"prepare_threshold": None, "connect_timeout": 10}
    if request_path:
        lock_ms, statement_ms = (
            int(REQUEST_LOCK_SECONDS * 1000),
            int(REQUEST_STATEMENT_SECONDS * 1000),
        )
        # libpq waits at least 2 s to connect; a frozen server is noticed after that, a stopped
        # one at once. The server cancels lock waits and runaway statements itself.
        connect_args |= {
            "connect_timeout": max(2, int(REQUEST_WAIT_SECONDS)),
            "options": f"-c lock_timeout={lock_ms} -c statement_timeout={statement_ms}",
        }
    # No server-side prepared statements: a generic plan cannot see how common a search term is,
    # and picks the plan that ranks every match of 'scale' or 'AI' (measured 70 ms vs 12 ms).
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        pool_timeout=REQUEST_WAIT_SECONDS if request_path else 30,
        connect_args=connect_args,
    )


def make_async_engine(url: str, busy_timeout: float = DEFAULT_BUSY_TIMEOUT_SECONDS) -> AsyncEngine:
    """An asyncio engine for a database URL: aiosqlite for SQLite (configured as the sync
    engine is), psycopg's async driver for PostgreSQL."""
    parsed = make_url(normalise_database_url(url))
    if parsed.get_backend_name() == "sqlite":
        busy_ms = round(busy_timeout * 1000)
        engine = create_async_engine(
            parsed.set(drivername="sqlite+aiosqlite"),
            connect_args={"timeout": busy_timeout},
            pool_size=5,
            max_overflow=10,
            pool_timeout=60,
        )
        _configure_sqlite(engine.sync_engine, busy_ms)
        return engine
    return create_async_engine(
        parsed,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        pool_timeout=30,
        connect_args={"prepare_threshold": None, "connect_timeout": 10},
    )


def once_per_transaction(session: Session, key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()` once per transaction (session): what many claims of one group commit share,
    such as an issue's deep dives, is read once, not once per channel."""
    memo: dict[Hashable, Any] = session.info.setdefault("once_per_transaction", {})
    if key not in memo:
        memo[key] = compute()
    return cast(T, memo[key])


class Database:
    """The archive's database: read and write transactions, and migrations."""

    def __init__(
        self,
        url: str,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT_SECONDS,
        *,
        request_path: bool = False,
    ) -> None:
        self.engine = make_engine(url, busy_timeout, request_path=request_path)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._url, self._busy_timeout = url, busy_timeout
        writer = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(writer, expire_on_commit=False)
        patient = writer.execution_options(sqlite_busy_ms=SQLITE_RETRY_BUSY_MS)
        self._retrying_write = sessionmaker(patient, expire_on_commit=False)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work."""
        with self._read.begin() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction, committed on success and rolled back on error."""
        with self._write.begin() as session:
            yield session

    def write_retrying(
        self,
        work: Callable[[Session], T],
        *,
        within: float = WRITE_RETRY_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> T:
        """Run `work` in a write transaction, retried with backoff while the database is busy.

        For writes after Slack was acked (events, commands, clicks): nothing asks again if they
        fail, so a locked database must delay them, not lose them. `work` runs again from the
        start on each attempt; give up (re-raise) only after `within` seconds.
        """
        deadline = time.monotonic() + within
        pause = 0.001
        while True:
            try:
                with self._retrying_write.begin() as session:
                    return work(session)
            except DBAPIError as exc:
                if not is_transient(exc) or time.monotonic() + pause > deadline:
                    raise
            sleep(pause * random.uniform(0.5, 1.0))  # noqa: S311  jitter, not cryptography
            pause = min(pause * 2, 0.002)

    def upgrade(self) -> Upgrade:
        """Bring the schema to the newest migration; what that took."""
        if self._at_head():
            return Upgrade(HEAD, HEAD, 0, None)
        # Alembic (with Mako and Pygments) only when there is something to migrate: loading
        # it costs every process that opens the embedded database ~11 MB and ~0.3 s.
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.connect() as connection:
            # SQLite alters a table by copying it (batch mode): with foreign keys enforced,
            # dropping the old copy would delete the rows of every table that references it
            # with ON DELETE CASCADE (a thread's recorded messages with its delivery). The
            # pragma is ignored inside a transaction, so it is set on the driver's connection
            # before one begins, checked before the commit, and restored whatever happens.
            raw = connection.connection.driver_connection if self.is_sqlite else None
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=OFF")
            try:
                with connection.begin():
                    before = MigrationContext.configure(connection).get_current_revision()
                    config.attributes["connection"] = connection
                    command.upgrade(config, "head")
                    tables = len(inspect(connection).get_table_names()) if before is None else None
                    if (
                        raw is not None
                        and connection.exec_driver_sql("PRAGMA foreign_key_check").first()
                    ):
                        raise RuntimeError("the upgrade would leave rows pointing at nothing")
            finally:
                if raw is not None:
                    raw.execute("PRAGMA foreign_keys=ON")
        script = ScriptDirectory.from_config(config)
        applied = len(list(script.iterate_revisions("head", before or "base")))
        return Upgrade(before, HEAD, applied, tables)

    def _at_head(self) -> bool:
        """Whether the schema is at the newest migration (Alembic's version table, read
        directly)."""
        try:
            with self.engine.connect() as connection:
                rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        except (OperationalError, ProgrammingError):  # never migrated: no version table
            return False
        return [row[0] for row in rows] == [HEAD]

    def revisions(self) -> tuple[str | None, str | None]:
        """(the schema's migration revision, the newest migration's); None if never migrated."""
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        head = ScriptDirectory.from_config(config).get_current_head()
        with self.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        return current, head

    def ping(self) -> None:
        """Raise unless the database answers a trivial query."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def read_only(self) -> bool:
        """Whether this process cannot write to the database (a read-only file or server)."""
        with self.engine.connect() as connection:
            if not self.is_sqlite:
                answer = connection.execute(text("SHOW transaction_read_only")).scalar()
                return str(answer) == "on"
            try:
                # A write that changes nothing, rolled back: SQLite says "readonly" only to one.
                connection.exec_driver_sql("UPDATE alembic_version SET version_num = version_num")
            except OperationalError as exc:
                return "readonly" in str(exc.orig).casefold()
            finally:
                connection.rollback()
        return False

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()

    def asynchronous(self) -> AsyncDatabase:
        """The same database for asyncio code (the delivery engine): a pool of its own."""
        return AsyncDatabase(self._url, self._busy_timeout)


class AsyncDatabase:
    """The database for asyncio code: each unit of work is a plain function of a `Session`
    (the same functions the sync code runs), run in a transaction on SQLAlchemy's async engine
    (`AsyncSession.run_sync`): aiosqlite on SQLite, psycopg's async driver on PostgreSQL.
    Writes keep the sync side's semantics (BEGIN IMMEDIATE and the busy timeout on SQLite).

    Units that arrive while a transaction is under way share the next one (`SharedTransactions`):
    a fan-out writes a small ledger row per Slack message for thousands of channels at once,
    and one transaction each would make the database, not Slack, the limit. Each caller still
    gets its result only once its own work is committed. Its pool belongs to the event loop
    that used it: `dispose` before that loop ends."""

    def __init__(self, url: str, busy_timeout: float = DEFAULT_BUSY_TIMEOUT_SECONDS) -> None:
        self.engine = make_async_engine(url, busy_timeout)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        writer = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._reads = SharedTransactions(async_sessionmaker(self.engine, expire_on_commit=False))
        self._writes = SharedTransactions(async_sessionmaker(writer, expire_on_commit=False))

    async def read(self, work: Callable[[Session], T]) -> T:
        """`work`'s result, read in a transaction."""
        return await self._reads.run(work)

    async def write(self, work: Callable[[Session], T]) -> T:
        """`work`'s result, committed (rolled back if it raises)."""
        return await self._writes.run(work)

    async def dispose(self) -> None:
        """Close pooled connections (before the event loop that opened them ends)."""
        await self.engine.dispose()


_Queued = tuple[Callable[[Session], Any], "asyncio.Future[Any]"]


class Burst(Generic[T]):
    """A unit of work that is one of a burst of big writes (a fan-out's claims, each reading a
    thread's plan and messages): a shared transaction takes only a few of them besides the
    other units, so those (each message's record) never wait for the whole burst."""

    def __init__(self, work: Callable[[Session], T]) -> None:
        self.work = work

    def __call__(self, session: Session) -> T:
        """The unit's result."""
        return self.work(session)


class SharedTransactions:
    """Runs units of work one transaction at a time, each transaction taking every unit queued
    while the one before it ran (at most `max_batch`). If a shared transaction fails, its units
    run again one per transaction, so one failing unit fails only its own caller. Units are
    independent (a caller queues its next unit only after the last one returned), so running
    several in one transaction changes none of their results."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        max_batch: int = 500,
        max_apart: int = 50,
    ) -> None:
        self.sessions = sessions
        self.max_batch = max_batch
        self.max_apart = max_apart
        self._queue: list[_Queued] = []
        self._apart: list[_Queued] = []
        self._runner: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def run(self, work: Callable[[Session], T]) -> T:
        """`work`'s result, once the transaction it ran in has ended (committed). A `Burst`
        unit is queued apart: at most `max_apart` of them join each transaction."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (each `asyncio.run` of the CLI)
            self._queue, self._apart, self._runner, self._loop = [], [], None, loop
        future: asyncio.Future[T] = loop.create_future()
        (self._apart if isinstance(work, Burst) else self._queue).append((work, future))
        if self._runner is None:
            self._runner = loop.create_task(self._run_queued())
        return await future

    async def _run_queued(self) -> None:
        try:
            while self._queue or self._apart:
                batch = self._queue[: self.max_batch] + self._apart[: self.max_apart]
                del self._queue[: self.max_batch]
                del self._apart[: self.max_apart]
                await self._run_batch(batch)
        finally:
            self._runner = None

    async def _run_batch(self, batch: list[_Queued]) -> None:
        if len(batch) > 1:
            try:
                async with self.sessions.begin() as session:
                    results = await session.run_sync(_run_all, [work for work, _ in batch])
            except Exception as exc:  # each unit then runs, and fails, alone
                log.debug("a shared transaction of %d failed (%s); one by one", len(batch), exc)
            else:
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
                return
        for work, future in batch:
            try:
                async with self.sessions.begin() as session:
                    result = await session.run_sync(work)
            except Exception as exc:  # handed to its caller, who decides
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(result)


def _run_all(session: Session, works: list[Callable[[Session], Any]]) -> list[Any]:
    """Each unit's result, all run in one session's transaction; units of a kind that runs
    many at once (its class has `run_many`, e.g. bot.store.ledger.PartRecord) run so."""
    results: list[Any] = [None] * len(works)
    kinds: dict[type, list[int]] = {}
    for place, work in enumerate(works):
        if hasattr(type(work), "run_many"):
            kinds.setdefault(type(work), []).append(place)
        else:
            results[place] = work(session)
    for kind, places in kinds.items():
        done = kind.run_many(session, [works[place] for place in places])  # type: ignore[attr-defined]
        for place, result in zip(places, done, strict=True):
            results[place] = result
    return results


def safe_url(url: str) -> str:
    """The database URL without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL: show only its scheme
        return url.split(":", 1)[0] + ":…"


def url_password(url: str) -> str | None:
    """The password in a database URL, if it has one (to keep it out of error messages)."""
    password = make_url(url).password if "://" in url else None
    return str(password) if password else None


def is_transient(exc: DBAPIError) -> bool:
    """Whether a failed transaction may succeed if simply tried again (busy, locked, deadlock)."""
    if exc.connection_invalidated:
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate is not None:
        return str(sqlstate) in _TRANSIENT_SQLSTATES
    message = str(exc.orig).casefold()
    return (
        "database is locked" in message
        or "database table is locked" in message
        or ("busy" in message)
    )


def is_busy(exc: DBAPIError) -> bool:
    """Whether the database answered but another writer holds what this transaction needs
    (SQLite's write lock, a PostgreSQL lock or conflict): up, just busy."""
    if exc.connection_invalidated:
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate is not None:
        return str(sqlstate) in _TRANSIENT_SQLSTATES - {"57P03"}
    message = str(exc.orig).casefold()
    return "locked" in message or "busy" in message


def open_database(
    url: str,
    *,
    upgrade: bool | None = None,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT_SECONDS,
    request_path: bool = False,
) -> Database:
    """Open a database; the embedded SQLite file is upgraded automatically unless told not to."""
    database = Database(url, busy_timeout, request_path=request_path)
    if upgrade if upgrade is not None else database.is_sqlite:
        database.upgrade()
    return database
