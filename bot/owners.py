"""Who holds a lease: an owner id per attempt, and whether the process behind one still lives.

An owner names its host (hostname and boot id), pid and the process's start time, so on the
same host a sender that was killed is recognised as gone at once, and a new process that happens
to get the same pid is not mistaken for it. Across hosts nothing can be checked: a live sender
renews its lease every few seconds (bot.delivery.lease.LeaseKeeper), so a dead one's runs out
quickly.
"""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
from collections.abc import Iterable
from functools import cache
from pathlib import Path


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


def ours_to_pace(senders: Iterable[str]) -> bool:
    """Whether this process may claim more of a workspace whose live leases these owners hold:
    yes when no other live process holds one; when two began there at once, the one whose
    process id sorts first keeps it and the other takes no more (its claims finish)."""
    mine = own_prefix().rstrip("|")
    others = set()
    here = False
    for owner in senders:
        process = owner.rsplit("|", 1)[0]
        if process == mine:
            here = True
        elif not is_gone(owner):  # a dead sender's leases are taken over, not deferred to
            others.add(process)
    return not others or (here and mine < min(others))
