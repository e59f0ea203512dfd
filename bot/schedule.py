"""Channel schedules as pure functions of time: slots, next post time, what is due now.

A slot is the moment a channel is due on one local calendar day (its HH:MM in its IANA zone).
Slots are computed per local date, so a DST change can neither skip nor double a day: 09:00
stays 09:00 local, and a time that does not exist on a spring-forward day (02:30) falls an hour
later, once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

Days = Literal["weekdays", "daily"]


@dataclass(frozen=True)
class ChannelSchedule:
    """A channel's subscription as the scheduler needs it."""

    channel_id: str
    hour: int
    minute: int
    timezone: str
    days: Days
    active_since: dt.datetime  # slots before this moment never count (no back-posting)

    @property
    def zone(self) -> ZoneInfo:
        """The channel's timezone."""
        return ZoneInfo(self.timezone)

    def runs_on(self, day: dt.date) -> bool:
        """Whether the channel gets posts on a local calendar day."""
        return self.days == "daily" or day.weekday() < 5

    def slot_on(self, day: dt.date) -> dt.datetime:
        """The UTC moment of the channel's local HH:MM on a local day."""
        local = dt.datetime.combine(day, dt.time(self.hour, self.minute), tzinfo=self.zone)
        # Round-trip through UTC normalises times that do not exist locally (spring forward).
        return local.astimezone(dt.UTC)

    def latest_slot(self, now: dt.datetime) -> dt.datetime | None:
        """The most recent slot at or before `now` (within the past week), if any."""
        today = now.astimezone(self.zone).date()
        for back in range(8):
            day = today - dt.timedelta(days=back)
            if self.runs_on(day):
                slot = self.slot_on(day)
                if slot <= now:
                    return slot
        return None

    def next_slot(self, now: dt.datetime) -> dt.datetime:
        """The first slot strictly after `now`."""
        today = now.astimezone(self.zone).date()
        for ahead in range(9):
            day = today + dt.timedelta(days=ahead)
            if self.runs_on(day):
                slot = self.slot_on(day)
                if slot > now:
                    return slot
        raise AssertionError("a schedule always has a slot within nine days")

    def local_day(self, slot: dt.datetime) -> dt.date:
        """The local calendar day a slot belongs to."""
        return slot.astimezone(self.zone).date()


@dataclass(frozen=True)
class Decision:
    """What a channel should get right now."""

    action: Literal["post", "missed", "wait"]
    slot: dt.datetime | None = None
    issue_date: dt.date | None = None


def decide(
    schedule: ChannelSchedule,
    now: dt.datetime,
    issue_dates: list[dt.date],
    delivered: set[dt.date],
    *,
    max_age: dt.timedelta,
    grace: dt.timedelta,
) -> Decision:
    """Post the newest issue the channel lacks if its slot has come (within the grace period).

    `issue_dates` are the archive's dates newest first. An issue older than `max_age` at the
    slot is never posted, so a new subscription or a worker back after days away posts at most
    the one current issue, never a backlog.
    """
    slot = schedule.latest_slot(now)
    if slot is None or slot < schedule.active_since:
        return Decision("wait")
    local_day = schedule.local_day(slot)
    newest = next((d for d in issue_dates if d <= local_day), None)
    if newest is None or newest in delivered:
        return Decision("wait", slot)
    if dt.timedelta(days=(local_day - newest).days) > max_age:
        return Decision("wait", slot)
    if now - slot > grace:
        return Decision("missed", slot, newest)
    return Decision("post", slot, newest)


@dataclass(frozen=True)
class Outlook:
    """What a channel's next slot will bring, for people reading /digest status."""

    slot: dt.datetime  # in the channel's timezone
    state: Literal["post", "stale", "posted", "empty"]
    issue_date: dt.date | None = None
    age_days: int = 0


def outlook(
    schedule: ChannelSchedule,
    now: dt.datetime,
    newest: dt.date | None,
    newest_delivered: bool,
    *,
    max_age: dt.timedelta,
) -> Outlook:
    """The next slot and whether the archive's newest issue would be posted then.

    Mirrors `decide`: at the slot the newest issue is posted unless this channel already has it
    or it is older than `max_age` on the slot's local day; then only a newer issue posts.
    """
    slot = schedule.next_slot(now).astimezone(schedule.zone)
    if newest is None:
        return Outlook(slot, "empty")
    if newest_delivered:
        return Outlook(slot, "posted", newest)
    age = (schedule.local_day(slot) - newest).days
    if dt.timedelta(days=age) > max_age:
        return Outlook(slot, "stale", newest, age)
    return Outlook(slot, "post", newest, age)
