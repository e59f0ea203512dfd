"""Slack's posting limits, kept for every kind of message the bot sends: one `Pacer`.

Slack allows about one message per second per channel, and an unpublished number per minute
per workspace ("several hundred"). A sender takes a turn (`async with pacer.turn(...)`) before
each write and gives it back when Slack answers. The channel's next turn counts from that
answer; a workspace has at most its cap of turns out or answered within the last second. A 429
pauses its channel and its workspace for Retry-After and lowers that workspace's rate, which
creeps back after clean posting, so a limit lower than configured is learned, not hammered.
Each workspace grants its turns first come, first served; workspaces never wait for each other.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass

log = logging.getLogger(__name__)

WINDOW = 1.0  # seconds: the span a workspace's rate is counted over
BACK_OFF = 0.75  # a 429 multiplies the workspace's rate by this
RECOVER = 1.1  # ...and this many seconds' worth of clean posts multiplies it by this
CLEAN_SECONDS = 10.0


class _Lane:
    """One workspace: its turns out, those answered within the last WINDOW, who waits."""

    def __init__(self, cap: float) -> None:
        self.ceiling = cap
        self.cap = cap
        self.out = 0
        self.answered: deque[float] = deque()
        self.waiting: deque[asyncio.Future[None]] = deque()
        self.paused_until = 0.0
        self.clean = 0
        self.timer: asyncio.TimerHandle | None = None

    def free_at(self, now: float) -> float:
        """When the next turn may be granted (inf: once a turn out is answered)."""
        while self.answered and self.answered[0] <= now - WINDOW:
            self.answered.popleft()
        slots = self.cap if self.cap == math.inf else math.floor(self.cap)
        at = self.paused_until
        if self.out + len(self.answered) < slots:
            return at
        if self.answered and self.out < slots:
            # Counted from Slack's answer, which came after the post arrived there: a slot
            # reused WINDOW after an answer can never land inside Slack's window.
            return max(at, self.answered[0] + WINDOW)
        return math.inf

    def rate_limited(self, now: float, seconds: float) -> None:
        """A 429: pause, and post more slowly from now on."""
        if now < self.paused_until:  # the same burst answering: slow down once for it
            self.paused_until = max(self.paused_until, now + seconds)
            return
        self.paused_until = now + seconds
        self.cap = max(1.0, self.cap * BACK_OFF)
        self.clean = 0
        log.warning("workspace rate limited: %.1f posts/s from now on", self.cap / WINDOW)

    def posted(self) -> None:
        """A clean post: after enough of them, creep back towards the configured rate."""
        self.clean += 1
        if self.cap < self.ceiling and self.clean >= self.cap * CLEAN_SECONDS / WINDOW:
            self.cap = min(self.ceiling, self.cap * RECOVER)
            self.clean = 0


@dataclass
class Turn:
    """One write's turn; tell it about a 429 (`rate_limited`) before it ends."""

    retry_after: float | None = None

    def rate_limited(self, seconds: float) -> None:
        """Slack answered 429: the channel and workspace wait `seconds` from the answer."""
        self.retry_after = seconds


class Pacer:
    """Turns to write to Slack, per channel and per workspace (see the module doc)."""

    def __init__(
        self,
        channel_interval: float = 1.0,
        workspace_per_minute: float | None = 600.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.channel_interval = channel_interval
        self.cap = (
            math.inf
            if workspace_per_minute is None
            else max(1.0, workspace_per_minute * WINDOW / 60.0)
        )
        self.monotonic = monotonic
        self._lanes: dict[Hashable, _Lane] = {}
        self._channel_free: dict[tuple[Hashable, str], float] = {}

    def channels_at_once(self) -> int | None:
        """How many of a workspace's channels keep its budget busy, twice over: each channel
        posts once per `channel_interval` (and not more than once per WINDOW counting Slack's
        answer), the workspace at most `cap` per WINDOW. None: no workspace cap, every channel
        at once."""
        if math.isinf(self.cap):
            return None
        spacing = max(self.channel_interval, WINDOW / 2) / WINDOW
        return max(1, math.ceil(2 * self.cap * spacing))

    def lane_rate(self, workspace: Hashable) -> float:
        """A workspace's current rate (posts per WINDOW; learned from 429s)."""
        lane = self._lanes.get(workspace)
        return self.cap if lane is None else lane.cap

    @asynccontextmanager
    async def turn(
        self,
        workspace: Hashable,
        channel: str,
        ready: Callable[[], Awaitable[None]] | None = None,
    ) -> AsyncIterator[Turn]:
        """Wait for the channel's and the workspace's turn; given back when the block ends
        (Slack has answered), the channel's next turn `channel_interval` later. `ready` runs
        between the two: work the write needs (a database check) done when the channel's turn
        comes, so none of the workspace's budget waits for it."""
        key = (workspace, channel)
        wait = self._channel_free.get(key, 0.0) - self.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        if ready is not None:
            await ready()
        lane = self._lanes.get(workspace)
        if lane is None:
            lane = self._lanes[workspace] = _Lane(self.cap)
        await self._take(lane)
        turn = Turn()
        try:
            yield turn
        finally:
            now = self.monotonic()
            lane.out -= 1
            lane.answered.append(now)
            pause = self.channel_interval
            if turn.retry_after is not None:
                pause = max(pause, turn.retry_after)
                lane.rate_limited(now, turn.retry_after)
            else:
                lane.posted()
            self._channel_free[key] = now + pause
            if self._channel_free[key] <= now:
                del self._channel_free[key]  # nothing to remember for an unpaced channel
            self._wake(lane)

    async def _take(self, lane: _Lane) -> None:
        """Take a workspace turn: at once when one is free and nobody waits, else in line."""
        if not lane.waiting and lane.free_at(self.monotonic()) <= self.monotonic():
            lane.out += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        lane.waiting.append(waiter)
        self._wake(lane)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                lane.out -= 1  # granted just as it was cancelled: give the turn back
                self._wake(lane)
            elif waiter in lane.waiting:
                lane.waiting.remove(waiter)
            raise

    def _wake(self, lane: _Lane) -> None:
        """Grant the turns that are free now, in order; set a timer for the next one."""
        if lane.timer is not None:
            lane.timer.cancel()
            lane.timer = None
        while lane.waiting:
            now = self.monotonic()
            at = lane.free_at(now)
            if at == math.inf:
                return  # a turn out ends with an answer, which wakes the lane
            if at > now:
                loop = asyncio.get_running_loop()
                lane.timer = loop.call_later(at - now, self._wake, lane)
                return
            waiter = lane.waiting.popleft()
            if waiter.done():  # cancelled while waiting
                continue
            lane.out += 1
            waiter.set_result(None)
