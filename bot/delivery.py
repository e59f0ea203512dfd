"""Delivering an issue to a channel exactly once: the one code path of `post` and the worker.

Per message: note the part as in flight (committed), post it with metadata naming the delivery
and part, record the ts (committed). After a crash or an ambiguous failure the in-flight part
is looked up in the channel by its metadata before it is ever posted again, so a message Slack
accepted but we never heard back about is recorded, not duplicated.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

from bot.clock import Clock, utc_now
from bot.lease import LeaseKeeper, is_gone, new_owner
from bot.slack.poster import (
    AmbiguousError,
    NotSentError,
    PartSearch,
    PermanentError,
    RateLimitedError,
    UndecidedLookupError,
    metadata_for,
)
from bot.slack.rendering import Message, issue_messages
from bot.store import ledger
from bot.store import workspaces as workspace_store
from bot.store.db import Database, Session
from bot.store.queries import IssueView, get_issue
from bot.workspace import Workspace

log = logging.getLogger(__name__)

Outcome = Literal["posted", "already", "busy", "failed", "retry_later", "no_issue"]
T = TypeVar("T")


class Committer(Protocol):
    """Runs one unit of ledger work in a write transaction and returns once it is committed
    (the fan-out batches many channels' units into one transaction)."""

    def __call__(self, work: Callable[[Session], T]) -> T:
        """The work's result, committed."""


class Transport(Protocol):
    """Where deliveries go: Slack (bot.slack.poster.SlackPoster), or a test's in-memory fake.

    `post` raises PermanentError (refused for good), NotSentError (never reached Slack) or
    AmbiguousError (may have been posted); `find_part` raises UndecidedLookupError when it
    cannot tell whether a part is there.
    """

    def join(self, channel: str) -> str | None:
        """Join a public channel; the error code when that failed, else None."""

    def post(
        self, channel: str, message: Message, *, thread_ts: str | None, metadata: dict[str, Any]
    ) -> str:
        """Post one message; its ts."""

    def find_part(self, search: PartSearch) -> str | None:
        """The ts of a part already in the channel, None when it surely is not there."""


# Each workspace's transport (posting with that workspace's own bot token).
Transports = Callable[[Workspace], Transport]


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


@dataclass(frozen=True)
class Wait:
    """Send the delivery's next part no sooner than `seconds` from now (backoff or a 429)."""

    seconds: float
    rate_limited: bool = False


# What one step of a delivery did: finished (the result), wait, or None (more parts to send,
# as soon as pacing allows).
Step = DeliveryResult | Wait | None


@dataclass(eq=False)
class _Rendered:
    """An issue and its messages, shared by every delivery of it that is under way."""

    issue: IssueView
    messages: list[Message]
    article_ids: list[int | None]


@dataclass(frozen=True)
class _Claimed:
    """A claim and the save emoji of its workspace (read in the claim's transaction)."""

    claim: ledger.Claim
    save_emoji: str


@dataclass
class Progress:
    """Where one send of a delivery stands."""

    claim: ledger.Claim
    owner: str
    rendered: _Rendered
    transport: Transport
    posted: dict[int, str]
    parent_ts: str | None
    inflight: int | None
    # Whether Slack may hold a part we have not recorded: then the delivery must stay.
    maybe_sent: bool
    sent: int = 0
    attempts: int = 0  # failed tries of the current part
    # When a committed ledger write last showed the lease still ours (the deliverer's clock).
    held_at: dt.datetime | None = None

    @property
    def id(self) -> int:
        """The delivery's id."""
        return self.claim.delivery_id

    @property
    def channel(self) -> str:
        """The channel it goes to."""
        return self.claim.channel_id

    def next_part(self) -> int | None:
        """The first part Slack does not have yet; None when all are recorded."""
        total = len(self.rendered.messages)
        return next((part for part in range(total) if part not in self.posted), None)


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
    save_emoji: str = "bookmark"  # the default; a workspace may have its own
    commit: Committer | None = None

    def __post_init__(self) -> None:
        self.keeper = LeaseKeeper(self.database, self.lease, self.clock)
        # Keyed by (day, save emoji): workspaces with different emojis get their own footers.
        self._rendered: weakref.WeakValueDictionary[tuple[dt.date, str], _Rendered] = (
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
    ) -> DeliveryResult:
        """Post an issue (None: the latest) to a workspace's channel unless the ledger says it
        was posted."""
        with self.database.write() as session:
            issue = get_issue(session, issue_date)
            if issue is None:
                return DeliveryResult("no_issue", channel_id, issue_date)
            delivery_id = ledger.ensure_delivery(
                session, workspace, channel_id, issue.id, due_at=self.clock(), origin=origin
            )
        return self.run(delivery_id, retry_failed=retry_failed)

    def _claimed(self, session: Session, claim: ledger.Claim | None) -> _Claimed | None:
        """A claim with its workspace's save emoji (None: not claimed)."""
        if claim is None:
            return None
        own = workspace_store.save_emoji(session, claim.workspace)
        return _Claimed(claim, own or self.save_emoji)

    def _claim(
        self, delivery_id: int, owner: str, retry_failed: bool
    ) -> _Claimed | tuple[str, str | None]:
        """The claim, or (not claimed) the delivery's state and holder; a holder known to be
        dead is taken over at once, without waiting for its lease to run out."""

        def first(session: Session) -> _Claimed | tuple[str, str | None]:
            now = self.clock()
            found = ledger.claim(
                session, delivery_id, owner, now, self.lease, retry_failed=retry_failed
            )
            claimed = self._claimed(session, found)
            return claimed if claimed is not None else ledger.holder(session, delivery_id)

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
            claimed = self._claimed(session, taken)
            return claimed if claimed is not None else ledger.holder(session, delivery_id)

    def run(self, delivery_id: int, *, retry_failed: bool = False) -> DeliveryResult:
        """Claim a delivery and send whatever of it is missing, here and now."""
        progress = self.begin(delivery_id, retry_failed=retry_failed)
        while not isinstance(progress, DeliveryResult):
            step = self.advance(progress)
            if isinstance(step, DeliveryResult):
                return step
            if step is not None:
                self.backoff(step.seconds)
        return progress

    def begin(
        self, delivery_id: int, *, retry_failed: bool = False, transport: Transport | None = None
    ) -> Progress | DeliveryResult:
        """Claim a delivery and join its channel; the result when there is nothing to send."""
        owner = new_owner()
        claimed = self._claim(delivery_id, owner, retry_failed)
        if isinstance(claimed, tuple):
            state, holder = claimed
            outcome: Outcome = "already" if state in (ledger.POSTED, ledger.SKIPPED) else "busy"
            if state == ledger.FAILED:
                outcome = "failed"
            return DeliveryResult(outcome, "", None, holder=holder)
        claim = claimed.claim
        rendered = self._render(claim.issue_date, claimed.save_emoji)
        if rendered is None:  # the issue vanished between claim and send
            with self.database.write() as session:
                ledger.finish(
                    session, delivery_id, owner, ledger.FAILED, self.clock(), "issue gone"
                )
            return DeliveryResult("failed", claim.channel_id, claim.issue_date, error="issue gone")
        progress = Progress(
            claim,
            owner,
            rendered,
            transport or self.transports(claim.workspace),
            dict(claim.posted),
            claim.parent_ts or claim.posted.get(0),
            claim.inflight_part,
            claim.inflight_part is not None,
        )
        self.keeper.hold(delivery_id, owner)
        # Public channels are joined first: lookups after a crash and save-by-reaction need
        # membership (chat:write.public alone posts, but cannot read history or get events).
        error = progress.transport.join(claim.channel_id)
        if error:
            log.info("conversations.join %s: %s", claim.channel_id, error)
        return progress

    def _render(self, day: dt.date, save_emoji: str) -> _Rendered | None:
        """The issue's messages with a workspace's save emoji, rendered once for all deliveries
        of it under way (weakly held: a later run reads the issue afresh, corrections included)."""
        key = (day, save_emoji)
        with self._rendered_lock:
            rendered = self._rendered.get(key)
        if rendered is not None:
            return rendered
        with self.database.read() as session:
            issue = get_issue(session, day)
        if issue is None:
            return None
        article_ids: list[int | None] = [None, *(a.id for a in issue.articles), None]
        rendered = _Rendered(issue, issue_messages(issue, save_emoji), article_ids)
        with self._rendered_lock:
            return self._rendered.setdefault(key, rendered)

    def advance(self, progress: Progress) -> Step:
        """Send the next missing part (at most one post); finish the delivery after the last."""
        try:
            step = self._step(progress)
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

    def _step(self, progress: Progress) -> Step:
        part = progress.next_part()
        if part is not None:
            try:
                ts = self._send_part(progress, part, progress.rendered.messages[part])
            except RateLimitedError as exc:
                return Wait(exc.retry_after, rate_limited=True)
            except UndecidedLookupError as exc:
                # Could not tell whether Slack has the part: posting it could duplicate it, so
                # give the delivery back for a later attempt (the subscription is not failing).
                log.warning("delivery %d part %d: lookup undecided (%s)", progress.id, part, exc)
                raise _Stop(self._release(progress, f"could not check Slack: {exc}")) from None
            except AmbiguousError as exc:
                progress.attempts += 1
                return self._back_off(progress, part, exc)
            progress.attempts = 0
            self._record(progress, part, ts, progress.rendered.article_ids[part])
            if progress.next_part() is not None:
                return None
        return self._complete(progress)

    def _complete(self, progress: Progress) -> DeliveryResult:
        claim = progress.claim

        def done(session: Session) -> None:
            ledger.finish(session, claim.delivery_id, progress.owner, ledger.POSTED, self.clock())
            ledger.mark_subscription_failing(session, claim.workspace, claim.channel_id, None)

        self._write(done)
        return self._result(progress, "posted")

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

    def _record(self, progress: Progress, part: int, ts: str, article_id: int | None) -> None:
        """Record a part Slack holds (committed), so it is never posted again, and note the
        next part in flight in the same write (one write per message, not two)."""
        claim = progress.claim
        following = next(
            (
                p
                for p in range(part + 1, len(progress.rendered.messages))
                if p not in progress.posted
            ),
            None,
        )
        ahead = None if following is None else (following, self.clock() + self.lease)
        recorded = self._write(
            lambda session: ledger.record_part(
                session,
                claim.delivery_id,
                progress.owner,
                part,
                claim.channel_id,
                ts,
                article_id,
                next_inflight=ahead,
            )
        )
        if not recorded:
            raise _Stop(self._result(progress, "busy", "lease lost"))
        progress.inflight, progress.maybe_sent = following, False
        progress.held_at = self.clock()
        progress.posted[part] = ts
        if part == 0:
            progress.parent_ts = ts

    def _result(
        self, progress: Progress, outcome: Outcome, error: str | None = None
    ) -> DeliveryResult:
        claim = progress.claim
        return DeliveryResult(outcome, claim.channel_id, claim.issue_date, progress.sent, error)

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
        # Noted in flight with the previous part's record, lately enough that the lease is
        # surely still ours: no second write. Otherwise (first part, a retry, or a long wait in
        # the workspace's lane) note it now, which also checks the lease.
        held_at = progress.held_at
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
        progress.inflight, progress.maybe_sent = part, True
        try:
            ts = progress.transport.post(
                claim.channel_id,
                message,
                thread_ts=None if part == 0 else progress.parent_ts,
                metadata=metadata_for(claim.delivery_id, part, claim.issue_date.isoformat()),
            )
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
        claim = progress.claim
        log.error("delivery %d to %s stopped: %s", claim.delivery_id, claim.channel_id, error)
        discarded = self._discard_if_unsent(progress)
        with self.database.write() as session:
            if not discarded:
                ledger.finish(
                    session, claim.delivery_id, progress.owner, ledger.FAILED, self.clock(), error
                )
            ledger.mark_subscription_failing(session, claim.workspace, claim.channel_id, error)
        return self._result(progress, "failed", error)
