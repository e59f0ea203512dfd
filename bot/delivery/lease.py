"""Keeping live delivery leases fresh: one heartbeat renews every lease this process holds.

Who holds a lease and whether that sender still lives is bot.owners.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass

from bot.store import ledger
from bot.store.db import Database, Session

log = logging.getLogger(__name__)


@dataclass
class LeaseKeeper:
    """A heartbeat: renews every lease this process holds every `lease / 3` seconds, in one
    UPDATE, so a live sender never loses a delivery however slowly Slack answers."""

    database: Database
    lease: dt.timedelta
    clock: Callable[[], dt.datetime]
    # What renews the held leases in one transaction (and says which it renewed): channel
    # deliveries by default.
    renew: Callable[[Session, dict[int, str], dt.datetime, dt.timedelta], Collection[int]] = (
        ledger.renew
    )

    def __post_init__(self) -> None:
        self._held: dict[int, str] = {}
        self._renewed: dict[int, tuple[str, dt.datetime]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, delivery_id: int, owner: str) -> None:
        """Start renewing a delivery's lease."""
        with self._lock:
            self._held[delivery_id] = owner
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="lease", daemon=True)
                self._thread.start()

    def drop(self, delivery_id: int) -> None:
        """Stop renewing it (finished, released or lost)."""
        with self._lock:
            self._held.pop(delivery_id, None)
            self._renewed.pop(delivery_id, None)

    def renewed_at(self, delivery_id: int, owner: str) -> dt.datetime | None:
        """When the heartbeat last renewed this owner's lease (committed): it is theirs until
        then + lease; None if it has not since the hold began."""
        with self._lock:
            renewed = self._renewed.get(delivery_id)
        return renewed[1] if renewed is not None and renewed[0] == owner else None

    def beat(self) -> bool:
        """Renew every held lease now; False once nothing is held."""
        with self._lock:
            held = dict(self._held)
        if not held:
            return False
        now = self.clock()
        try:
            with self.database.write() as session:
                renewed = self.renew(session, held, now, self.lease)
        except Exception:  # a busy database now and then must not stop the heartbeat
            log.warning("could not renew %d delivery leases", len(held), exc_info=True)
            return True
        with self._lock:
            for delivery_id in renewed:
                owner = held[delivery_id]
                if self._held.get(delivery_id) == owner:  # not dropped meanwhile
                    self._renewed[delivery_id] = (owner, now)
        return True

    def _run(self) -> None:
        # A sender counts a lease as surely its own for a third of one after a renewal
        # (Deliverer._post): a beat every third keeps it so, but for the moment a beat takes.
        interval = max(0.05, self.lease.total_seconds() / 3)
        while True:
            self._wake.wait(interval)
            if not self.beat():
                with self._lock:
                    if not self._held:
                        self._thread = None
                        return
