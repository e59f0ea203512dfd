"""Delivering an issue to a channel exactly once: the channel-thread kind of the engine.

Per message: note the part as in flight (committed), post it with metadata naming the delivery
and part, record the ts and the fingerprint of its content (committed). After a crash or an
ambiguous failure the in-flight part is looked up in the channel by its metadata before it is
ever posted again, so a message Slack accepted but we never heard back about is recorded, not
duplicated. Which parts a thread has is decided once, at the first claim (bot/delivery/plan.py);
a thread whose issue was corrected since gets its missing parts, then its changed messages
edited (chat.update), one Slack write each, exactly once (`Deliverer._edit`).
A roll-up (a delivery with a period instead of an issue) is the same protocol over a thread
composed once per claim from the period's figures, never edited (`Deliverer._lay_out`).
One delivery is one coroutine (`Deliverer.deliver`); `post` and the worker share it, and the
worker's fan-out runs thousands of them at once (`Deliverer.deliver_all`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import inspect
import logging
import random
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from bot.clock import Clock, utc_now
from bot.core import rollups
from bot.delivery.engine import Busy, Engine, blocking
from bot.delivery.pacer import Pacer
from bot.delivery.plan import (
    Part,
    Recorded,
    Rendered,
    Thread,
    fixed_thread,
    read_or_record_plan,
    thread,
    unplanned,
)
from bot.delivery.poster import (
    AmbiguousError,
    MessageGoneError,
    NotSentError,
    PartSearch,
    PermanentError,
    UndecidedLookupError,
    metadata_for,
)
from bot.owners import new_owner, ours_to_pace
from bot.slack.rendering import Message
from bot.slack.rollup_rendering import period_title, render_rollup
from bot.store import edits, ledger
from bot.store import workspaces as workspace_store
from bot.store.db import Database, Session, once_per_transaction
from bot.store.ledger import MessageState
from bot.store.queries import get_issue
from bot.workspace import Workspace

log = logging.getLogger(__name__)

Outcome = Literal["posted", "already", "busy", "failed", "retry_later", "no_issue", "skipped"]


class Transport(Protocol):
    """Where deliveries go: Slack (bot.delivery.poster.SlackPoster), or a test's fake.

    `post` raises PermanentError (refused for good), NotSentError (never reached Slack; its
    RateLimitedError on a 429) or AmbiguousError (may have been posted); `find_part` raises
    UndecidedLookupError when it cannot tell whether a part is there. `update` (chat.update)
    raises as `post` does, or MessageGoneError when that one message can no longer be edited.
    """

    async def join(self, channel: str) -> str | None:
        """Join a public channel; the error code when that failed, else None."""

    async def post(
        self, channel: str, message: Message, *, thread_ts: str | None, metadata: dict[str, Any]
    ) -> str:
        """Post one message; its ts."""

    async def find_part(self, search: PartSearch) -> str | None:
        """The ts of a part already in the channel, None when it surely is not there."""

    async def update(
        self, channel: str, ts: str, message: Message, *, metadata: dict[str, Any]
    ) -> None:
        """Edit a posted message (chat.update)."""

    async def find_fingerprint(self, channel: str, ts: str, *, parent_ts: str | None) -> str | None:
        """The fingerprint our last edit left in a message's metadata."""

    async def permalink(self, channel: str, ts: str) -> str | None:
        """A message's URL (chat.getPermalink); None when Slack gives none."""


# Each workspace's transport (posting with that workspace's own bot token). A transport cache
# with an `aclose` coroutine has it awaited when a sync call's event loop ends.
Transports = Callable[[Workspace], Transport]
# Told (messages of the thread Slack has, messages in the thread) before each step of a run.
ProgressReport = Callable[[int, int], None]
# Waits between retries (tests pass a plain function that records the waits).
Backoff = Callable[[float], Awaitable[None] | None]


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
    period: str | None = None  # a roll-up's period (then `issue_date` is None)


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
    # The part last checked ready to post (`Deliverer._hold`) and when, before its turn.
    checked: tuple[int, dt.datetime] | None = None

    @property
    def id(self) -> int:
        """The delivery's id."""
        return self.claim.delivery_id

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


class _Stop(Exception):  # noqa: N818  ends one delivery's coroutine with its result
    def __init__(self, result: DeliveryResult) -> None:
        super().__init__(result.outcome)
        self.result = result


@dataclass
class Deliverer:
    """Sends claimed deliveries through their workspace's Transport, recording everything in the
    ledger, paced by the engine's Pacer (or, without one, the poster's own)."""

    database: Database
    transports: Transports
    clock: Clock = utc_now
    lease: dt.timedelta = dt.timedelta(seconds=15)
    ambiguous_retries: int = 4
    unreachable_retries: int = 2
    backoff: Backoff = asyncio.sleep
    save_emoji: str = "bookmark"
    pacer: Pacer | None = None
    _rendered: weakref.WeakValueDictionary[tuple[dt.date, str], Rendered] = field(
        init=False, default_factory=weakref.WeakValueDictionary
    )

    def __post_init__(self) -> None:
        # Unpaced unless told: 429s are still waited out, per workspace and channel.
        self.engine = Engine(self.database, self.pacer or Pacer(0.0, None), self.clock, self.lease)
        self.keeper = self.engine.lease_keeper(ledger.renew)
        self._active: set[int] = set()

    async def aclose(self) -> None:
        """Close what belongs to the running event loop: Slack sessions, database pool."""
        close = getattr(self.transports, "aclose", None)
        if close is not None:
            await close()
        await self.engine.aclose()

    async def deliver_issue_async(
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

        def ensure(session: Session) -> int | None:
            issue = get_issue(session, issue_date)
            if issue is None:
                return None
            delivery_id = ledger.ensure_delivery(
                session, workspace, channel_id, issue.id, due_at=self.clock(), origin=origin
            )
            if update:
                edits.reopen(session, delivery_id)
            return delivery_id

        delivery_id = await self.engine.write(ensure)
        if delivery_id is None:
            return DeliveryResult("no_issue", channel_id, issue_date)
        return await self.deliver(delivery_id, retry_failed=retry_failed, report=report)

    async def deliver_rollup_async(
        self,
        workspace: Workspace,
        channel_id: str,
        period: str,
        *,
        retry_failed: bool = False,
        origin: str = "manual",
    ) -> DeliveryResult:
        """Post a channel's roll-up of `period` ("2026-W14", "2026-04") unless the ledger says
        it was posted."""
        now = self.clock()
        delivery_id = await self.engine.write(
            lambda s: ledger.ensure_delivery(
                s, workspace, channel_id, None, period=period, due_at=now, origin=origin
            )
        )
        return await self.deliver(delivery_id, retry_failed=retry_failed)

    async def deliver_all(
        self,
        jobs: Iterable[tuple[Workspace, int]],
        on_result: Callable[[DeliveryResult], None] | None = None,
    ) -> list[DeliveryResult]:
        """Send these deliveries (workspace, delivery id), each paced on its own; tells
        `on_result` of each as it finishes. One this engine is sending already is left to it.

        A workspace has only as many under way (claimed) as keep its posting budget busy
        (`Pacer.channels_at_once`): more would post no sooner, only hold memory. A workspace
        another worker is sending in is left to it (`ours_to_pace`): each paces its own
        workspaces, so two workers never post a workspace's budget twice over."""
        mine = [(w, d) for w, d in _round_robin(jobs) if d not in self._active]
        self._active.update(d for _w, d in mine)
        at_once = (self.pacer or self.engine.pacer).channels_at_once()

        async def one(job: tuple[Workspace, int]) -> DeliveryResult:
            workspace, delivery_id = job
            try:
                return await self.deliver(delivery_id, alone_in=workspace)
            finally:
                self._active.discard(delivery_id)

        def crashed(_job: tuple[Workspace, int], exc: BaseException) -> DeliveryResult:
            return DeliveryResult("retry_later", "", None, error=type(exc).__name__)

        def workspace_of(job: tuple[Workspace, int]) -> Workspace:
            return job[0]

        return await self.engine.fan_out(
            mine, one, crashed, on_result, lane=workspace_of, at_once=at_once
        )

    async def deliver(
        self,
        delivery_id: int,
        *,
        retry_failed: bool = False,
        report: ProgressReport | None = None,
        alone_in: Workspace | None = None,
    ) -> DeliveryResult:
        """Claim a delivery and send whatever of it is missing: its missing parts in thread
        order, then its edits, then its end, each recorded as it happens. With `alone_in` (the
        delivery's workspace) it is left to another process sending in that workspace
        (`ours_to_pace`)."""
        started = await self._begin(delivery_id, retry_failed, alone_in)
        if isinstance(started, DeliveryResult):
            return started
        progress = started
        self.keeper.hold(delivery_id, progress.owner)
        try:
            if progress.next_part() is not None:
                # Public channels are joined first: lookups after a crash and save-by-reaction
                # need membership (chat:write.public alone posts, but cannot read history).
                error = await progress.transport.join(progress.claim.channel_id)
                if error:
                    log.info("conversations.join %s: %s", progress.claim.channel_id, error)
            while True:
                if report is not None:
                    total = progress.messages()
                    report(total - progress.remaining(), total)
                part = progress.next_part()
                if part is not None:
                    await self._send(progress, part)
                    continue
                changed = progress.thread.next_edit()
                if changed is None:
                    return await self._complete(progress)
                await self._edit(progress, changed)
        except _Stop as stop:
            return stop.result
        except PermanentError as exc:
            return await self._fail(progress, exc.error)
        finally:
            self.keeper.drop(delivery_id)

    async def _begin(
        self, delivery_id: int, retry_failed: bool, alone_in: Workspace | None = None
    ) -> Progress | DeliveryResult:
        """Claim a delivery and lay out its thread; the result when there is nothing to send.
        With `alone_in` (its workspace), not while another process paces that workspace."""
        owner = new_owner()

        def claim(session: Session, takeover_from: str | None) -> _Claimed | None:
            now = self.clock()
            if (
                alone_in is not None
                and takeover_from is None
                and not ours_to_pace(ledger.workspace_senders(session, alone_in, now))
            ):
                return None
            found = ledger.claim(
                session,
                delivery_id,
                owner,
                now,
                self.lease,
                retry_failed=retry_failed,
                takeover_from=takeover_from,
            )
            if found is None:
                return None
            return _set_up_claim(session, found, self.save_emoji, owner, now, self.lease)

        claimed = await self.engine.claim(
            f"delivery {delivery_id}", claim, lambda s: ledger.holder(s, delivery_id)
        )
        if isinstance(claimed, Busy):
            outcome: Outcome = "busy"
            if claimed.state in (ledger.POSTED, ledger.SKIPPED):
                outcome = "already"
            elif claimed.state == ledger.FAILED:
                outcome = "failed"
            return DeliveryResult(outcome, "", None, holder=claimed.holder)
        claim_ = claimed.claim
        laid_out = await self._lay_out(claimed, owner)
        if isinstance(laid_out, DeliveryResult):
            return laid_out
        progress = Progress(
            claim_,
            owner,
            laid_out,
            self.transports(claim_.workspace),
            claim_.posted,
            claim_.parent_ts or claim_.posted.get(0),
            claim_.inflight_part,
            claim_.inflight_part is not None,
        )
        if claimed.parent_noted_at is not None:  # noted by the claim; Slack cannot hold it yet
            progress.inflight, progress.held_at = 0, claimed.parent_noted_at
        return progress

    async def _lay_out(self, claimed: _Claimed, owner: str) -> Thread | DeliveryResult:
        """The thread a claimed delivery should show: its issue's, or (no issue) its roll-up's;
        the result instead when there is nothing to send."""
        claim = claimed.claim
        if claim.issue_date is None:
            return await self._rollup_thread(claim, claimed.recorded, owner)
        rendered = await self._render(
            claim.issue_date, claimed.recorded.content_hash, claimed.save_emoji
        )
        if rendered is None:  # the issue vanished between claim and send
            return await self._finish_unsent(claim, owner, ledger.FAILED, "issue gone")
        laid_out = thread(rendered, claimed.recorded)
        if laid_out.nothing_matched:
            plan = laid_out.plan
            reason = (
                f"none of the {plan.total} deep dives matched this channel's filter "
                f"({' · '.join(r.describe() for r in plan.rules)}), so nothing was posted"
            )
            return await self._finish_unsent(claim, owner, ledger.SKIPPED, reason)
        return laid_out

    async def _rollup_thread(
        self, claim: ledger.Claim, recorded: Recorded, owner: str
    ) -> Thread | DeliveryResult:
        """A roll-up's thread, composed from its period's figures as they are now, its days
        linked to the channel's daily threads (chat.getPermalink, asked before composing)."""
        try:
            period = rollups.period_named(claim.period or "")
        except ValueError as exc:
            return await self._finish_unsent(claim, owner, ledger.FAILED, str(exc))
        found = await self.engine.read(
            lambda s: rollups.figures(s, claim.workspace, claim.channel_id, period)
        )
        if not found.issues and not claim.messages:
            reason = f"no issues in {period_title(period)}, so nothing was posted"
            return await self._finish_unsent(claim, owner, ledger.SKIPPED, reason)
        transport = self.transports(claim.workspace)
        days = sorted(found.threads)
        urls = await asyncio.gather(
            *(transport.permalink(claim.channel_id, found.threads[day]) for day in days)
        )
        links = {day: url for day, url in zip(days, urls, strict=True) if url}
        return fixed_thread(render_rollup(found, links), recorded)

    async def _finish_unsent(
        self, claim: ledger.Claim, owner: str, state: str, reason: str
    ) -> DeliveryResult:
        """End a claimed delivery that has nothing to send (issue gone, or nothing matched)."""
        now = self.clock()
        await self.engine.write(
            lambda s: ledger.finish(s, claim.delivery_id, owner, state, now, reason)
        )
        outcome: Outcome = "skipped" if state == ledger.SKIPPED else "failed"
        return DeliveryResult(
            outcome, claim.channel_id, claim.issue_date, error=reason, period=claim.period
        )

    async def _render(self, day: dt.date, content_hash: str, save_emoji: str) -> Rendered | None:
        """The issue's messages with a workspace's save emoji, rendered once for all deliveries
        of it under way (weakly held: a later run reads the issue afresh, corrections included)."""
        key = (day, save_emoji)
        rendered = self._rendered.get(key)
        if rendered is not None and rendered.content_hash == content_hash:
            return rendered
        issue = await self.engine.read(lambda s: get_issue(s, day))
        if issue is None:
            return None
        held = self._rendered.get(key)  # another delivery may have rendered it meanwhile
        if held is not None and held.content_hash == content_hash:
            return held
        # Labelled with the hash read at the claim, before this read: the content shown is
        # never older than the version a thread is then marked as synced with.
        rendered = Rendered(issue, content_hash, save_emoji)
        self._rendered[key] = rendered
        return rendered

    def _pacer(self, progress: Progress) -> Pacer:
        own: Pacer | None = getattr(progress.transport, "pacer", None)
        return self.pacer or own or self.engine.pacer

    async def _send(self, progress: Progress, part: Part) -> None:
        """Get one part into Slack (found there, or posted in its turn) and record it."""
        claim = progress.claim
        try:
            # The ledger is made ready once the channel's turn comes and before the workspace's
            # is taken: a turn held through a database round trip is a slot of the workspace's
            # budget left unused.
            ts = await self.engine.paced(
                claim.workspace,
                claim.channel_id,
                lambda: self._send_part(progress, part.part, part.message),
                pacer=self._pacer(progress),
                ready=lambda: self._hold(progress, part.part),
            )
        except UndecidedLookupError as exc:
            # Could not tell whether Slack has the part: posting it could duplicate it, so
            # give the delivery back for a later attempt (the subscription is not failing).
            log.warning("delivery %d part %d: lookup undecided (%s)", progress.id, part.part, exc)
            raise _Stop(await self._release(progress, f"could not check Slack: {exc}")) from None
        except AmbiguousError as exc:
            progress.attempts += 1
            await self._back_off(progress, part.part, exc)
            return
        progress.attempts = 0
        await self._record(progress, part, ts)

    async def _edit(self, progress: Progress, part: Part) -> None:
        """Bring one recorded message to `part`'s content (a corrected issue), exactly once:
        the edit (its new fingerprint) is noted before chat.update and the fingerprint recorded
        after. A rerun after a crash between the two finds the note and reads the message's
        metadata, where the edit left its fingerprint: an edit Slack made is recorded, not made
        twice. chat.update is safe to repeat (the same content twice is one edit), so an
        ambiguous failure is simply tried again."""
        claim, transport = progress.claim, progress.transport
        state, wanted = progress.thread.states[part.part], part.fingerprint
        if state.editing == wanted and await self._edit_made(progress, state, wanted):
            log.info("delivery %d part %d: edit already made", claim.delivery_id, part.part)
            return await self._edited(progress, state, wanted)
        now = self.clock()
        if not await self.engine.write(
            lambda s: edits.mark_editing(
                s, claim.delivery_id, progress.owner, part.part, wanted, now, self.lease
            )
        ):
            raise _Stop(self._result(progress, "busy", "lease lost"))
        progress.held_at = now
        progress.thread.states[part.part] = dataclasses.replace(state, editing=wanted)
        metadata = metadata_for(claim.delivery_id, part.part, claim.label, wanted)

        async def update() -> None:
            await transport.update(claim.channel_id, state.ts, part.message, metadata=metadata)

        try:
            await self.engine.paced(
                claim.workspace, claim.channel_id, update, pacer=self._pacer(progress)
            )
        except MessageGoneError as exc:
            # Deleted in Slack, or too old to edit: nothing to bring up to date there.
            log.warning("delivery %d part %d: %s", claim.delivery_id, part.part, exc)
        except AmbiguousError as exc:
            progress.attempts += 1
            await self._back_off(progress, part.part, AmbiguousError(f"chat.update: {exc}"))
            return
        else:
            progress.edited += 1
        progress.attempts = 0
        await self._edited(progress, state, wanted)

    async def _edit_made(self, progress: Progress, state: MessageState, wanted: str) -> bool:
        """Whether a crashed run's edit reached Slack (read back from the message)."""
        parent = None if state.part == 0 else progress.parent_ts
        try:
            found = await progress.transport.find_fingerprint(
                progress.claim.channel_id, state.ts, parent_ts=parent
            )
        except AmbiguousError:
            return False  # then edit again: the same content twice is one edit
        return found == wanted

    async def _edited(self, progress: Progress, state: MessageState, fingerprint: str) -> None:
        """Record what Slack now shows for the message."""
        delivery_id = progress.id
        await self.engine.write(
            lambda s: ledger.set_fingerprint(s, delivery_id, state.part, fingerprint)
        )
        progress.thread.states[state.part] = dataclasses.replace(
            state, fingerprint=fingerprint, editing=None
        )

    async def _complete(self, progress: Progress) -> DeliveryResult:
        """End the delivery as posted: all its parts are recorded, so whoever holds it now has
        nothing left to post."""
        claim = progress.claim
        completion = ledger.Completion(
            claim.workspace,
            claim.delivery_id,
            progress.owner,
            claim.channel_id,
            self.clock(),
            progress.thread.recorded.content_hash or None,  # a roll-up syncs with no issue
        )
        await self.engine.write(completion)
        return self._result(progress, "posted")

    async def _discard_if_unsent(self, progress: Progress) -> bool:
        """A manual post that Slack accepted nothing of leaves nothing behind (no pending row
        for anyone to send later, and the schedule may still post the issue there)."""
        claim = progress.claim
        if claim.origin != "manual" or progress.posted or progress.maybe_sent:
            return False
        discarded = await self.engine.write(
            lambda s: ledger.discard_unsent(s, claim.delivery_id, progress.owner)
        )
        if discarded:
            log.info("delivery %d: nothing was sent; forgotten", claim.delivery_id)
        return discarded

    async def _record(self, progress: Progress, part: Part, ts: str) -> None:
        """Record a part Slack holds and the fingerprint of its content (committed), so it is
        never posted again, and note the next part in flight in the same write (one write per
        message, not two)."""
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
        if not await self.engine.write(record):
            raise _Stop(self._result(progress, "busy", "lease lost"))
        progress.inflight = None if following is None else following.part
        progress.maybe_sent = False
        progress.held_at = self.clock()
        # Only `posted` learns of it: what Slack shows is this very content, so the part is
        # never one to edit (`Thread.next_edit` looks only at what was recorded before).
        progress.posted[part.part] = ts
        if part.part == 0:
            progress.parent_ts = ts

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
            period=claim.period,
        )

    async def _send_part(self, progress: Progress, part: int, message: Message) -> str:
        """The ts of one part: found in the channel if Slack may have it already, else posted."""
        maybe_there = progress.inflight == part and progress.maybe_sent
        found = await self._find(progress, part) if maybe_there else None
        return found or await self._post(progress, part, message)

    async def _find(self, progress: Progress, part: int) -> str | None:
        """Look an in-flight part up in the channel; None only when Slack surely lacks it."""
        claim = progress.claim
        ts = await progress.transport.find_part(
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

    async def _hold(self, progress: Progress, part: int) -> None:
        """Make sure the ledger lets this part be posted: noted in flight (committed) under a
        lease still ours; `_post` then posts without another database round trip."""
        claim = progress.claim
        # Noted in flight with the previous part's record, and the lease renewed lately enough
        # (by that record or the heartbeat) that it is surely still ours: no second write.
        # Otherwise (first part, a retry, or a heartbeat that failed) note it now, which also
        # checks the lease.
        renewed = self.keeper.renewed_at(claim.delivery_id, progress.owner)
        held_at = max((t for t in (progress.held_at, renewed) if t is not None), default=None)
        now = self.clock()
        fresh = held_at is not None and now - held_at < self.lease / 3
        if progress.inflight != part or not fresh:
            marked = await self.engine.write(
                lambda s: ledger.mark_inflight(
                    s, claim.delivery_id, progress.owner, part, now, self.lease
                )
            )
            if not marked:
                raise _Stop(self._result(progress, "busy", "lease lost"))
            progress.held_at = now
            progress.inflight = part
        else:
            # No write before this post, yet the workspace may have been uninstalled since the
            # last one (the web process purges its ledger): a read, so nothing is posted after.
            held = await self.engine.read(ledger.HeldCheck(claim.delivery_id, progress.owner))
            if not held:
                raise _Stop(self._result(progress, "busy", "delivery gone or lease lost"))
        progress.checked = (part, now)

    async def _post(self, progress: Progress, part: int, message: Message) -> str:
        """Post a part with metadata naming it, checked ready by `_hold` lately (else checked
        again now: a retry after a 429, or a turn that came late)."""
        claim = progress.claim
        checked, progress.checked = progress.checked, None
        if checked is None or checked[0] != part or self.clock() - checked[1] >= self.lease / 3:
            await self._hold(progress, part)
            progress.checked = None
        progress.inflight, progress.maybe_sent = part, True
        try:
            ts = await progress.transport.post(
                claim.channel_id,
                message,
                thread_ts=None if part == 0 else progress.parent_ts,
                metadata=metadata_for(claim.delivery_id, part, claim.label, period=claim.period),
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

    async def _back_off(self, progress: Progress, part: int, exc: AmbiguousError) -> None:
        """Wait before another try; gives the delivery back after too many."""
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
            raise _Stop(await self._release(progress, str(exc)))
        delay = min(30.0, 0.5 * 2**attempts)
        waited = self.backoff(min(delay, 2.0) if unreachable else delay)
        if inspect.isawaitable(waited):
            await waited

    async def _release(self, progress: Progress, error: str) -> DeliveryResult:
        forgotten = await self._discard_if_unsent(progress)
        if not forgotten:
            await self.engine.write(
                lambda s: ledger.release(s, progress.claim.delivery_id, progress.owner, error)
            )
        result = self._result(progress, "retry_later", error)
        result.forgotten = forgotten
        return result

    async def _fail(self, progress: Progress, error: str) -> DeliveryResult:
        # Not logged here: the worker logs one line per finished delivery (failures at ERROR)
        # and `post` prints its outcome.
        claim = progress.claim
        discarded = await self._discard_if_unsent(progress)
        now = self.clock()

        def fail(session: Session) -> None:
            if not discarded:
                ledger.finish(session, claim.delivery_id, progress.owner, ledger.FAILED, now, error)
            ledger.mark_subscription_failing(session, claim.workspace, claim.channel_id, error)

        await self.engine.write(fail)
        return self._result(progress, "failed", error)

    # From synchronous code (`post`, `rollup`, tests): each call in an event loop of its own.
    deliver_issue = blocking(deliver_issue_async)
    deliver_rollup = blocking(deliver_rollup_async)
    run = blocking(deliver)


def _round_robin(jobs: Iterable[tuple[Workspace, int]]) -> list[tuple[Workspace, int]]:
    """Jobs interleaved across workspaces: every workspace starts sending early. The workspaces
    come in an order of this process's own, so two workers started together claim different
    ones first and split the workspaces between them (`ours_to_pace`)."""
    queues: dict[Workspace, list[tuple[Workspace, int]]] = {}
    for job in jobs:
        queues.setdefault(job[0], []).append(job)
    ordered: list[tuple[Workspace, int]] = []
    lanes = list(queues.values())
    random.shuffle(lanes)
    for rank in range(max((len(q) for q in lanes), default=0)):
        ordered.extend(q[rank] for q in lanes if rank < len(q))
    return ordered


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
    rollup = claim.issue_id is None
    recorded = unplanned(claim.messages) if rollup else read_or_record_plan(session, claim)
    own = once_per_transaction(
        session,
        ("save emoji", claim.workspace),
        lambda: workspace_store.save_emoji(session, claim.workspace),
    )
    noted = None
    new_thread = not claim.messages and claim.inflight_part is None
    # A roll-up may turn out to have nothing to post (no issues in its period): not noted.
    sends = not rollup and (bool(recorded.plan.articles) or not recorded.plan.filtered)
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
