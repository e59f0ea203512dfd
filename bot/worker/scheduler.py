"""The worker process: APScheduler wakes the dispatcher; the database decides what is due.

One asyncio event loop runs everything (`Worker.start`): APScheduler's AsyncIOScheduler as the
alarm clock, the delivery engine's sends, the lease heartbeat; sync work (the source poller,
matching follows, token refresh) runs in `asyncio.to_thread`.

Jobs: a tick on every minute that sends whatever is due (every schedule is HH:MM in a zone, so
each is on time, `/digest subscribe` needs no job of its own, and late issues, restarts within
the grace period and abandoned deliveries are caught up), a resume job for deliveries whose
sender died, the source poller, the follower DMs (matching and sending) and, with many
workspaces, the refresh of rotating tokens. Every posting job only asks the dispatcher
(bot.worker.dispatcher); deliveries are claimed in the database, so overlapping jobs, restarts
or a second worker cannot double-post.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.delivery.follower_dms import FollowerDms
from bot.worker.dispatcher import Dispatcher

if TYPE_CHECKING:  # loaded only where sources are configured (bot.bootstrap.worker)
    from bot.sources import Poller

log = logging.getLogger(__name__)

RESUME_SECONDS = 5
TOKEN_REFRESH_SECONDS = 60


class Worker:
    """One process: the scheduler, the dispatcher, the poller and (many workspaces) the
    refresh of rotating bot tokens before they expire."""

    def __init__(
        self,
        dispatcher: Dispatcher | None,
        poller: Poller | None,
        poll_interval: dt.timedelta,
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

    async def _send_due(self) -> None:
        if self.dispatcher is not None:
            await self.dispatcher.send_due()

    async def _send_open(self) -> None:
        if self.dispatcher is not None:
            await self.dispatcher.send_open()

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

    async def _close(self) -> None:
        if self.dispatcher is not None:
            await self.dispatcher.aclose()
        if self.follows is not None:
            await self.follows.aclose()

    def _add_jobs(self) -> None:
        """Posting (when a dispatcher exists), polling and token refresh, as configured."""
        now = self.dispatcher.clock() if self.dispatcher else dt.datetime.now(dt.UTC)
        if self.dispatcher is not None:
            # On every minute (and at once: the catch-up of whatever is due), however many
            # channels and times there are; the database says what is due. A minute's tick
            # starts even while an earlier one's fan-out still runs (it sends only what that
            # one is not sending), so a long fan-out never delays the next minute's channels.
            minutes = CronTrigger(second=0, timezone=dt.UTC)
            self._every(minutes, self._send_due, "tick", first=now, at_once=3)
            # Between ticks, pick up any delivery whose sender died (its lease ran out) within
            # seconds, not at the next tick: one indexed read when there is nothing to do.
            self._every(IntervalTrigger(seconds=RESUME_SECONDS), self._send_open, "resume")
        if self.follows is not None:
            # New issues (ingested by anyone) are matched within this interval, in a job of
            # its own: a long backlog of DMs being sent (paced) never holds matching up.
            every = IntervalTrigger(seconds=self.follow_seconds)
            self._every(every, self._match_follows, "follow-match", first=now)
            self._every(every, self._tell_followers, "follows", first=now)
        if self.poller is not None:
            self._every(
                IntervalTrigger(seconds=self.poll_interval.total_seconds()),
                self._poll,
                "poll",
                first=now,
            )
        if self.refresh_tokens is not None:
            # Outside any request: tokens are refreshed well before they expire, one
            # workspace at a time (and under a per-workspace lease shared with the web).
            every = IntervalTrigger(seconds=TOKEN_REFRESH_SECONDS)
            self._every(every, self._refresh_tokens, "tokens", first=now)

    def _every(
        self,
        trigger: BaseTrigger,
        job: Callable[[], Awaitable[None]],
        job_id: str,
        *,
        first: dt.datetime | None = None,
        at_once: int = 1,
    ) -> None:
        """Run `job` when `trigger` says (first at `first`, else at its first time), at most
        `at_once` runs at a time, missed runs coalesced."""
        extra = {} if first is None else {"next_run_time": first}
        self.scheduler.add_job(
            job,
            trigger,
            id=job_id,
            coalesce=True,
            max_instances=at_once,
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
