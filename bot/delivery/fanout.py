"""The fan-out: thousands of deliveries at once on a few threads, paced like Slack asks.

Slack allows about one message per second per channel, and an unpublished number of messages
per minute per workspace ("several hundred"). Each delivery posts its parts one at a time
(Deliverer.advance); between parts it waits in its workspace's lane, not in a thread. One
scheduling thread hands the next ready part to a small pool: the earliest part whose channel
has had its second and whose workspace has a free slot in its one-second window. A 429 pauses
the channel and its workspace for Retry-After and lowers that workspace's rate (it recovers
slowly after clean posting), so a limit lower than configured is learned, not hammered.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import partial

from bot.delivery.deliverer import Deliverer, DeliveryResult, Progress, Recording, Step, Wait
from bot.workspace import Workspace

log = logging.getLogger(__name__)

WINDOW = 1.0  # seconds: the span a workspace's rate is counted over
BACK_OFF = 0.75  # a 429 multiplies the workspace's rate by this
RECOVER = 1.1  # ...and this many seconds' worth of clean posts multiplies it by this
CLEAN_SECONDS = 10.0


@dataclass(frozen=True)
class Pacing:
    """Slack's posting limits as the fan-out keeps them."""

    channel_interval: float = 1.0  # seconds between two posts to one channel
    workspace_per_minute: float | None = 600.0  # posts per minute per workspace; None: no cap

    @property
    def workspace_window_cap(self) -> float:
        """Posts allowed per WINDOW in one workspace (inf without a cap)."""
        if self.workspace_per_minute is None:
            return math.inf
        return max(1.0, self.workspace_per_minute * WINDOW / 60.0)


@dataclass(eq=False)
class _Job:
    workspace: Workspace
    delivery_id: int
    done: Future[DeliveryResult] = field(default_factory=Future)
    progress: Progress | None = None


class _Lane:
    """One workspace: its deliveries waiting to post, and its posts in the last WINDOW."""

    def __init__(self, cap: float) -> None:
        self.ceiling = cap
        self.cap = cap
        self.waiting: list[tuple[float, int, _Job]] = []  # (ready at, seq, job)
        # Parts that may go now, the delivery with the most still to send first: the channels
        # of a workspace then finish together, rather than a few late ones at one post a
        # second while the workspace's other slots stand idle.
        self.ready: list[tuple[int, int, _Job]] = []  # (-parts left, seq, job)
        self.answered: deque[float] = deque()  # when each recent post was answered
        self.in_flight = 0
        self.paused_until = 0.0
        self.clean = 0
        self.entry: int | None = None  # seq of this lane's entry in the engine's heap

    @property
    def slots(self) -> float:
        """Posts it may have in its window now (whole ones; inf without a cap)."""
        return self.cap if self.cap == math.inf else float(math.floor(self.cap))

    def next_time(self, now: float) -> float | None:
        """When its next part may go (inf: once a post in flight returns); None: nothing waits."""
        if not self.waiting and not self.ready:
            return None
        at = max(self.waiting[0][0] if not self.ready else 0.0, self.paused_until)
        while self.answered and self.answered[0] <= now - WINDOW:
            self.answered.popleft()
        if self.in_flight + len(self.answered) < self.slots:
            return at
        if self.answered and self.in_flight < self.slots:
            # Counted from Slack's answer, which came after the post arrived there: a slot
            # reused WINDOW after an answer can never land inside Slack's window.
            return max(at, self.answered[0] + WINDOW)
        return math.inf

    def take(self, now: float) -> _Job:
        """The delivery whose part goes next: of those that may post now, the one with the
        most parts left (call only when `next_time` has come)."""
        while self.waiting and self.waiting[0][0] <= now:
            _, seq, job = heapq.heappop(self.waiting)
            assert job.progress is not None  # noqa: S101  only started jobs are queued
            heapq.heappush(self.ready, (-job.progress.remaining(), seq, job))
        return heapq.heappop(self.ready)[2]

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


class FanOut:
    """Sends many deliveries at once: per-delivery logic in the Deliverer, pacing here."""

    def __init__(
        self,
        deliverer: Deliverer,
        pacing: Pacing | None = None,
        *,
        threads: int = 32,
        starters: int = 12,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.deliverer = deliverer
        self.pacing = pacing or Pacing()
        self.monotonic = monotonic
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Lane]] = []
        self._seq = itertools.count()
        self._lanes: dict[Workspace, _Lane] = {}
        self._active: dict[int, _Job] = {}
        self._channel_free: dict[tuple[Workspace, str], float] = {}
        self._sending: set[tuple[Workspace, str]] = set()
        self._steps = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="fanout")
        # Claims wait for the ledger's group commit: a dozen waiting at once share one
        # transaction, and its reads of the issue, so thousands of channels start within
        # seconds.
        self._starts = ThreadPoolExecutor(max_workers=starters, thread_name_prefix="claim")
        self._thread: threading.Thread | None = None

    def run(
        self,
        jobs: Iterable[tuple[Workspace, int]],
        on_result: Callable[[DeliveryResult], None] | None = None,
    ) -> list[DeliveryResult]:
        """Send these deliveries (workspace, delivery id); returns when all have finished, and
        tells `on_result` (in this thread) of each as it finishes. A delivery this engine is
        already sending (for another caller) is left to it."""
        mine: list[_Job] = []
        with self._cond:
            for workspace, delivery_id in _round_robin(jobs):
                if delivery_id in self._active:
                    continue
                job = _Job(workspace, delivery_id)
                self._active[delivery_id] = job
                mine.append(job)
            if mine and self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="pacer", daemon=True)
                self._thread.start()
        for job in mine:
            self._starts.submit(self._begin, job)
        if on_result is not None:
            for finished in as_completed(job.done for job in mine):
                on_result(finished.result())
        return [job.done.result() for job in mine]

    # --- pool threads -------------------------------------------------------------------------

    def _begin(self, job: _Job) -> None:
        try:
            started = self.deliverer.begin(job.delivery_id)
        except Exception as exc:  # one channel's trouble must not stop the others
            log.exception("delivery %d could not start", job.delivery_id)
            started = DeliveryResult("retry_later", "", None, error=type(exc).__name__)
        with self._cond:
            if isinstance(started, DeliveryResult):
                self._finish(job, started)
                return
            job.progress = started
            self._wait(job, self.monotonic())

    def _advance(self, job: _Job) -> None:
        """One paced step of a delivery (at most one post) on a pool thread."""
        assert job.progress is not None  # noqa: S101  only started jobs are queued
        job.progress.answered_at = None
        try:
            step = self.deliverer.advance(job.progress)
        except Exception as exc:
            log.exception("delivery %d crashed", job.delivery_id)
            step = DeliveryResult("retry_later", job.progress.channel, None, error=str(exc))
        if isinstance(step, Recording):
            # The thread goes back to the pool; the writer thread continues the delivery
            # once the part's record is committed (no thread waits on the commit). The
            # callback holds `next_step`, not the Recording: a future whose callback refers
            # back to it is a reference cycle, garbage only a full collection frees, and a full
            # collection stops the whole worker (0.3-0.7 s at 2,000 channels).
            with self._cond:
                # Slack counted the post when it answered: the workspace's slot is not held
                # while our ledger commits (the channel is, until its part is recorded).
                now = self.monotonic()
                self._schedule(self._free_slot(job, None, now), now)
            step.future.add_done_callback(partial(self._recorded, job, step.next_step))
            return
        self._stepped(job, step)

    def _recorded(self, job: _Job, next_step: Callable[[bool], Step], done: Future[bool]) -> None:
        assert job.progress is not None  # noqa: S101
        try:
            step = self.deliverer.recorded(job.progress, Recording(done, next_step))
        except Exception as exc:
            log.exception("delivery %d: recording a part failed", job.delivery_id)
            step = DeliveryResult("retry_later", job.progress.channel, None, error=str(exc))
        with self._cond:
            self._route_after_step(job, step, self.monotonic())

    def _stepped(self, job: _Job, step: Step) -> None:
        """Account for a paced step: free its slot, then finish, wait or queue the delivery."""
        with self._cond:
            now = self.monotonic()
            self._free_slot(job, step, now)
            self._route_after_step(job, step, now)

    def _free_slot(self, job: _Job, step: Step, now: float) -> _Lane:
        """Give back the workspace slot of a step Slack has answered; note when its channel
        may take the next part (under the lock)."""
        assert job.progress is not None  # noqa: S101
        # Slack's answer, not the end of our ledger write: Slack counted the post by then.
        answered = min(now, job.progress.answered_at or now)
        lane = self._lanes[job.workspace]
        lane.in_flight -= 1
        lane.answered.append(answered)
        pause = self.pacing.channel_interval
        if isinstance(step, Wait):
            pause = max(pause, step.seconds)
            if step.rate_limited:
                lane.rate_limited(now, step.seconds)
        else:
            lane.posted()
        self._channel_free[(job.workspace, job.progress.channel)] = answered + pause
        return lane

    def _route_after_step(self, job: _Job, step: Step, now: float) -> None:
        """After a step (and its record): finish, conclude or queue the delivery's next part
        (under the lock)."""
        assert job.progress is not None  # noqa: S101
        lane = self._lanes[job.workspace]
        self._sending.discard((job.workspace, job.progress.channel))
        if isinstance(step, DeliveryResult):
            self._finish(job, step)
        elif step is None and not job.progress.pending():
            # All sent: finishing posts nothing, so it takes no slot and no pacing.
            self._steps.submit(self._conclude, job)
        else:
            self._wait(job, now)
        self._schedule(lane, now)

    def _conclude(self, job: _Job) -> None:
        """Finish a delivery whose parts are all sent (ledger only)."""
        assert job.progress is not None  # noqa: S101
        try:
            step = self.deliverer.advance(job.progress)
        except Exception as exc:
            log.exception("delivery %d could not finish", job.delivery_id)
            step = DeliveryResult("retry_later", job.progress.channel, None, error=str(exc))
        if isinstance(step, Recording):  # its end is committing: no thread waits for it
            step.future.add_done_callback(partial(self._recorded, job, step.next_step))
            return
        with self._cond:
            if isinstance(step, DeliveryResult):
                self._finish(job, step)
            else:  # not expected: whatever is left goes through the lane like any step
                self._wait(job, self.monotonic())

    # --- scheduling (under self._cond) -------------------------------------------------------

    def _lane(self, workspace: Workspace) -> _Lane:
        lane = self._lanes.get(workspace)
        if lane is None:
            lane = self._lanes[workspace] = _Lane(self.pacing.workspace_window_cap)
        return lane

    def _wait(self, job: _Job, now: float) -> None:
        """Queue a started delivery's next part in its workspace's lane."""
        assert job.progress is not None  # noqa: S101
        lane = self._lane(job.workspace)
        ready = max(now, self._channel_free.get((job.workspace, job.progress.channel), now))
        heapq.heappush(lane.waiting, (ready, next(self._seq), job))
        self._schedule(lane, now)

    def _finish(self, job: _Job, result: DeliveryResult) -> None:
        self._active.pop(job.delivery_id, None)
        if not result.channel_id and job.progress is not None:
            result.channel_id = job.progress.channel
        job.progress = None  # its thread and messages are not kept until every channel is done
        job.done.set_result(result)

    def _schedule(self, lane: _Lane, now: float) -> None:
        """(Re)place the lane in the heap at its next time."""
        at = lane.next_time(now)
        if at is None or at == math.inf:
            lane.entry = None
            return
        seq = next(self._seq)
        lane.entry = seq
        heapq.heappush(self._heap, (at, seq, lane))
        if self._heap[0][1] == seq:
            self._cond.notify()

    def _loop(self) -> None:
        with self._cond:
            while True:
                if not self._heap:
                    self._cond.wait()
                    continue
                at, seq, lane = self._heap[0]
                if lane.entry != seq:
                    heapq.heappop(self._heap)  # superseded
                    continue
                now = self.monotonic()
                if at > now:
                    self._cond.wait(at - now)
                    continue
                heapq.heappop(self._heap)
                lane.entry = None
                try:
                    ready = lane.next_time(now)
                    if ready is not None and ready <= now:
                        self._dispatch(lane, now)
                    self._schedule(lane, now)
                except Exception:  # a bug here must not stop every other delivery
                    log.exception("fan-out scheduling failed")

    def _dispatch(self, lane: _Lane, now: float) -> None:
        """Hand the lane's next part to the pool."""
        job = lane.take(now)
        assert job.progress is not None  # noqa: S101
        key = (job.workspace, job.progress.channel)
        if key in self._sending:  # two deliveries to one channel: one part at a time
            later = now + self.pacing.channel_interval
            heapq.heappush(lane.waiting, (later, next(self._seq), job))
            return
        self._sending.add(key)
        lane.in_flight += 1
        self._steps.submit(self._advance, job)


def _round_robin(jobs: Iterable[tuple[Workspace, int]]) -> list[tuple[Workspace, int]]:
    """Interleave workspaces, so every workspace's first channels start early."""
    by_workspace: dict[Workspace, list[int]] = defaultdict(list)
    for workspace, delivery_id in jobs:
        by_workspace[workspace].append(delivery_id)
    queues = [[(w, d) for d in ids] for w, ids in by_workspace.items()]
    return [job for group in itertools.zip_longest(*queues) for job in group if job is not None]
