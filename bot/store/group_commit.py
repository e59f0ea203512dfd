"""Group commit: many threads' small ledger writes share one transaction.

The fan-out records a small write per message (its ts, and the next part in flight) for
thousands of channels at once; one commit per write would make the database, not Slack, the
limit. Each caller still gets back only after its own work is committed, so "noted as in flight
before it is posted" holds exactly as with one transaction per write.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from bot.store.db import Database, Session

log = logging.getLogger(__name__)

T = TypeVar("T")
_Item = tuple[Callable[[Session], Any], "Future[Any]"]


class GroupCommit:
    """Runs submitted work in shared write transactions on one writer thread."""

    def __init__(self, database: Database, max_batch: int = 500, linger: float = 0.003) -> None:
        self.database = database
        self.max_batch = max_batch
        # How long the first write of a batch waits for others: a transaction's fixed cost
        # (BEGIN IMMEDIATE, COMMIT) is then shared, while the fan-out's pacing counts from
        # Slack's answer, so a few milliseconds here delay no post.
        self.linger = linger
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __call__(self, work: Callable[[Session], T]) -> T:
        """Run `work` in a write transaction; returns once that transaction is committed."""
        return self.submit(work).result()

    def submit(self, work: Callable[[Session], T]) -> Future[T]:
        """Queue `work` for the next shared transaction; its future is set once committed
        (callbacks added to it run on the writer thread: keep them short, no database)."""
        future: Future[T] = Future()
        self._ensure_thread()
        self._queue.put((work, future))
        return future

    def close(self) -> None:
        """Stop the writer thread once it has committed what is queued."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ledger", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            until = time.monotonic() + self.linger
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get(timeout=max(0.0, until - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[_Item]) -> None:
        """One transaction for the whole batch; if it fails, each item alone (so one bad
        item fails only its own caller)."""
        if len(batch) > 1:
            try:
                with self.database.write() as session:
                    results = _run_all(session, [work for work, _ in batch])
            except Exception:
                log.debug("group commit of %d failed; committing one by one", len(batch))
            else:
                for (_, future), result in zip(batch, results, strict=True):
                    future.set_result(result)
                return
        for work, future in batch:
            try:
                with self.database.write() as session:
                    result = work(session)
            except BaseException as exc:  # handed to the caller, who decides
                future.set_exception(exc)
            else:
                future.set_result(result)


def _run_all(session: Session, works: list[Callable[[Session], Any]]) -> list[Any]:
    """Each work's result. Work of a kind that runs many at once (its class has `run_many`,
    e.g. bot.store.ledger.PartRecord) runs so, after the rest: what one transaction batches
    is independent, since a caller queues its next write only once the last one committed."""
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
