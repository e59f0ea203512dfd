"""Telling followers: match new articles, then send each follower DM exactly once.

Like channel deliveries (bot/delivery/deliverer.py): a DM is claimed with a lease, marked in flight
(committed) before chat.postMessage, and its ts recorded after. After a crash the in-flight DM
is looked up in the person's DM channel by its metadata before it is ever posted again; when
that lookup cannot tell, the DM is released for a later attempt, never re-posted blindly.
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from bot.clock import Clock, utc_now
from bot.core import follows
from bot.delivery.dm_transports import DirectMessenger, DmPacer, FollowerGoneError, dm_metadata
from bot.delivery.lease import LeaseKeeper
from bot.delivery.poster import AmbiguousError, NotSentError, PermanentError, UndecidedLookupError
from bot.owners import is_gone, new_owner
from bot.slack.rendering import DmArticle, render_follow_dm
from bot.store import dm_ledger
from bot.store.db import Database, Session
from bot.store.queries import articles_by_ids
from bot.workspace import Workspace

log = logging.getLogger(__name__)

DmOutcome = Literal["sent", "found", "busy", "retry_later", "failed", "stopped", "skipped"]
# Threads that send DMs, one workspace each at a time (each workspace is paced on its own).
WORKSPACE_CONCURRENCY = 16


@dataclass
class FollowerDms:
    """Matches new articles against follows and sends the follower DMs, once each."""

    database: Database
    messengers: Callable[[Workspace], DirectMessenger]
    clock: Clock = utc_now
    lease: dt.timedelta = dt.timedelta(seconds=15)
    recent_days: float = 2.0
    pacer: DmPacer | None = None  # the messengers' pacer: which workspace is due first
    refresh_seconds: float = 15.0  # how often a run under way looks for DMs created since

    def __post_init__(self) -> None:
        # A live sender keeps its leases fresh however slowly Slack answers, so a DM is only
        # ever taken over from a sender that is gone.
        self.keeper = LeaseKeeper(self.database, self.lease, self.clock, dm_ledger.renew_dms)

    def run(self) -> list[DmOutcome]:
        """Match what arrived, then send every open DM."""
        self.match()
        return self.send_open()

    def match(self) -> int:
        """Match the articles that arrived against every follow; the DMs it created."""
        created = follows.match_new(self.database, self.clock(), self.recent_days)
        if created:
            log.info("follows: %d new direct messages to send", created)
        return created

    def send_open(self) -> list[DmOutcome]:
        """Send the open DMs: one at a time per workspace (paced), many workspaces at once.
        DMs created meanwhile (a new issue matched during a long, paced backlog) join the run
        within `refresh_seconds`."""
        queues = self._sendable()
        if not queues:
            return []
        turns = _Turns(queues, self.pacer)
        workers = WORKSPACE_CONCURRENCY
        refreshed = [time.monotonic()]
        refreshing = threading.Lock()

        def refresh() -> None:
            if time.monotonic() - refreshed[0] < self.refresh_seconds:
                return
            if refreshing.acquire(blocking=False):  # one sender thread looks, not all
                try:
                    refreshed[0] = time.monotonic()
                    turns.add(self._sendable())
                finally:
                    refreshing.release()

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dm") as pool:
            done = list(pool.map(lambda _n: self._take_turns(turns, refresh), range(workers)))
        return [outcome for outcomes in done for outcome in outcomes]

    def _sendable(self) -> dict[Workspace, list[int]]:
        """Open DMs per workspace, leaving out those a live sender holds."""
        now = self.clock()
        with self.database.read() as session:
            open_dms = dm_ledger.open_dms(session)
        queues: dict[Workspace, list[int]] = defaultdict(list)
        for dm in open_dms:
            held = dm.state == dm_ledger.SENDING and dm.lease_until and dm.lease_until >= now
            if held and not is_gone(dm.lease_owner):
                continue
            queues[dm.workspace].append(dm.id)
        return queues

    def _take_turns(self, turns: _Turns, refresh: Callable[[], None]) -> list[DmOutcome]:
        """One sender thread: the workspace whose next DM is due soonest, one DM, and again."""
        outcomes: list[DmOutcome] = []
        while (turn := turns.next()) is not None:
            try:
                refresh()
            except Exception:  # the run goes on with what it has
                log.exception("follows: looking for new DMs failed")
            workspace, message_id = turn
            try:
                messenger = self.messengers(workspace)
            except Exception:  # no token (not installed): its DMs wait for a later run
                log.warning("follows: no Slack client for workspace %s", workspace)
                turns.drop(workspace)
                continue
            try:
                outcomes.append(self.send(message_id, messenger))
            except Exception:  # one person's trouble must not stop the others
                log.exception("follower DM %d crashed", message_id)
                outcomes.append("retry_later")
            finally:
                turns.done(workspace)
        return outcomes

    def _claim(self, message_id: int, owner: str) -> dm_ledger.DmClaim | None:
        with self.database.write() as session:
            claim = dm_ledger.claim_dm(session, message_id, owner, self.clock(), self.lease)
            if claim is not None:
                return claim
            state, holder = dm_ledger.dm_holder(session, message_id)
        if state != dm_ledger.SENDING or not is_gone(holder):
            return None
        log.warning("follower DM %d: its sender %s is gone; taking over", message_id, holder)
        with self.database.write() as session:
            return dm_ledger.claim_dm(
                session, message_id, owner, self.clock(), self.lease, takeover_from=holder
            )

    def send(self, message_id: int, messenger: DirectMessenger) -> DmOutcome:
        """Claim one DM and send it unless Slack has it already."""
        owner = new_owner()
        claim = self._claim(message_id, owner)
        if claim is None:
            return "busy"
        self.keeper.hold(claim.id, owner)
        try:
            return self._send(claim, owner, messenger)
        finally:
            self.keeper.drop(claim.id)

    def _send(self, claim: dm_ledger.DmClaim, owner: str, messenger: DirectMessenger) -> DmOutcome:
        try:
            if claim.inflight:
                found = self._find(claim, messenger)
                if found is not None:
                    return self._record(claim, owner, *found, outcome="found")
            return self._post(claim, owner, messenger)
        except UndecidedLookupError as exc:
            log.warning("follower DM %d: could not check Slack (%s)", claim.id, exc)
            return self._release(claim, owner, f"could not check Slack: {exc}")
        except FollowerGoneError as exc:
            return self._stop(claim, owner, exc.error)
        except PermanentError as exc:
            return self._finish(claim, owner, dm_ledger.FAILED, exc.error)

    def _find(self, claim: dm_ledger.DmClaim, messenger: DirectMessenger) -> tuple[str, str] | None:
        """(channel, ts) of the DM if Slack holds it; None only when it surely does not."""
        channel = claim.channel_id
        if channel is None:
            with self.database.read() as session:
                channel = dm_ledger.follower_dm_channel(session, claim.workspace, claim.user_id)
        if channel is None:
            channel = messenger.open_dm(claim.user_id)
        ts = messenger.find(channel, claim.id, claim.created_at.timestamp() - 60)
        return (channel, ts) if ts is not None else None

    def _post(self, claim: dm_ledger.DmClaim, owner: str, messenger: DirectMessenger) -> DmOutcome:
        with self.database.read() as session:
            if dm_ledger.is_stopped(session, claim.workspace, claim.user_id):
                return self._finish(claim, owner, dm_ledger.SKIPPED, "follower stopped")
            items = self._items(session, claim, messenger)
            day = dm_ledger.issue_date(session, claim.issue_id)
        if not items or day is None:
            return self._finish(claim, owner, dm_ledger.SKIPPED, "its articles left the archive")
        message = render_follow_dm(day, items)
        with self.database.write() as session:
            if not dm_ledger.mark_dm_inflight(session, claim.id, owner, self.clock(), self.lease):
                return "busy"
        try:
            channel, ts = messenger.post(
                claim.user_id, message, dm_metadata(claim.id, day.isoformat())
            )
        except NotSentError as exc:
            return self._release(claim, owner, str(exc) or type(exc).__name__, sent=False)
        except AmbiguousError as exc:
            # It may be in Slack: the in-flight mark stays, so the next attempt looks first.
            return self._release(claim, owner, str(exc) or type(exc).__name__)
        return self._record(claim, owner, channel, ts, outcome="sent")

    def _items(
        self, session: Session, claim: dm_ledger.DmClaim, messenger: DirectMessenger
    ) -> list[DmArticle]:
        articles = articles_by_ids(session, list(claim.article_ids))
        replies = dm_ledger.thread_replies(session, claim.workspace, [a.id for a in articles])
        return [
            DmArticle(a, self._thread_link(replies.get(a.id, []), claim.user_id, messenger))
            for a in articles
        ]

    def _thread_link(
        self, replies: list[tuple[str, str]], user_id: str, messenger: DirectMessenger
    ) -> str | None:
        """The permalink of the article's reply in a channel the person is in (None: no such
        channel, or membership could not be told)."""
        for channel, ts in replies:
            if messenger.is_member(channel, user_id):
                return messenger.permalink(channel, ts)
        return None

    def _record(
        self, claim: dm_ledger.DmClaim, owner: str, channel: str, ts: str, *, outcome: DmOutcome
    ) -> DmOutcome:
        with self.database.write() as session:
            if not dm_ledger.record_dm(session, claim.id, owner, channel, ts, self.clock()):
                return "busy"
            dm_ledger.remember_dm_channel(session, claim.workspace, claim.user_id, channel)
        return outcome

    def _release(
        self, claim: dm_ledger.DmClaim, owner: str, error: str, *, sent: bool = True
    ) -> DmOutcome:
        with self.database.write() as session:
            if not sent:
                dm_ledger.clear_dm_inflight(session, claim.id, owner)
            dm_ledger.release_dm(session, claim.id, owner, error)
        return "retry_later"

    def _finish(self, claim: dm_ledger.DmClaim, owner: str, state: str, error: str) -> DmOutcome:
        with self.database.write() as session:
            dm_ledger.finish_dm(session, claim.id, owner, state, error, self.clock())
        return "failed" if state == dm_ledger.FAILED else "skipped"

    def _stop(self, claim: dm_ledger.DmClaim, owner: str, error: str) -> DmOutcome:
        log.warning(
            "follower %s in %s: direct messages fail for good (%s); stopped",
            claim.user_id,
            claim.workspace,
            error,
        )
        with self.database.write() as session:
            dm_ledger.finish_dm(session, claim.id, owner, dm_ledger.FAILED, error, self.clock())
            dm_ledger.stop_follower(session, claim.workspace, claim.user_id, error, self.clock())
        return "stopped"


class _Turns:
    """Whose turn it is: each workspace's DMs in order, at most one in flight per workspace,
    the workspace the pacer lets send soonest first (so a few threads keep every workspace
    at its pace instead of a thread sleeping per workspace)."""

    def __init__(self, queues: dict[Workspace, list[int]], pacer: DmPacer | None) -> None:
        self._queues: dict[Workspace, deque[int]] = defaultdict(deque)
        self._pacer = pacer
        self._changed = threading.Condition()
        self._busy = 0  # workspaces with a DM being sent now
        self._sending: set[Workspace] = set()
        self._seen: set[int] = set()
        self._ready: list[tuple[float, int, Workspace]] = []
        self._seq = 0
        self.add(queues)

    def add(self, queues: dict[Workspace, list[int]]) -> None:
        """Queue DMs that became open while this run sends (a DM already queued is not)."""
        with self._changed:
            for workspace, ids in queues.items():
                new = [i for i in ids if i not in self._seen]
                if not new:
                    continue
                self._seen.update(new)
                idle = not self._queues[workspace] and workspace not in self._sending
                self._queues[workspace].extend(new)
                if idle:
                    self._push(workspace)
            self._changed.notify_all()

    def _push(self, workspace: Workspace) -> None:
        at = self._pacer.ready_at(str(workspace)) if self._pacer else 0.0
        self._seq += 1
        heapq.heappush(self._ready, (at, self._seq, workspace))

    def next(self) -> tuple[Workspace, int] | None:
        """The next (workspace, DM) to send, waiting while the only DMs left belong to
        workspaces busy sending; None when all are done."""
        with self._changed:
            while not self._ready:
                if not self._busy:
                    return None
                self._changed.wait()
            _at, _seq, workspace = heapq.heappop(self._ready)
            self._busy += 1
            self._sending.add(workspace)
            return workspace, self._queues[workspace].popleft()

    def done(self, workspace: Workspace) -> None:
        """A DM of the workspace was handled: its next one queues by when it may go."""
        with self._changed:
            self._busy -= 1
            self._sending.discard(workspace)
            if self._queues[workspace]:
                self._push(workspace)
            self._changed.notify_all()

    def drop(self, workspace: Workspace) -> None:
        """The workspace cannot send now: leave its DMs for a later run."""
        with self._changed:
            self._queues[workspace].clear()
        self.done(workspace)
