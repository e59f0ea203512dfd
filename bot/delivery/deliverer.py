"""Delivering an issue to a channel exactly once: the one code path of `post` and the worker.

Per message: note the part as in flight (committed), post it with metadata naming the delivery
and part, record the ts and the fingerprint of its content (committed). After a crash or an
ambiguous failure the in-flight part is looked up in the channel by its metadata before it is
ever posted again, so a message Slack accepted but we never heard back about is recorded, not
duplicated. Which parts a thread has is decided once, at the first claim (bot/delivery/plan.py);
a thread whose issue was corrected since gets its missing parts, then its changed messages
edited (chat.update), one Slack write per step, exactly once (bot/delivery/thread_edits.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

from bot.clock import Clock, utc_now
from bot.delivery.lease import LeaseKeeper
from bot.delivery.plan import Part, Recorded, Rendered, Thread, read_or_record_plan, thread
from bot.delivery.poster import (
    AmbiguousError,
    NotSentError,
    PartSearch,
    PermanentError,
    RateLimitedError,
    UndecidedLookupError,
    metadata_for,
)
from bot.delivery.thread_edits import EditStep, edit_step
from bot.owners import is_gone, new_owner
from bot.slack.rendering import Message
from bot.store import edits, ledger
from bot.store import workspaces as workspace_store
from bot.store.db import Database, Session, once_per_transaction
from bot.store.ledger import MessageState
from bot.store.queries import get_issue
from bot.workspace import Workspace

log = logging.getLogger(__name__)

Outcome = Literal["posted", "already", "busy", "failed", "retry_later", "no_issue", "skipped"]
T = TypeVar("T")


class Committer(Protocol):
    """Runs units of ledger work in write transactions (the fan-out batches many channels'
    units into one transaction: bot.store.group_commit.GroupCommit)."""

    def __call__(self, work: Callable[[Session], T]) -> T:
        """The work's result, committed."""

    def submit(self, work: Callable[[Session], T]) -> Future[T]:
        """The work queued; its future holds the result once committed."""


class Transport(Protocol):
    """Where deliveries go: Slack (bot.delivery.poster.SlackPoster), or a test's in-memory fake.

    `post` raises PermanentError (refused for good), NotSentError (never reached Slack) or
    AmbiguousError (may have been posted); `find_part` raises UndecidedLookupError when it
    cannot tell whether a part is there. `update` (chat.update) raises as `post` does, or
    MessageGoneError when that one message can no longer be edited.
    """

    def join(self, channel: str) -> str | None:
        """Join a public channel; the error code when that failed, else None."""

    def post(
        self, channel: str, message: Message, *, thread_ts: str | None, metadata: dict[str, Any]
    ) -> str:
        """Post one message; its ts."""

    def find_part(self, search: PartSearch) -> str | None:
        """The ts of a part already in the channel, None when it surely is not there."""

    def update(self, channel: str, ts: str, message: Message, *, metadata: dict[str, Any]) -> None:
        """Edit a posted message (chat.update)."""

    def find_fingerprint(self, channel: str, ts: str, *, parent_ts: str | None) -> str | None:
        """The fingerprint our last edit left in a message's metadata."""


# Each workspace's transport (posting with that workspace's own bot token).
Transports = Callable[[Workspace], Transport]
# Told (messages of the thread Slack has, messages in the thread) before each step of a run.
ProgressReport = Callable[[int, int], None]


def everywhere(transport: Transport) -> Transports:
    """One transport for every workspace (one bot token, or a test's fake)."""
    return lambda _workspace: transport


@dataclass
class DeliveryResult:
    """What one delivery attempt did."""

    outcome: Outcome
    channel_id: str
    issue_date: dt.date | None
    posted: int = 0
    error: str | None = None
    holder: str | None = None  # who holds the delivery, when busy
    forgotten: bool = False  # Slack accepted nothing, so no trace of the attempt was kept
    edited: int = 0  # messages brought up to date with chat.update (a corrected issue)


@dataclass(frozen=True)
class Wait:
    """Send the delivery's next part no sooner than `seconds` from now (backoff or a 429)."""

    seconds: float
    rate_limited: bool = False


# What one step of a delivery did: finished (the result), wait, or None (more to do, as soon
# as pacing allows).
Step = DeliveryResult | Wait | None


@dataclass(frozen=True)
class Recording:
    """A ledger write being committed (a part Slack accepted, or the delivery's end):
    `Deliverer.recorded` gives `next_step`'s step once the future is done. The fan-out waits
    for it without holding a thread."""

    future: Future[bool]  # whether the lease was still held
    next_step: Callable[[bool], Step]  # the step that follows, given whether it was held


@dataclass
class Progress:
    """Where one send of a delivery stands."""

    claim: ledger.Claim
    owner: str
    thread: Thread
    transport: Transport
    posted: dict[int, str]
    parent_ts: str | None
    inflight: int | None
    # Whether Slack may hold a part we have not recorded: then the delivery must stay.
    maybe_sent: bool
    sent: int = 0
    edited: int = 0
    attempts: int = 0  # failed tries of the current part (or edit)
    # When a committed ledger write last showed the lease still ours (the deliverer's clock).
    held_at: dt.datetime | None = None
    # When Slack last answered a post (time.monotonic), so pacing counts from Slack's answer,
    # not from after our ledger write.
    answered_at: float | None = None

    @property
    def id(self) -> int:
        """The delivery's id."""
        return self.claim.delivery_id

    @property
    def channel(self) -> str:
        """The channel it goes to."""
        return self.claim.channel_id

    def next_part(self) -> Part | None:
        """The first part Slack does not have yet; None when all are recorded."""
        return self.thread.next_post(self.posted)

    def messages(self) -> int:
        """How many messages the thread has (parts removed by a correction not counted)."""
        return sum(1 for p in self.thread.parts if not p.removed)

    def remaining(self) -> int:
        """How many parts Slack does not have yet."""
        posted = self.posted
        return sum(1 for p in self.thread.parts if not p.removed and p.part not in posted)

    def pending(self) -> bool:
        """Whether a part is still to be posted or a message to be edited."""
        return self.next_part() is not None or self.thread.next_edit() is not None


class _Stop(Exception):  # noqa: N818  control flow inside a step, never escapes it
    def __init__(self, result: DeliveryResult) -> None:
        super().__init__(result.outcome)
        self.result = result


@dataclass
class Deliverer:
    """Sends claimed deliveries through their workspace's Transport, recording everything in the
    ledger.

    A delivery is a sequence of steps (`begin`, then `advance` until it returns a result), so
    the fan-out can interleave thousands of them on a few threads; `run` does all steps of
    one delivery in the calling thread.
    """

    database: Database
    transports: Transports
    clock: Clock = utc_now
    lease: dt.timedelta = dt.timedelta(seconds=15)
    ambiguous_retries: int = 4
    unreachable_retries: int = 2
    backoff: Callable[[float], None] = time.sleep
    save_emoji: str = "bookmark"
    commit: Committer | None = None

    def __post_init__(self) -> None:
        self.keeper = LeaseKeeper(self.database, self.lease, self.clock)
        # Keyed by (day, save emoji): workspaces with different emojis get their own footers.
        self._rendered: weakref.WeakValueDictionary[tuple[dt.date, str], Rendered] = (
            weakref.WeakValueDictionary()
        )
        self._rendered_lock = threading.Lock()

    def _write(self, work: Callable[[Session], T]) -> T:
        """Run ledger work in a committed transaction (batched when a committer is set)."""
        if self.commit is not None:
            return self.commit(work)
        with self.database.write() as session:
            return work(session)

    def deliver_issue(
        self,
        workspace: Workspace,
        channel_id: str,
        issue_date: dt.date | None,
        *,
        retry_failed: bool = False,
        origin: str = "manual",
        update: bool = False,
        report: ProgressReport | None = None,
    ) -> DeliveryResult:
        """Post an issue (None: the latest) to a workspace's channel unless the ledger says it
        was posted; `update`: a posted thread whose issue was corrected since is brought up to
        date (whatever its age); `report` is told how far the thread is before each step."""
        with self.database.write() as session:
            issue = get_issue(session, issue_date)
            if issue is None:
                return DeliveryResult("no_issue", channel_id, issue_date)
            delivery_id = ledger.ensure_delivery(
                session, workspace, channel_id, issue.id, due_at=self.clock(), origin=origin
            )
            if update:
                edits.reopen(session, delivery_id)
        return self.run(delivery_id, retry_failed=retry_failed, report=report)

    def _claim(
        self, delivery_id: int, owner: str, retry_failed: bool
    ) -> _Claimed | tuple[str, str | None]:
        """The claim, or (not claimed) the delivery's state and holder; a holder known to be
        dead is taken over at once, without waiting for its lease to run out. The plan is
        read, or decided and recorded, in the claiming transaction."""

        def first(session: Session) -> _Claimed | tuple[str, str | None]:
            now = self.clock()
            found = ledger.claim(
                session, delivery_id, owner, now, self.lease, retry_failed=retry_failed
            )
            if found is None:
                return ledger.holder(session, delivery_id)
            return _set_up_claim(session, found, self.save_emoji, owner, now, self.lease)

        claim = self._write(first)
        if isinstance(claim, _Claimed):
            return claim
        state, holder = claim
        if state != ledger.SENDING or not is_gone(holder):
            return state, holder
        log.warning("delivery %d: its sender %s is gone; taking over", delivery_id, holder)
        with self.database.write() as session:
            taken = ledger.claim(
                session,
                delivery_id,
                owner,
                self.clock(),
                self.lease,
                retry_failed=retry_failed,
                takeover_from=holder,
            )
            if taken is not None:
                return _set_up_claim(
                    session, taken, self.save_emoji, owner, self.clock(), self.lease
                )
            return ledger.holder(session, delivery_id)

    def run(
        self,
        delivery_id: int,
        *,
        retry_failed: bool = False,
        report: ProgressReport | None = None,
    ) -> DeliveryResult:
        """Claim a delivery and send whatever of it is missing, here and now."""
        progress = self.begin(delivery_id, retry_failed=retry_failed)
        while not isinstance(progress, DeliveryResult):
            if report is not None:
                total = progress.messages()
                report(total - progress.remaining(), total)
            step = self.advance(progress)
            if isinstance(step, Recording):
                step = self.recorded(progress, step)
            if isinstance(step, DeliveryResult):
                return step
            if step is not None:
                self.backoff(step.seconds)
        return progress

    def begin(self, delivery_id: int, *, retry_failed: bool = False) -> Progress | DeliveryResult:
        """Claim a delivery and join its channel; the result when there is nothing to send."""
        owner = new_owner()
        claimed = self._claim(delivery_id, owner, retry_failed)
        if not isinstance(claimed, _Claimed):
            state, holder = claimed
            outcome: Outcome = "already" if state in (ledger.POSTED, ledger.SKIPPED) else "busy"
            if state == ledger.FAILED:
                outcome = "failed"
            return DeliveryResult(outcome, "", None, holder=holder)
        claim = claimed.claim
        rendered = self._render(claim.issue_date, claimed.recorded.content_hash, claimed.save_emoji)
        if rendered is None:  # the issue vanished between claim and send
            return self._finish_unsent(claim, owner, ledger.FAILED, "issue gone")
        laid_out = thread(rendered, claimed.recorded)
        if laid_out.nothing_matched:
            plan = laid_out.plan
            reason = (
                f"none of the {plan.total} deep dives matched this channel's filter "
                f"({' · '.join(r.describe() for r in plan.rules)}), so nothing was posted"
            )
            return self._finish_unsent(claim, owner, ledger.SKIPPED, reason)
        progress = Progress(
            claim,
            owner,
            laid_out,
            self.transports(claim.workspace),
            claim.posted,
            claim.parent_ts or claim.posted.get(0),
            claim.inflight_part,
            claim.inflight_part is not None,
        )
        if claimed.parent_noted_at is not None:  # noted by the claim; Slack cannot hold it yet
            progress.inflight, progress.held_at = 0, claimed.parent_noted_at
        self.keeper.hold(delivery_id, owner)
        if progress.next_part() is not None:
            # Public channels are joined first: lookups after a crash and save-by-reaction need
            # membership (chat:write.public alone posts, but cannot read history or get events).
            error = progress.transport.join(claim.channel_id)
            if error:
                log.info("conversations.join %s: %s", claim.channel_id, error)
        return progress

    def _finish_unsent(
        self, claim: ledger.Claim, owner: str, state: str, reason: str
    ) -> DeliveryResult:
        """End a claimed delivery that has nothing to send (issue gone, or nothing matched)."""
        with self.database.write() as session:
            ledger.finish(session, claim.delivery_id, owner, state, self.clock(), reason)
        outcome: Outcome = "skipped" if state == ledger.SKIPPED else "failed"
        return DeliveryResult(outcome, claim.channel_id, claim.issue_date, error=reason)

    def _render(self, day: dt.date, content_hash: str, save_emoji: str) -> Rendered | None:
        """The issue's messages with a workspace's save emoji, rendered once for all deliveries
        of it under way (weakly held: a later run reads the issue afresh, corrections included)."""
        key = (day, save_emoji)
        with self._rendered_lock:
            rendered = self._rendered.get(key)
        if rendered is not None and rendered.content_hash == content_hash:
            return rendered
        with self.database.read() as session:
            issue = get_issue(session, day)
        if issue is None:
            return None
        # Labelled with the hash read at the claim, before this read: the content shown is
        # never older than the version a thread is then marked as synced with.
        rendered = Rendered(issue, content_hash, save_emoji)
        with self._rendered_lock:
            held = self._rendered.get(key)
            if held is not None and held.content_hash == content_hash:
                return held
            self._rendered[key] = rendered
            return rendered

    def advance(self, progress: Progress) -> Step | Recording:
        """Send the next missing part (at most one post), or finish the delivery after the
        last; with a group committer the part's record may still be committing (Recording)."""
        return self._guarded(progress, lambda: self._step(progress))

    def recorded(self, progress: Progress, recording: Recording) -> Step:
        """The step a part's record made, once its commit is done (no database work here)."""
        return self._guarded(progress, lambda: recording.next_step(recording.future.result()))

    def _guarded(self, progress: Progress, do: Callable[[], T]) -> T | DeliveryResult:
        """Run a step: a stop or a permanent error ends the delivery; its lease is dropped
        whenever it ends."""
        step: T | DeliveryResult
        try:
            step = do()
        except _Stop as stop:
            step = stop.result
        except PermanentError as exc:
            step = self._fail(progress, exc.error)
        except BaseException:
            self.keeper.drop(progress.id)
            raise
        if isinstance(step, DeliveryResult):
            self.keeper.drop(progress.id)
        return step

    def _step(self, progress: Progress) -> Step | Recording:
        part = progress.next_part()
        if part is None:
            return self._edit_step(progress)
        try:
            ts = self._send_part(progress, part.part, part.message)
        except RateLimitedError as exc:
            progress.answered_at = time.monotonic()
            return Wait(exc.retry_after, rate_limited=True)
        except UndecidedLookupError as exc:
            # Could not tell whether Slack has the part: posting it could duplicate it, so
            # give the delivery back for a later attempt (the subscription is not failing).
            log.warning("delivery %d part %d: lookup undecided (%s)", progress.id, part.part, exc)
            raise _Stop(self._release(progress, f"could not check Slack: {exc}")) from None
        except AmbiguousError as exc:
            progress.attempts += 1
            return self._back_off(progress, part.part, exc)
        progress.attempts = 0
        return self._record(progress, part, ts)

    def _edit_step(self, progress: Progress) -> Step | Recording:
        """Bring one changed message up to date (a corrected issue); finish after the last."""
        part = progress.thread.next_edit()
        if part is None:
            return self._complete(progress)
        step = edit_step(self._edits(progress), part)
        if step.result == "lease_lost":
            raise _Stop(self._result(progress, "busy", "lease lost"))
        if step.result == "rate_limited":
            return Wait(step.wait, rate_limited=True)
        if step.result == "ambiguous":
            progress.attempts += 1
            return self._back_off(progress, part.part, AmbiguousError(step.error))
        progress.attempts = 0
        progress.edited += step.result == "edited"
        progress.held_at = self.clock()
        return None if progress.pending() else self._complete(progress)

    def _edits(self, progress: Progress) -> EditStep:
        claim = progress.claim
        return EditStep(
            delivery_id=claim.delivery_id,
            owner=progress.owner,
            channel=claim.channel_id,
            issue=claim.issue_date.isoformat(),
            parent_ts=progress.parent_ts,
            states=progress.thread.states,
            transport=progress.transport,
            write=self._write,
            now=self.clock,
            lease=self.lease,
        )

    def _complete(self, progress: Progress) -> Step | Recording:
        """End the delivery as posted; with a group committer its commit is left under way
        (a fan-out's channels all end within seconds: no thread waits on each)."""
        claim = progress.claim
        completion = ledger.Completion(
            claim.workspace,
            claim.delivery_id,
            progress.owner,
            claim.channel_id,
            self.clock(),
            progress.thread.recorded.content_hash,
        )

        def next_step(_held: bool) -> DeliveryResult:
            # All its parts are recorded: whoever holds it now has nothing left to post.
            return self._result(progress, "posted")

        return self._commit_lease_checked(completion, next_step)

    def _discard_if_unsent(self, progress: Progress) -> bool:
        """A manual post that Slack accepted nothing of leaves nothing behind (no pending row
        for anyone to send later, and the schedule may still post the issue there)."""
        claim = progress.claim
        if claim.origin != "manual" or progress.posted or progress.maybe_sent:
            return False
        with self.database.write() as session:
            if not ledger.discard_unsent(session, claim.delivery_id, progress.owner):
                return False
        log.info("delivery %d: nothing was sent; forgotten", claim.delivery_id)
        return True

    def _record(self, progress: Progress, part: Part, ts: str) -> Step | Recording:
        """Record a part Slack holds and the fingerprint of its content (committed), so it is
        never posted again, and note the next part in flight in the same write (one write per
        message, not two). With a group committer the commit is left under way (Recording)."""
        claim = progress.claim
        following = progress.thread.next_post(progress.posted, after=part.part)
        ahead = None if following is None else (following.part, self.clock() + self.lease)

        record = ledger.PartRecord(
            claim.delivery_id,
            progress.owner,
            part.part,
            claim.channel_id,
            ts,
            part.article_id,
            part.fingerprint,
            ahead,
        )

        def next_step(held: bool) -> Step:
            if not held:
                raise _Stop(self._result(progress, "busy", "lease lost"))
            progress.inflight = None if following is None else following.part
            progress.maybe_sent = False
            progress.held_at = self.clock()
            progress.posted[part.part] = ts
            progress.thread.states[part.part] = MessageState(
                part.part, ts, part.article_id, part.fingerprint, None
            )
            if part.part == 0:
                progress.parent_ts = ts
            return None  # the next step posts the next part, or finishes the delivery

        return self._commit_lease_checked(record, next_step)

    def _commit_lease_checked(
        self, write: Callable[[Session], bool], next_step: Callable[[bool], Step]
    ) -> Step | Recording:
        """Commit a lease-checked ledger write and return the step `next_step` makes of whether
        the lease was held; with a group committer the commit is left under way (Recording)."""
        if self.commit is None:
            with self.database.write() as session:
                return next_step(write(session))
        return Recording(self.commit.submit(write), next_step)

    def _result(
        self, progress: Progress, outcome: Outcome, error: str | None = None
    ) -> DeliveryResult:
        claim = progress.claim
        return DeliveryResult(
            outcome,
            claim.channel_id,
            claim.issue_date,
            progress.sent,
            error,
            edited=progress.edited,
        )

    def _send_part(self, progress: Progress, part: int, message: Message) -> str:
        """The ts of one part: found in the channel if Slack may have it already, else posted."""
        maybe_there = progress.inflight == part and progress.maybe_sent
        found = self._find(progress, part) if maybe_there else None
        return found or self._post(progress, part, message)

    def _find(self, progress: Progress, part: int) -> str | None:
        """Look an in-flight part up in the channel; None only when Slack surely lacks it."""
        claim = progress.claim
        ts = progress.transport.find_part(
            PartSearch(
                claim.channel_id,
                parent_ts=None if part == 0 else progress.parent_ts,
                delivery_id=claim.delivery_id,
                part=part,
                oldest=claim.created_at.timestamp() - 60,
            )
        )
        if ts is not None:
            log.info("found part %d of delivery %d already in Slack", part, claim.delivery_id)
        else:
            progress.maybe_sent = False
        return ts

    def _post(self, progress: Progress, part: int, message: Message) -> str:
        """Note the part as in flight (committed), then post it with metadata naming it."""
        claim = progress.claim
        # Noted in flight with the previous part's record, and the lease renewed lately enough
        # (by that record or the heartbeat) that it is surely still ours: no second write.
        # Otherwise (first part, a retry, or a heartbeat that failed) note it now, which also
        # checks the lease.
        renewed = self.keeper.renewed_at(claim.delivery_id, progress.owner)
        held_at = max((t for t in (progress.held_at, renewed) if t is not None), default=None)
        fresh = held_at is not None and self.clock() - held_at < self.lease / 3
        if progress.inflight != part or not fresh:
            marked = self._write(
                lambda session: ledger.mark_inflight(
                    session, claim.delivery_id, progress.owner, part, self.clock(), self.lease
                )
            )
            if not marked:
                raise _Stop(self._result(progress, "busy", "lease lost"))
            progress.held_at = self.clock()
        else:
            # No write before this post, yet the workspace may have been uninstalled since the
            # last one (the web process purges its ledger): a read, so nothing is posted after.
            with self.database.read() as session:
                held = ledger.still_held(session, claim.delivery_id, progress.owner)
            if not held:
                raise _Stop(self._result(progress, "busy", "delivery gone or lease lost"))
        progress.inflight, progress.maybe_sent = part, True
        try:
            ts = progress.transport.post(
                claim.channel_id,
                message,
                thread_ts=None if part == 0 else progress.parent_ts,
                metadata=metadata_for(claim.delivery_id, part, claim.issue_date.isoformat()),
            )
            progress.answered_at = time.monotonic()
        except NotSentError:
            # It never reached Slack (or Slack refused it with a 429): nothing to look up.
            progress.inflight, progress.maybe_sent = None, False
            raise
        except PermanentError:
            progress.maybe_sent = False  # Slack refused it
            raise
        progress.sent += 1
        return ts

    def _back_off(self, progress: Progress, part: int, exc: AmbiguousError) -> Wait:
        """How long to wait before another try; gives the delivery back after too many."""
        attempts = progress.attempts
        log.warning(
            "delivery %d part %d to %s: %s (attempt %d)",
            progress.id,
            part,
            progress.claim.channel_id,
            exc,
            attempts,
        )
        unreachable = isinstance(exc, NotSentError)
        # Unreachable Slack is not worth long waits: a later run will try again.
        if attempts > (self.unreachable_retries if unreachable else self.ambiguous_retries):
            raise _Stop(self._release(progress, str(exc)))
        delay = min(30.0, 0.5 * 2**attempts)
        return Wait(min(delay, 2.0) if unreachable else delay)

    def _release(self, progress: Progress, error: str) -> DeliveryResult:
        forgotten = self._discard_if_unsent(progress)
        if not forgotten:
            with self.database.write() as session:
                ledger.release(session, progress.claim.delivery_id, progress.owner, error)
        result = self._result(progress, "retry_later", error)
        result.forgotten = forgotten
        return result

    def _fail(self, progress: Progress, error: str) -> DeliveryResult:
        # Not logged here: the worker logs one line per finished delivery (failures at ERROR)
        # and `post` prints its outcome.
        claim = progress.claim
        discarded = self._discard_if_unsent(progress)
        with self.database.write() as session:
            if not discarded:
                ledger.finish(
                    session, claim.delivery_id, progress.owner, ledger.FAILED, self.clock(), error
                )
            ledger.mark_subscription_failing(session, claim.workspace, claim.channel_id, error)
        return self._result(progress, "failed", error)


@dataclass(frozen=True)
class _Claimed:
    """A claim with what the ledger records of its thread, and its workspace's save emoji."""

    claim: ledger.Claim
    recorded: Recorded
    save_emoji: str
    # When the claim noted a new thread's parent (part 0) in flight; None: it did not.
    parent_noted_at: dt.datetime | None = None


def _set_up_claim(
    session: Session,
    claim: ledger.Claim,
    default_emoji: str,
    owner: str,
    now: dt.datetime,
    lease: dt.timedelta,
) -> _Claimed:
    """A fresh claim with its plan (decided now at the first claim), recorded messages and
    save emoji, all read in the claiming transaction; a new thread's parent is noted in flight
    in it too."""
    recorded = read_or_record_plan(session, claim)
    own = once_per_transaction(
        session,
        ("save emoji", claim.workspace),
        lambda: workspace_store.save_emoji(session, claim.workspace),
    )
    noted = None
    new_thread = not claim.messages and claim.inflight_part is None
    sends = bool(recorded.plan.articles) or not recorded.plan.filtered
    # A new thread's first post is its parent. Noted in flight here, the post needs no write of
    # its own before it: at a fan-out's start, thousands of such writes awaited on pool threads
    # would hold the pool when it should be posting.
    if (
        new_thread
        and sends
        and ledger.mark_inflight(session, claim.delivery_id, owner, 0, now, lease)
    ):
        noted = now
    return _Claimed(claim, recorded, own or default_emoji, noted)
