"""What is due: the dispatcher turns subscriptions and the archive into deliveries and sends them.

Two kinds are due: an issue's thread at a subscription's slot, and a roll-up at a roll-up
schedule's slot (bot.core.rollups.latest_slot); both are rows of the one ledger, sent by the
same fan-out.

Deliveries are claimed in the database, so overlapping wake-ups, restarts or a second worker
cannot double-post; bot.worker.scheduler decides only when to ask.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from bot.core import rollups
from bot.delivery.deliverer import Deliverer, DeliveryResult
from bot.delivery.engine import blocking
from bot.owners import is_gone, own_prefix
from bot.schedule import decide
from bot.store import edits, ledger, queries, subscriptions
from bot.store import rollups as rollup_store
from bot.store.db import Database
from bot.store.rollups import RollupSchedule
from bot.workspace import Workspace

log = logging.getLogger(__name__)

# A channel of one workspace: channel ids are only unique within a workspace.
ChannelKey = tuple[Workspace, str]
# A channel's roll-up of one period: (workspace, channel, "2026-W14").
RollupKey = tuple[Workspace, str, str]

RECENT_ISSUES = 14
# The one log line per finished delivery, at the level an operator should notice it at
# ("already" and "busy" are another sender's deliveries: nothing to report).
OUTCOME_LEVELS = {
    "posted": logging.INFO,
    "skipped": logging.INFO,
    "retry_later": logging.WARNING,
    "failed": logging.ERROR,
}


def _log_result(result: DeliveryResult) -> None:
    """The one line a finished delivery gets in the worker's log, as it finishes."""
    level = OUTCOME_LEVELS.get(result.outcome)
    if level is not None:
        log.log(
            level,
            "delivery to %s of %s: %s (%d messages)%s",
            result.channel_id,
            f"roll-up {result.period}" if result.period else result.issue_date,
            result.outcome,
            result.posted,
            f" — {result.error}" if result.error else "",
        )


@dataclass
class Dispatcher:
    """Turns subscriptions and the archive into deliveries, and sends them all at once through
    the deliverer's engine (paced as its Pacer says). The async methods run in the worker's
    event loop; `tick` is `send_due` from synchronous code (tests, one-offs)."""

    database: Database
    deliverer: Deliverer
    clock: Callable[[], dt.datetime]
    max_age: dt.timedelta = dt.timedelta(days=2)
    grace: dt.timedelta = dt.timedelta(hours=6)
    # Threads posted within this long are edited when their issue is corrected.
    edit_window: dt.timedelta = dt.timedelta(days=7)
    _warned: set[tuple[ChannelKey, dt.datetime]] = field(default_factory=set)
    # Roll-ups known to have their row (never made again), and slots skipped as too late.
    _rollups_made: set[RollupKey] = field(default_factory=set)
    _rollups_missed: set[tuple[RollupKey, dt.datetime]] = field(default_factory=set)

    def schedule_due(self) -> int:
        """Create the delivery rows that are due now; returns how many were created."""
        now = self.clock()
        due: list[ledger.Due] = []
        with self.database.write() as session:
            ids = queries.recent_issues(session, RECENT_ISSUES)
            subs = subscriptions.all_subscriptions(session)
            delivered: dict[ChannelKey, set[dt.date]] = {}
            for workspace in {sub.workspace for sub in subs}:
                mine = [sub.channel_id for sub in subs if sub.workspace == workspace]
                dates = ledger.delivered_dates(session, workspace, mine)
                delivered |= {(workspace, c): days for c, days in dates.items()}
            for sub in subs:
                decision = decide(
                    sub.schedule,
                    now,
                    list(ids),
                    delivered[(sub.workspace, sub.channel_id)],
                    max_age=self.max_age,
                    grace=self.grace,
                )
                if decision.action == "post" and decision.issue_date is not None:
                    due.append(
                        ledger.Due(
                            sub.workspace, sub.channel_id, ids[decision.issue_date], decision.slot
                        )
                    )
                elif decision.action == "missed" and decision.slot is not None:
                    key = ((sub.workspace, sub.channel_id), decision.slot)
                    if key not in self._warned:
                        self._warned.add(key)
                        local = decision.slot.astimezone(sub.schedule.zone)
                        what = f"post of issue {decision.issue_date}"
                        self._warn_missed(session, sub.workspace, sub.channel_id, local, what)
            ledger.ensure_due(session, due)
            made = self._rollups_due(session, now)
        return len(due) + made

    def _rollups_due(self, session: Any, now: dt.datetime) -> int:
        """Create the roll-up rows due now: each schedule's latest slot, within the grace period
        (an older one is skipped, with one warning), never before the schedule was set."""
        slots: list[tuple[RollupSchedule, dt.datetime, RollupKey]] = []
        for schedule in rollup_store.all_rollups(session):
            latest = rollups.latest_slot(schedule, now)
            if latest is None or latest[0] < schedule.set_at:
                continue
            key = (schedule.workspace, schedule.channel_id, latest[1].label)
            # Most of the week every slot is long past: each is looked up once per process.
            if key not in self._rollups_made and (key, latest[0]) not in self._rollups_missed:
                slots.append((schedule, latest[0], key))
        self._rollups_made |= ledger.rollups_made(session, [key for _s, _t, key in slots])
        due: list[ledger.Due] = []
        for schedule, slot, key in slots:
            if key in self._rollups_made:
                continue
            if now - slot > self.grace:
                self._rollups_missed.add((key, slot))
                local = slot.astimezone(ZoneInfo(schedule.timezone))
                what = f"roll-up of {key[2]}"
                self._warn_missed(session, schedule.workspace, schedule.channel_id, local, what)
                continue
            due.append(ledger.Due(schedule.workspace, schedule.channel_id, None, slot, key[2]))
        ledger.ensure_due(session, due)
        return len(due)

    def _warn_missed(
        self, session: Any, workspace: Workspace, channel_id: str, local: dt.datetime, what: str
    ) -> None:
        """Say (in the log and /digest status) that a slot passed while no worker ran."""
        message = (
            f"missed the {local:%Y-%m-%d %H:%M %Z} {what} (the worker was not running within "
            f"{self.grace} of it); skipped"
        )
        log.warning("channel %s of %s %s", channel_id, workspace, message)
        subscriptions.note_problem(
            session, workspace, channel_id, message[0].upper() + message[1:] + "."
        )

    def sendable(self) -> list[ledger.OpenDelivery]:
        """The open deliveries the worker may send: scheduled ones of subscribed channels (a
        roll-up: of channels that still have a roll-up schedule), not held by a live sender,
        and (unless already started) still within the grace period. Manual `post` and `rollup`
        deliveries are left to a rerun of the command."""
        now = self.clock()
        with self.database.read() as session:
            subscribed = subscriptions.subscribed_channels(session)
            rolled = {(r.workspace, r.channel_id) for r in rollup_store.all_rollups(session)}
            # This process's own live deliveries are its fan-out's: not even read.
            candidates = ledger.open_deliveries(session, None, not_held_by=(own_prefix(), now))
            corrections = edits.reopened(session)  # any origin: every thread is kept up to date
        wanted: list[ledger.OpenDelivery] = []
        for d in candidates:
            wanted_by = rolled if d.period is not None else subscribed
            scheduled = d.origin == "schedule" and (d.workspace, d.channel_id) in wanted_by
            if not scheduled and d.id not in corrections:
                continue
            held = d.state == ledger.SENDING and d.lease_until and d.lease_until >= now
            if held and not is_gone(d.lease_owner):
                continue
            if not d.started and d.due_at is not None and now - d.due_at > self.grace:
                self._skip_late(d, now)
                continue
            wanted.append(d)
        return wanted

    def _skip_late(self, d: ledger.OpenDelivery, now: dt.datetime) -> None:
        what = f"the roll-up of {d.period}" if d.period else f"issue {d.issue_date}"
        reason = f"{what} was not sent within {self.grace} of its time; skipped"
        with self.database.write() as session:
            if ledger.skip_unstarted(session, d.id, reason, now):
                log.warning("channel %s: %s", d.channel_id, reason)

    async def send_open(self) -> list[DeliveryResult]:
        """Send every open delivery, many channels at once (each channel paced on its own)."""
        # Only (workspace, id) stays for the fan-out: thousands of full rows would stay in
        # memory for as long as it runs.
        jobs = [(d.workspace, d.id) for d in await asyncio.to_thread(self.sendable)]
        if not jobs:
            return []
        return await self.deliverer.deliver_all(jobs, _log_result)

    def reopen_corrected(self) -> int:
        """Reopen threads (posted within the edit window) whose issue changed since."""
        with self.database.write() as session:
            reopened = edits.reopen_changed(session, self.clock() - self.edit_window)
        if reopened:
            log.info("%d posted threads of corrected issues to bring up to date", len(reopened))
        return len(reopened)

    async def send_due(self) -> list[DeliveryResult]:
        """Schedule what is due, reopen corrected threads, then send whatever is open."""
        await asyncio.to_thread(self.schedule_due)
        await asyncio.to_thread(self.reopen_corrected)
        return await self.send_open()

    async def aclose(self) -> None:
        """Close what the deliverer opened in the running event loop."""
        await self.deliverer.aclose()

    tick = blocking(send_due)  # from synchronous code (tests, one-offs)
