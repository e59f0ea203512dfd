"""Delivering an issue to a channel exactly once: the one code path of `post` and the worker.

Per message: note the part as in flight (committed), post it with metadata naming the delivery
and part, record the ts (committed). After a crash or an ambiguous failure the in-flight part
is looked up in the channel by its metadata before it is ever posted again, so a message Slack
accepted but we never heard back about is recorded, not duplicated.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from bot.clock import Clock, utc_now
from bot.core.workspace import Workspace
from bot.delivery_edits import EditStoppedError, Target, ThreadEditor
from bot.delivery_plan import Thread, prepare
from bot.lease import LeaseKeeper, is_gone, new_owner
from bot.slack.poster import (
    AmbiguousError,
    NotSentError,
    PermanentError,
    UndecidedLookupError,
    metadata_for,
)
from bot.slack.rendering import Message
from bot.store import edits, ledger
from bot.store.db import Database
from bot.store.queries import IssueView, get_issue

log = logging.getLogger(__name__)

Outcome = Literal["posted", "already", "busy", "failed", "retry_later", "no_issue", "skipped"]


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

    def find_part(
        self,
        channel: str,
        *,
        parent_ts: str | None,
        delivery_id: int,
        part: int,
        oldest: float,
    ) -> str | None:
        """The ts of a part already in the channel, None when it surely is not there."""

    def update(self, channel: str, ts: str, message: Message, *, metadata: dict[str, Any]) -> None:
        """Edit a posted message (chat.update)."""

    def find_fingerprint(self, channel: str, ts: str, *, parent_ts: str | None) -> str | None:
        """The fingerprint our last edit left in a message's metadata."""


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


@dataclass
class _Progress:
    """Where one send of a delivery stands."""

    claim: ledger.Claim
    owner: str
    issue: IssueView
    posted: dict[int, str]
    parent_ts: str | None
    inflight: int | None
    # Whether Slack may hold a part we have not recorded: then the delivery must stay.
    maybe_sent: bool
    sent: int = 0
    edited: int = 0

    @property
    def id(self) -> int:
        """The delivery's id."""
        return self.claim.delivery_id


class _Stop(Exception):  # noqa: N818  control flow inside _send, never escapes it
    def __init__(self, result: DeliveryResult) -> None:
        super().__init__(result.outcome)
        self.result = result


@dataclass
class Deliverer:
    """Sends claimed deliveries through a Transport, recording everything in the ledger."""

    database: Database
    poster: Transport
    clock: Clock = utc_now
    lease: dt.timedelta = dt.timedelta(seconds=15)
    ambiguous_retries: int = 4
    unreachable_retries: int = 2
    backoff: Callable[[float], None] = time.sleep
    save_emoji: str = "bookmark"
    # Whose channel filters apply (None: the one workspace of a single-workspace deployment).
    workspace: Workspace | None = None

    def __post_init__(self) -> None:
        self.keeper = LeaseKeeper(self.database, self.lease, self.clock)
        self.editor = ThreadEditor(
            self.database, self.poster, self.clock, self.lease, backoff=self.backoff
        )

    def deliver_issue(
        self,
        channel_id: str,
        issue_date: dt.date | None,
        *,
        retry_failed: bool = False,
        origin: str = "manual",
        update: bool = False,
    ) -> DeliveryResult:
        """Post an issue (None: the latest) to a channel unless the ledger says it was posted;
        `update`: a posted thread whose issue was corrected since is brought up to date."""
        with self.database.write() as session:
            issue = get_issue(session, issue_date)
            if issue is None:
                return DeliveryResult("no_issue", channel_id, issue_date)
            delivery_id = ledger.ensure_delivery(
                session, channel_id, issue.id, due_at=self.clock(), origin=origin
            )
            if update:
                edits.reopen(session, delivery_id)
        return self.run(delivery_id, retry_failed=retry_failed)

    def _claim(
        self, delivery_id: int, owner: str, retry_failed: bool
    ) -> ledger.Claim | tuple[str, str | None]:
        """The claim, or (not claimed) the delivery's state and holder; a holder known to be
        dead is taken over at once, without waiting for its lease to run out."""
        with self.database.write() as session:
            claim = ledger.claim(
                session, delivery_id, owner, self.clock(), self.lease, retry_failed=retry_failed
            )
            if claim is not None:
                return claim
            state, holder = ledger.holder(session, delivery_id)
        if state != ledger.SENDING or not is_gone(holder):
            return state, holder
        log.warning("delivery %d: its sender %s is gone; taking over", delivery_id, holder)
        with self.database.write() as session:
            claim = ledger.claim(
                session,
                delivery_id,
                owner,
                self.clock(),
                self.lease,
                retry_failed=retry_failed,
                takeover_from=holder,
            )
            if claim is not None:
                return claim
            return ledger.holder(session, delivery_id)

    def run(self, delivery_id: int, *, retry_failed: bool = False) -> DeliveryResult:
        """Claim a delivery and send whatever of it is missing."""
        owner = new_owner()
        claim = self._claim(delivery_id, owner, retry_failed)
        if isinstance(claim, tuple):
            state, holder = claim
            outcome: Outcome = "already" if state in (ledger.POSTED, ledger.SKIPPED) else "busy"
            if state == ledger.FAILED:
                outcome = "failed"
            return DeliveryResult(outcome, "", None, holder=holder)
        with self.database.read() as session:
            issue = get_issue(session, claim.issue_date)
        if issue is None:  # the issue vanished between claim and send
            with self.database.write() as session:
                ledger.finish(
                    session, delivery_id, owner, ledger.FAILED, self.clock(), "issue gone"
                )
            return DeliveryResult("failed", claim.channel_id, claim.issue_date, error="issue gone")
        progress = _Progress(
            claim,
            owner,
            issue,
            dict(claim.posted),
            claim.parent_ts or claim.posted.get(0),
            claim.inflight_part,
            claim.inflight_part is not None,
        )
        self.keeper.hold(delivery_id, owner)
        try:
            result = self._send(progress)
        finally:
            self.keeper.drop(delivery_id)
        return result

    def _discard_if_unsent(self, progress: _Progress) -> bool:
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

    def _send(self, progress: _Progress) -> DeliveryResult:
        claim, issue = progress.claim, progress.issue
        channel = claim.channel_id
        # Public channels are joined first: lookups after a crash and save-by-reaction need
        # membership (chat:write.public alone posts, but cannot read history or get events).
        error = self.poster.join(channel)
        if error:
            log.info("conversations.join %s: %s", channel, error)
        thread = prepare(
            self.database,
            claim.delivery_id,
            self.workspace,
            channel,
            issue.date,
            save_emoji=self.save_emoji,
        )
        if thread is None or thread.nothing_matched:
            return self._skip(progress, thread)
        try:
            self._post_missing(progress, thread)
            progress.edited = self.editor.run(self._target(progress), thread.parts, thread.states)
        except _Stop as stop:
            return stop.result
        except EditStoppedError as exc:
            if exc.lease_lost:
                return self._result(progress, "busy", str(exc))
            return self._release(progress, str(exc))
        except PermanentError as exc:
            return self._fail(progress, exc.error)
        with self.database.write() as session:
            ledger.finish(session, claim.delivery_id, progress.owner, ledger.POSTED, self.clock())
            ledger.mark_subscription_failing(session, channel, None)
            edits.mark_synced(session, claim.delivery_id, thread.content_hash)
        return self._result(progress, "posted")

    def _post_missing(self, progress: _Progress, thread: Thread) -> None:
        """Post the parts Slack does not hold yet, in order (a correction's additions last)."""
        for part in thread.parts:
            if part.part not in progress.posted and not part.removed:
                ts = self._send_part(progress, part.part, part.message)
                self._record(progress, part.part, ts, part.article_id, part.fingerprint)
                thread.states[part.part] = edits.MessageState(
                    part.part, ts, part.article_id, part.fingerprint, None
                )

    def _target(self, progress: _Progress) -> Target:
        claim = progress.claim
        day = claim.issue_date.isoformat()
        return Target(claim.delivery_id, progress.owner, claim.channel_id, day, progress.parent_ts)

    def _skip(self, progress: _Progress, thread: Thread | None) -> DeliveryResult:
        """Nothing to post: the issue is gone, or no deep dive matches the channel's filter."""
        reason = "issue gone"
        state = ledger.FAILED
        if thread is not None:
            state = ledger.SKIPPED
            reason = (
                f"none of the {thread.plan.total} deep dives matched this channel's filter "
                f"({' · '.join(r.describe() for r in thread.plan.rules)}), so nothing was posted"
            )
        with self.database.write() as session:
            ledger.finish(session, progress.id, progress.owner, state, self.clock(), reason)
        outcome: Outcome = "skipped" if thread is not None else "failed"
        return self._result(progress, outcome, reason)

    def _record(
        self,
        progress: _Progress,
        part: int,
        ts: str,
        article_id: int | None,
        fingerprint: str | None = None,
    ) -> None:
        """Record a part Slack holds (committed), so it is never posted again."""
        with self.database.write() as session:
            if not ledger.record_part(
                session,
                progress.id,
                progress.owner,
                part,
                progress.claim.channel_id,
                ts,
                article_id,
            ):
                raise _Stop(self._result(progress, "busy", "lease lost"))
            if fingerprint is not None:
                edits.set_fingerprint(session, progress.id, part, fingerprint)
        progress.inflight, progress.maybe_sent = None, False
        progress.posted[part] = ts
        if part == 0:
            progress.parent_ts = ts

    def _result(
        self, progress: _Progress, outcome: Outcome, error: str | None = None
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

    def _send_part(self, progress: _Progress, part: int, message: Message) -> str:
        """The ts of one part: found in the channel if Slack may have it already, else posted
        (ambiguous failures retried with backoff, then the delivery is released)."""
        attempts = 0
        while True:
            try:
                found = self._find(progress, part) if progress.inflight == part else None
                return found or self._post(progress, part, message)
            except UndecidedLookupError as exc:
                # Could not tell whether Slack has the part: posting it could duplicate it, so
                # give the delivery back for a later attempt (the subscription is not failing).
                log.warning("delivery %d part %d: lookup undecided (%s)", progress.id, part, exc)
                raise _Stop(self._release(progress, f"could not check Slack: {exc}")) from None
            except AmbiguousError as exc:
                attempts += 1
                self._back_off(progress, part, exc, attempts)

    def _find(self, progress: _Progress, part: int) -> str | None:
        """Look an in-flight part up in the channel; None only when Slack surely lacks it."""
        claim = progress.claim
        ts = self.poster.find_part(
            claim.channel_id,
            parent_ts=None if part == 0 else progress.parent_ts,
            delivery_id=claim.delivery_id,
            part=part,
            oldest=claim.created_at.timestamp() - 60,
        )
        if ts is not None:
            log.info("found part %d of delivery %d already in Slack", part, claim.delivery_id)
        else:
            progress.maybe_sent = False
        return ts

    def _post(self, progress: _Progress, part: int, message: Message) -> str:
        """Note the part as in flight (committed), then post it with metadata naming it."""
        claim = progress.claim
        with self.database.write() as session:
            if not ledger.mark_inflight(
                session, claim.delivery_id, progress.owner, part, self.clock(), self.lease
            ):
                raise _Stop(self._result(progress, "busy", "lease lost"))
        progress.inflight, progress.maybe_sent = part, True
        try:
            ts = self.poster.post(
                claim.channel_id,
                message,
                thread_ts=None if part == 0 else progress.parent_ts,
                metadata=metadata_for(claim.delivery_id, part, claim.issue_date.isoformat()),
            )
        except (PermanentError, NotSentError):
            progress.maybe_sent = False  # Slack refused it, or never saw it
            raise
        progress.sent += 1
        return ts

    def _back_off(self, progress: _Progress, part: int, exc: AmbiguousError, attempts: int) -> None:
        """Wait before another try, or give the delivery back after too many."""
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
        if unreachable:
            progress.inflight = None  # nothing to look up: it never reached Slack
            delay = min(delay, 2.0)
        self.backoff(delay)

    def _release(self, progress: _Progress, error: str) -> DeliveryResult:
        forgotten = self._discard_if_unsent(progress)
        if not forgotten:
            with self.database.write() as session:
                ledger.release(session, progress.claim.delivery_id, progress.owner, error)
        result = self._result(progress, "retry_later", error)
        result.forgotten = forgotten
        return result

    def _fail(self, progress: _Progress, error: str) -> DeliveryResult:
        claim = progress.claim
        log.error("delivery %d to %s stopped: %s", claim.delivery_id, claim.channel_id, error)
        discarded = self._discard_if_unsent(progress)
        with self.database.write() as session:
            if not discarded:
                ledger.finish(
                    session, claim.delivery_id, progress.owner, ledger.FAILED, self.clock(), error
                )
            ledger.mark_subscription_failing(session, claim.channel_id, error)
        return self._result(progress, "failed", error)
