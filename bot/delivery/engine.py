"""The one sending engine: what every kind of message the bot owes anyone is sent through.

A kind (a channel's issue thread and its edits: bot.delivery.deliverer; a follower's DM:
bot.delivery.follower_dms) says what to send and where, as one plain coroutine per delivery
that follows the ledger protocol: claim it with a lease, then for each missing message wait
for its turn (`Engine.paced`), note it in flight (committed), post it with metadata naming it,
record its ts (committed); after an ambiguous failure, look it up by that metadata before it
is ever posted again. The engine supplies the parts every kind shares:

- `claim`: the kind's claiming transaction, and a dead sender on this host taken over at once;
- `keeper`-style heartbeats (`lease_keeper`) renewing the leases held while Slack is slow;
- `paced`: a Slack write in its channel's and workspace's turn (bot.delivery.pacer), a 429
  waited out there (that workspace paused and slowed), never posted twice;
- `write` / `read`: ledger functions (`Session` -> result) in their own short transaction;
- `fan_out`: many deliveries at once, as tasks of one `asyncio.TaskGroup`, each finishing on
  its own (one delivery's crash is that delivery's result, never the others').

A third kind plugs in with a claim function over its ledger, a coroutine that sends one claimed
delivery with these, and a `fan_out` call over its open deliveries (see docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from bot.clock import Clock, utc_now
from bot.delivery.lease import LeaseKeeper, Renew
from bot.delivery.pacer import Pacer, Turn
from bot.delivery.poster import AmbiguousError, RateLimitedError
from bot.owners import is_gone
from bot.store.db import AsyncDatabase, Burst, Database, Session

log = logging.getLogger(__name__)

T = TypeVar("T")
C = TypeVar("C")
J = TypeVar("J")
R = TypeVar("R")
P = ParamSpec("P")

# A kind's claiming transaction: (session, takeover_from) -> the claim, or None when another
# sender holds it; `takeover_from` names a holder known to be dead (claim only from it).
ClaimWork = Callable[[Session, str | None], C | None]
# (session) -> (the delivery's state, who holds it)
HolderWork = Callable[[Session], tuple[str, str | None]]


class Closes(Protocol):
    """A sender holding what belongs to an event loop (Slack sessions, a database pool)."""

    async def aclose(self) -> None:
        """Close it before the event loop ends."""


S = TypeVar("S", bound=Closes)


def blocking(method: Callable[Concatenate[S, P], Awaitable[T]]) -> Callable[Concatenate[S, P], T]:
    """A sender's coroutine method for synchronous code (`post`, tests): each call runs in an
    event loop of its own, which closes what the sender opened in it before it ends."""

    @functools.wraps(method)
    def run(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        async def then_close() -> T:
            try:
                return await method(self, *args, **kwargs)
            finally:
                await self.aclose()

        return asyncio.run(then_close())

    return run


@dataclass(frozen=True)
class Busy:
    """A delivery another sender holds (or that is finished): its state and holder."""

    state: str
    holder: str | None


@dataclass
class Engine:
    """The parts of sending that every kind shares (see the module doc)."""

    database: Database
    pacer: Pacer
    clock: Clock = utc_now
    lease: dt.timedelta = dt.timedelta(seconds=15)
    # A 429 is a refusal: nothing was posted, so waiting and writing again is safe; after this
    # many in a row the write counts as failed for now (the delivery is given back).
    max_rate_limit_waits: int = 20

    def __post_init__(self) -> None:
        self.db: AsyncDatabase = self.database.asynchronous()

    async def aclose(self) -> None:
        """Close the database pool (before the event loop that opened it ends)."""
        await self.db.dispose()

    def lease_keeper(self, renew: Renew) -> LeaseKeeper:
        """A heartbeat for the leases of one kind's ledger."""
        return LeaseKeeper(self.db, self.lease, self.clock, renew)

    async def write(self, work: Callable[[Session], T]) -> T:
        """`work`'s result, committed in its own transaction."""
        return await self.db.write(work)

    async def read(self, work: Callable[[Session], T]) -> T:
        """`work`'s result, read in one transaction."""
        return await self.db.read(work)

    async def claim(self, what: str, claim: ClaimWork[C], holder: HolderWork) -> C | Busy:
        """The claim, or (not claimed) who holds the delivery; a holder known to be dead is
        taken over at once, without waiting for its lease to run out."""

        def attempt(takeover_from: str | None) -> Burst[C | Busy]:
            def work(session: Session) -> C | Busy:
                found = claim(session, takeover_from)
                return found if found is not None else Busy(*holder(session))

            return Burst(work)

        claimed = await self.write(attempt(None))
        if not isinstance(claimed, Busy) or claimed.state != "sending":
            return claimed
        if not is_gone(claimed.holder):
            return claimed
        log.warning("%s: its sender %s is gone; taking over", what, claimed.holder)
        return await self.write(attempt(claimed.holder))

    async def paced(
        self,
        workspace: Hashable,
        channel: str,
        send: Callable[[], Awaitable[T]],
        *,
        answered: Callable[[], None] | None = None,
        pacer: Pacer | None = None,
        ready: Callable[[], Awaitable[None]] | None = None,
    ) -> T:
        """`send()` (one Slack write) in the channel's and workspace's turn; a 429 is waited out
        (the workspace paused and slowed) and the write made again: it posted nothing.
        `answered` is told each time Slack answers, before the turn is given back; `ready` is
        awaited before each turn of the workspace's is taken (see `Pacer.turn`)."""
        pace = pacer or self.pacer
        for _ in range(self.max_rate_limit_waits):
            turn: Turn
            async with pace.turn(workspace, channel, ready) as turn:
                try:
                    return await send()
                except RateLimitedError as exc:
                    log.info("rate limited on %s; waiting %.1fs", channel, exc.retry_after)
                    turn.rate_limited(exc.retry_after)
                finally:
                    if answered is not None:
                        answered()
        raise AmbiguousError("still rate limited")

    async def fan_out(
        self,
        jobs: Iterable[J],
        deliver: Callable[[J], Awaitable[R]],
        crashed: Callable[[J, BaseException], R],
        on_result: Callable[[R], None] | None = None,
        *,
        more: Callable[[], Awaitable[Iterable[J]]] | None = None,
        every: float = 15.0,
        lane: Callable[[J], Hashable] | None = None,
        at_once: int | None = None,
    ) -> list[R]:
        """Deliver every job at once (each paced on its own); their results as they finished.
        `crashed` makes the result of a delivery that raised (logged here);
        `more`, asked every `every` seconds while some are under way, adds jobs to the run.
        With `lane` and `at_once`, at most that many jobs of one lane (a workspace) are under
        way at a time; the others wait in line as plain jobs, not tasks, and start in order as
        those finish."""
        results: list[R] = []
        under_way = 0
        idle = asyncio.Event()
        running: dict[Hashable, int] = {}
        waiting: dict[Hashable, deque[J]] = {}
        limit = at_once if lane is not None else None

        async def one(job: J, key: Hashable) -> None:
            nonlocal under_way
            try:
                result = await deliver(job)
            except Exception as exc:  # one delivery's trouble must not stop the others
                log.exception("delivery %r crashed", job)
                result = crashed(job, exc)
            finally:
                under_way -= 1
                running[key] -= 1
                if not under_way:
                    idle.set()
            results.append(result)
            if on_result is not None:
                on_result(result)
            line = waiting.get(key)
            if line:  # not when cancelled: the run is being stopped
                launch(line.popleft(), key)

        async with asyncio.TaskGroup() as group:

            def launch(job: J, key: Hashable) -> None:
                running[key] = running.get(key, 0) + 1
                group.create_task(one(job, key))

            def start(batch: Iterable[J]) -> None:
                nonlocal under_way
                for job in batch:
                    under_way += 1
                    idle.clear()
                    key = lane(job) if lane is not None else None
                    if limit is not None and running.get(key, 0) >= limit:
                        waiting.setdefault(key, deque()).append(job)
                    else:
                        launch(job, key)

            start(jobs)
            while more is not None and under_way:
                try:
                    await asyncio.wait_for(idle.wait(), every)
                except TimeoutError:
                    start(await more())
        return results
