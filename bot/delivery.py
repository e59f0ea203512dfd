"""Delivering an issue to a channel exactly once: the one code path of `post` and the worker.

Per message: note the part as in flight (committed), post it with metadata naming the delivery
and part, record the ts (committed). After a crash or an ambiguous failure the in-flight part
is looked up in the channel by its metadata before it is ever posted again, so a message Slack
accepted but we never heard back about is recorded, not duplicated.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from bot.slack.poster import AmbiguousError, PermanentError, SlackPoster, metadata_for
from bot.slack.rendering import issue_messages
from bot.store import ledger
from bot.store.db import Database
from bot.store.queries import IssueView, get_issue
from bot.store.tables import DeliveryRow

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
Outcome = Literal["posted", "already", "busy", "failed", "retry_later", "no_issue"]


def utc_now() -> dt.datetime:
    """The real clock."""
    return dt.datetime.now(dt.UTC)


def new_owner() -> str:
    """A lease owner id unique to this process and call."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class DeliveryResult:
    """What one delivery attempt did."""

    outcome: Outcome
    channel_id: str
    issue_date: dt.date | None
    posted: int = 0
    error: str | None = None


@dataclass
class Deliverer:
    """Sends claimed deliveries through a SlackPoster, recording everything in the ledger."""

    database: Database
    poster: SlackPoster
    clock: Clock = utc_now
    lease: dt.timedelta = dt.timedelta(seconds=60)
    ambiguous_retries: int = 4
    backoff: Callable[[float], None] = time.sleep
    save_emoji: str = "bookmark"

    def deliver_issue(
        self, channel_id: str, issue_date: dt.date | None, *, retry_failed: bool = False
    ) -> DeliveryResult:
        """Post an issue (None: the latest) to a channel unless the ledger says it was posted."""
        with self.database.write() as session:
            issue = get_issue(session, issue_date)
            if issue is None:
                return DeliveryResult("no_issue", channel_id, issue_date)
            delivery_id = ledger.ensure_delivery(session, channel_id, issue.id, due_at=self.clock())
        return self.run(delivery_id, retry_failed=retry_failed)

    def run(self, delivery_id: int, *, retry_failed: bool = False) -> DeliveryResult:
        """Claim a delivery and send whatever of it is missing."""
        owner = new_owner()
        with self.database.write() as session:
            claim = ledger.claim(
                session, delivery_id, owner, self.clock(), self.lease, retry_failed=retry_failed
            )
            if claim is None:
                row_state = session.get(DeliveryRow, delivery_id)
                state = row_state.state if row_state else None
                channel = row_state.channel_id if row_state else ""
        if claim is None:
            outcome: Outcome = "already" if state in (ledger.POSTED, ledger.SKIPPED) else "busy"
            if state == ledger.FAILED:
                outcome = "failed"
            return DeliveryResult(outcome, channel, None)
        with self.database.read() as session:
            issue = get_issue(session, claim.issue_date)
        if issue is None:  # the issue vanished between claim and send
            with self.database.write() as session:
                ledger.finish(
                    session, delivery_id, owner, ledger.FAILED, self.clock(), "issue gone"
                )
            return DeliveryResult("failed", claim.channel_id, claim.issue_date, error="issue gone")
        return self._send(claim, issue, owner)

    def _send(self, claim: ledger.Claim, issue: IssueView, owner: str) -> DeliveryResult:
        channel = claim.channel_id
        messages = issue_messages(issue, self.save_emoji)
        article_ids: list[int | None] = [None, *(a.id for a in issue.articles), None]
        posted = dict(claim.posted)
        parent_ts = claim.parent_ts or posted.get(0)
        inflight = claim.inflight_part
        sent = 0
        for part, message in enumerate(messages):
            if part in posted:
                continue
            if part > 0 and parent_ts is None:
                break  # cannot happen: part 0 is always first
            attempts = 0
            while True:
                try:
                    if inflight == part:
                        ts = self.poster.find_part(
                            channel,
                            parent_ts=None if part == 0 else parent_ts,
                            delivery_id=claim.delivery_id,
                            part=part,
                            oldest=claim.created_at.timestamp() - 60,
                        )
                        if ts is not None:
                            log.info(
                                "found part %d of delivery %d already in %s",
                                part,
                                claim.delivery_id,
                                channel,
                            )
                            break
                    with self.database.write() as session:
                        if not ledger.mark_inflight(
                            session, claim.delivery_id, owner, part, self.clock(), self.lease
                        ):
                            return DeliveryResult("busy", channel, issue.date, sent, "lease lost")
                    inflight = part
                    ts = self.poster.post(
                        channel,
                        message,
                        thread_ts=None if part == 0 else parent_ts,
                        metadata=metadata_for(claim.delivery_id, part, issue.date.isoformat()),
                    )
                    sent += 1
                    break
                except PermanentError as exc:
                    return self._fail(claim, owner, exc.error, issue.date, sent)
                except AmbiguousError as exc:
                    attempts += 1
                    log.warning(
                        "delivery %d part %d to %s: %s (attempt %d)",
                        claim.delivery_id,
                        part,
                        channel,
                        exc,
                        attempts,
                    )
                    if attempts > self.ambiguous_retries:
                        with self.database.write() as session:
                            ledger.release(session, claim.delivery_id, owner, str(exc))
                        return DeliveryResult("retry_later", channel, issue.date, sent, str(exc))
                    self.backoff(min(30.0, 0.5 * 2**attempts))
            with self.database.write() as session:
                if not ledger.record_part(
                    session, claim.delivery_id, owner, part, channel, ts, article_ids[part]
                ):
                    return DeliveryResult("busy", channel, issue.date, sent, "lease lost")
            inflight = None
            posted[part] = ts
            if part == 0:
                parent_ts = ts
        with self.database.write() as session:
            ledger.finish(session, claim.delivery_id, owner, ledger.POSTED, self.clock())
            ledger.mark_subscription_failing(session, channel, None)
        return DeliveryResult("posted", channel, issue.date, sent)

    def _fail(
        self, claim: ledger.Claim, owner: str, error: str, date: dt.date, sent: int
    ) -> DeliveryResult:
        log.error("delivery %d to %s stopped: %s", claim.delivery_id, claim.channel_id, error)
        with self.database.write() as session:
            ledger.finish(session, claim.delivery_id, owner, ledger.FAILED, self.clock(), error)
            ledger.mark_subscription_failing(session, claim.channel_id, error)
        return DeliveryResult("failed", claim.channel_id, date, sent, error)
