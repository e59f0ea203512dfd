"""Who holds a delivery, whether that sender still lives, and keeping live leases fresh.

A lease owner names its host (hostname and boot id), pid and the process's start time, so on
the same host a sender that was killed is recognised as gone at once, and a new process that
happens to get the same pid is not mistaken for it. Across hosts nothing can be checked: a live
sender renews its lease every few seconds (LeaseKeeper), so a dead one's runs out quickly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bot.store import ledger
from bot.store.db import Database, Session

log = logging.getLogger(__name__)


@cache
def _pid_space() -> str:
    """This boot of this kernel and this pid namespace: containers on one kernel share the boot
    id but not their pids, so both go into the digest."""
    parts = []
    try:
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
        parts.append(os.readlink("/proc/self/ns/pid"))
    except OSError:
        parts.append("unknown")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:8]


def host_id() -> str:
    """Where a pid means something: this host, this boot, this pid namespace."""
    return f"{socket.gethostname()[:20]}/{_pid_space()}"


def process_start(pid: int) -> str | None:
    """The kernel's start time of a process (clock ticks since boot); None if unreadable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    # After "pid (comm)": state is the first field, starttime the 20th (field 22 of proc(5)).
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return "dead"
    return fields[19]


@cache
def _started(pid: int) -> str | None:
    """This process's start time, read once (keyed by pid, so a forked child reads its own)."""
    return process_start(pid)


def _own_start() -> str | None:
    return _started(os.getpid())


def own_prefix() -> str:
    """What every lease owner id of this process starts with."""
    return f"{host_id()}|{os.getpid()}|{_own_start() or '-'}|"


def new_owner() -> str:
    """A lease owner id for one delivery attempt of this process (fits in 64 characters)."""
    return f"{own_prefix()}{uuid.uuid4().hex[:6]}"


def describe(owner: str) -> str:
    """An owner id in words, for people."""
    parts = owner.split("|")
    if len(parts) != 4:
        return owner
    return f"process {parts[1]} on {parts[0].split('/')[0]}"


def is_gone(owner: str | None) -> bool:
    """True only when the owner is certainly dead: a process of this host that no longer runs
    (or whose pid now belongs to a younger process). Unknown or remote owners are alive."""
    if not owner:
        return False
    parts = owner.split("|")
    if len(parts) != 4 or parts[0] != host_id() or not parts[1].isdigit():
        return False
    pid, started = int(parts[1]), parts[2]
    if pid == os.getpid() and started == _own_start():
        return False  # this very process (asked for each of its thousands of leases)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # it exists, owned by someone else
    now_started = process_start(pid)
    if now_started == "dead":
        return True
    return started != "-" and now_started is not None and now_started != started


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
