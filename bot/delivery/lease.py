"""Keeping live delivery leases fresh: one heartbeat renews every lease this process holds.

Who holds a lease and whether that sender still lives is bot.owners.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass

from bot.store import ledger
from bot.store.db import AsyncDatabase, Session

log = logging.getLogger(__name__)

Renew = Callable[[Session, dict[int, str], dt.datetime, dt.timedelta], Collection[int]]


@dataclass
class LeaseKeeper:
    """A heartbeat: renews every lease this process holds every `lease / 3` seconds, in one
    UPDATE, so a live sender never loses a delivery however slowly Slack answers. It runs as a
    task of the event loop while anything is held."""

    database: AsyncDatabase
    lease: dt.timedelta
    clock: Callable[[], dt.datetime]
    # What renews the held leases in one transaction (and says which it renewed): channel
    # deliveries by default.
    renew: Renew = ledger.renew

    def __post_init__(self) -> None:
        self._held: dict[int, str] = {}
        self._renewed: dict[int, tuple[str, dt.datetime]] = {}
        self._task: asyncio.Task[None] | None = None

    def hold(self, delivery_id: int, owner: str) -> None:
        """Start renewing a delivery's lease (call inside the running event loop)."""
        self._held[delivery_id] = owner
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="lease")

    def drop(self, delivery_id: int) -> None:
        """Stop renewing it (finished, released or lost)."""
        self._held.pop(delivery_id, None)
        self._renewed.pop(delivery_id, None)

    def renewed_at(self, delivery_id: int, owner: str) -> dt.datetime | None:
        """When the heartbeat last renewed this owner's lease (committed): it is theirs until
        then + lease; None if it has not since the hold began."""
        renewed = self._renewed.get(delivery_id)
        return renewed[1] if renewed is not None and renewed[0] == owner else None

    async def beat(self) -> bool:
        """Renew every held lease now; False once nothing is held."""
        held = dict(self._held)
        if not held:
            return False
        now = self.clock()
        try:
            renewed = await self.database.write(lambda s: self.renew(s, held, now, self.lease))
        except Exception:  # a busy database now and then must not stop the heartbeat
            log.warning("could not renew %d delivery leases", len(held), exc_info=True)
            return True
        for delivery_id in renewed:
            owner = held[delivery_id]
            if self._held.get(delivery_id) == owner:  # not dropped meanwhile
                self._renewed[delivery_id] = (owner, now)
        return True

    async def _run(self) -> None:
        # A sender counts a lease as surely its own for a third of one after a renewal
        # (bot.delivery.deliverer): a beat every third keeps it so, but for the moment a
        # beat takes.
        interval = max(0.05, self.lease.total_seconds() / 3)
        while True:
            await asyncio.sleep(interval)
            if not await self.beat():
                return
