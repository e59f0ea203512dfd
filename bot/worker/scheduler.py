"""The worker process: APScheduler wakes the dispatcher; the database decides what is due.

Jobs: one cron job per time some channel posts at (built from the subscriptions table and
re-synced every `SYNC_SECONDS`, so `/digest subscribe` takes effect within a minute), a catch-up
tick that covers anything due (late issues, restarts within the grace period, abandoned
deliveries), a resume job for deliveries whose sender died, the source poller, the follower DMs
(matching and sending) and, with many workspaces, the refresh of rotating tokens. Every posting
job only asks the dispatcher (bot.worker.dispatcher); deliveries are claimed in the database, so
overlapping jobs, restarts or a second worker cannot double-post.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.delivery.follower_dms import FollowerDms
from bot.sources import Poller
from bot.store import subscriptions
from bot.worker.dispatcher import Dispatcher

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
        self.scheduler = BlockingScheduler(timezone=dt.UTC)
        self.poll_interval = poll_interval
        self.tick_seconds = tick_seconds
        self._slots: set[Slot] = set()

    def sync_jobs(self) -> None:
        """Make the cron jobs match the subscriptions table: one per time that some channel
        posts at (hour, minute, zone, days), added and removed as subscriptions change.

        Each wakes one tick, which sends everything due then in one fan-out: the scheduler has
        ten threads, and a tick holds its thread until its channels' threads are posted."""
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
        if self.dispatcher is not None:
            self.dispatcher.tick()

    def _poll(self) -> None:
        if self.poller is None:
            return
        report = self.poller.poll()
        if report.ingested or report.failed:
            log.info("poll: %d ingested, %d failed", len(report.ingested), len(report.failed))
            if self.dispatcher is not None:
                self.dispatcher.tick()
            self._match_follows()

    def _match_follows(self) -> None:
        self._follows_job(lambda dms: dms.match(), "matching new articles against follows")

    def _tell_followers(self) -> None:
        self._follows_job(lambda dms: dms.send_open(), "telling followers")

    def _follows_job(self, work: Callable[[FollowerDms], object], what: str) -> None:
        if self.follows is None:
            return
        try:
            work(self.follows)
        except Exception:  # the next wake-up tries again; the ledger keeps what was done
            log.exception("%s failed", what)

    def start(self) -> None:
        """Run until SIGTERM/SIGINT."""
        self._add_jobs()
        self._stop_on_signals()
        log.info("worker started")
        self.scheduler.start()

    def _add_jobs(self) -> None:
        """Posting (when a dispatcher exists), polling and token refresh, as configured."""
        now = self.dispatcher.clock() if self.dispatcher else dt.datetime.now(dt.UTC)
        if self.dispatcher is not None:
            # The cron jobs are synced in a job of their own: adding thousands of them takes
            # seconds, which the first tick (the catch-up of whatever is due) need not wait.
            self._every(self.tick_seconds, self.sync_jobs, "sync", first=now)
            self._every(self.tick_seconds, self._tick, "tick", first=now)
            # Between ticks, pick up any delivery whose sender died (its lease ran out) within
            # seconds, not at the next tick: one indexed read when there is nothing to do.
            self._every(RESUME_SECONDS, self.dispatcher.run_open, "resume")
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
            self._every(TOKEN_REFRESH_SECONDS, self.refresh_tokens, "tokens", first=now)

    def _every(
        self,
        seconds: float,
        job: Callable[[], object],
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

    def _stop_on_signals(self) -> None:
        """SIGTERM/SIGINT stop the scheduler; a second one exits at once."""
        stopping = threading.Event()

        def stop(signum: int, _frame: Any) -> None:
            if stopping.is_set():
                # A second Ctrl-C: leave now. Safe at any point: a delivery cut short resumes
                # from its ledger (the in-flight part is looked up, never re-posted blindly).
                log.warning("signal %d again: exiting without waiting for deliveries", signum)
                logging.shutdown()
                os._exit(128 + signum)
            stopping.set()
            log.info("signal %d: stopping the worker (again to exit at once)", signum)
            # Waits here for running jobs: the main thread must not end while a fan-out still
            # hands work to its pools (at interpreter exit they refuse it, and it hung).
            self.scheduler.shutdown(wait=True)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
