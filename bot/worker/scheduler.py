"""The worker process: APScheduler wakes the dispatcher; the database decides what is due.

One asyncio event loop runs everything (`Worker.start`): APScheduler's AsyncIOScheduler as the
alarm clock, the delivery engine's sends, the lease heartbeat; sync work (the source poller,
matching follows, token refresh) runs in `asyncio.to_thread`.

Jobs: one cron job per time some channel posts at (built from the subscriptions table and
re-synced every `SYNC_SECONDS`, so `/digest subscribe` takes effect within a minute), a catch-up
tick that covers anything due (late issues, restarts within the grace period, abandoned
deliveries), a resume job for deliveries whose sender died, the source poller, the follower DMs
(matching and sending) and, with many workspaces, the refresh of rotating tokens. Every posting
job only asks the dispatcher (bot.worker.dispatcher); deliveries are claimed in the database, so
overlapping jobs, restarts or a second worker cannot double-post.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, NamedTuple

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.delivery.follower_dms import FollowerDms
from bot.store import subscriptions
from bot.worker.dispatcher import Dispatcher

if TYPE_CHECKING:  # loaded only where sources are configured (bot.bootstrap.worker)
    from bot.sources import Poller

log = logging.getLogger(__name__)

SYNC_SECONDS = 30
RESUME_SECONDS = 5
TOKEN_REFRESH_SECONDS = 60


class Slot(NamedTuple):
    """A time some subscribed channel posts at: one cron job wakes the dispatcher then."""

    hour: int
    minute: int
    zone: str
    days: str

    @property
    def job_id(self) -> str:
        """The scheduler's id of its job."""
        return f"slot:{self.hour:02d}:{self.minute:02d}:{self.zone}:{self.days}"


class Worker:
    """One process: the scheduler, the dispatcher, the poller and (many workspaces) the
    refresh of rotating bot tokens before they expire."""

    def __init__(
        self,
        dispatcher: Dispatcher | None,
        poller: Poller | None,
        poll_interval: dt.timedelta,
        tick_seconds: float = SYNC_SECONDS,
        refresh_tokens: Callable[[], int] | None = None,
        *,
        follows: FollowerDms | None = None,
        follow_seconds: float = 15.0,
    ) -> None:
        self.dispatcher = dispatcher
        self.refresh_tokens = refresh_tokens
        self.follows = follows
        self.follow_seconds = follow_seconds
        self.poller = poller
        self.scheduler = AsyncIOScheduler(timezone=dt.UTC)
        self.poll_interval = poll_interval
        self.tick_seconds = tick_seconds
        self._slots: set[Slot] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def sync_jobs(self) -> None:
        """Make the cron jobs match the subscriptions table: one per time that some channel
        posts at (hour, minute, zone, days), added and removed as subscriptions change.

        Each wakes one tick, which sends everything due then in one fan-out."""
        if self.dispatcher is None:
            return
        with self.dispatcher.database.read() as session:
            subs = subscriptions.all_subscriptions(session)
        wanted = {Slot(s.hour, s.minute, s.timezone, s.days) for s in subs}
        for slot in wanted - self._slots:
            self.scheduler.add_job(
                self._tick,
                CronTrigger(
                    hour=slot.hour,
                    minute=slot.minute,
                    timezone=slot.zone,
                    day_of_week="mon-fri" if slot.days == "weekdays" else "*",
                ),
                id=slot.job_id,
                replace_existing=True,
                # The database, not APScheduler, decides catch-up; a late wake-up still runs.
                misfire_grace_time=int(self.dispatcher.grace.total_seconds()),
                coalesce=True,
                max_instances=1,
            )
        for slot in self._slots - wanted:
            self.scheduler.remove_job(slot.job_id)
        self._slots = wanted

    def _tick(self) -> None:
        """A slot's alarm: send what is due now (in the worker's loop; outside a running worker,
        as when a test calls it, here and now)."""
        if self._loop is None:
            if self.dispatcher is not None:
                self.dispatcher.tick()
            return
        self._loop.call_soon_threadsafe(self._loop.create_task, self._send_due())

    async def _send_due(self) -> None:
        if self.dispatcher is not None:
            await self.dispatcher.send_due()

    async def _send_open(self) -> None:
        if self.dispatcher is not None:
            await self.dispatcher.send_open()

    async def _sync_jobs(self) -> None:
        await asyncio.to_thread(self.sync_jobs)

    async def _poll(self) -> None:
        if self.poller is None:
            return
        report = await asyncio.to_thread(self.poller.poll)
        if report.ingested or report.failed:
            log.info("poll: %d ingested, %d failed", len(report.ingested), len(report.failed))
            await self._match_follows()
            await self._send_due()

    async def _match_follows(self) -> None:
        if self.follows is not None:
            follows = self.follows
            await self._guarded(asyncio.to_thread(follows.match), "matching follows")

    async def _tell_followers(self) -> None:
        if self.follows is not None:
            await self._guarded(self.follows.send_open_async(), "telling followers")

    async def _refresh_tokens(self) -> None:
        if self.refresh_tokens is not None:
            await self._guarded(asyncio.to_thread(self.refresh_tokens), "refreshing tokens")

    async def _guarded(self, work: Awaitable[object], what: str) -> None:
        try:
            await work
        except Exception:  # the next wake-up tries again; the ledger keeps what was done
            log.exception("%s failed", what)

    def start(self) -> None:
        """Run until SIGTERM/SIGINT."""
        asyncio.run(self.run())

    async def run(self) -> None:
        """The worker's event loop: its jobs until SIGTERM/SIGINT, then close what it opened."""
        self._loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        self._stop_on_signals(stopping)
        self._add_jobs()
        self.scheduler.start()
        log.info("worker started")
        try:
            await stopping.wait()
            # No new runs; the running jobs finish first (a second signal exits at once): its
            # shutdown would cancel them, and a poll or a match would be cut short.
            self.scheduler.pause()
            running = asyncio.all_tasks() - {asyncio.current_task()}
            if running:
                await asyncio.wait(running)
            self.scheduler.shutdown(wait=False)
        finally:
            await self._close()
            self._loop = None

    async def _close(self) -> None:
        if self.dispatcher is not None:
            await self.dispatcher.aclose()
        if self.follows is not None:
            await self.follows.aclose()

    def _add_jobs(self) -> None:
        """Posting (when a dispatcher exists), polling and token refresh, as configured."""
        now = self.dispatcher.clock() if self.dispatcher else dt.datetime.now(dt.UTC)
        if self.dispatcher is not None:
            # The cron jobs are synced in a job of their own: adding thousands of them takes
            # seconds, which the first tick (the catch-up of whatever is due) need not wait.
            self._every(self.tick_seconds, self._sync_jobs, "sync", first=now)
            self._every(self.tick_seconds, self._send_due, "tick", first=now)
            # Between ticks, pick up any delivery whose sender died (its lease ran out) within
            # seconds, not at the next tick: one indexed read when there is nothing to do.
            self._every(RESUME_SECONDS, self._send_open, "resume")
        if self.follows is not None:
            # New issues (ingested by anyone) are matched within this interval, in a job of
            # its own: a long backlog of DMs being sent (paced) never holds matching up.
            self._every(self.follow_seconds, self._match_follows, "follow-match", first=now)
            self._every(self.follow_seconds, self._tell_followers, "follows", first=now)
        if self.poller is not None:
            self._every(self.poll_interval.total_seconds(), self._poll, "poll", first=now)
        if self.refresh_tokens is not None:
            # Outside any request: tokens are refreshed well before they expire, one
            # workspace at a time (and under a per-workspace lease shared with the web).
            self._every(TOKEN_REFRESH_SECONDS, self._refresh_tokens, "tokens", first=now)

    def _every(
        self,
        seconds: float,
        job: Callable[[], Awaitable[None]],
        job_id: str,
        *,
        first: dt.datetime | None = None,
    ) -> None:
        """Run `job` every `seconds` (first at `first`, else after one interval), one run at a
        time, missed runs coalesced."""
        extra = {} if first is None else {"next_run_time": first}
        self.scheduler.add_job(
            job,
            IntervalTrigger(seconds=seconds),
            id=job_id,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=300,
            **extra,
        )

    def _stop_on_signals(self, stopping: asyncio.Event) -> None:
        """SIGTERM/SIGINT stop the worker; a second one exits at once."""
        loop = asyncio.get_running_loop()

        def stop(signum: int) -> None:
            if stopping.is_set():
                # A second Ctrl-C: leave now. Safe at any point: a delivery cut short resumes
                # from its ledger (the in-flight part is looked up, never re-posted blindly).
                log.warning("signal %d again: exiting without waiting for deliveries", signum)
                logging.shutdown()
                os._exit(128 + signum)
            log.info("signal %d: stopping the worker (again to exit at once)", signum)
            stopping.set()

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop, signum)
