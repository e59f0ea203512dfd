"""Telling followers: match new articles, then send each follower DM exactly once.

The follower-DM kind of the engine (bot/delivery/engine.py), with the ledger protocol of
channel deliveries: a DM is claimed with a lease, marked in flight (committed) before
chat.postMessage, and its ts recorded after. After a crash the in-flight DM is looked up in the
person's DM channel by its metadata before it is ever posted again; when that lookup cannot
tell, the DM is released for a later attempt, never re-posted blindly.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from bot.clock import Clock, utc_now
from bot.core import follows
from bot.delivery.engine import Busy, Engine, blocking
from bot.delivery.pacer import Pacer
from bot.delivery.poster import (
    AmbiguousError,
    FollowerGoneError,
    NotSentError,
    PermanentError,
    SlackPoster,
    UndecidedLookupError,
    dm_metadata,
)
from bot.delivery.transports import NotInstalled
from bot.owners import is_gone, new_owner
from bot.slack.rendering import DmArticle, render_follow_dm
from bot.store import dm_ledger
from bot.store.db import Database, Session
from bot.store.queries import ArticleView, articles_by_ids
from bot.workspace import Workspace

log = logging.getLogger(__name__)

# An article of a DM with its replies in channel threads (channel, ts).
_Linked = tuple[ArticleView, list[tuple[str, str]]]
DmOutcome = Literal["sent", "found", "busy", "retry_later", "failed", "stopped", "skipped"]


@dataclass
class FollowerDms:
    """Matches new articles against follows and sends the follower DMs, once each."""

    database: Database
    # Each workspace's Slack calls (bot.delivery.transports.PosterCache).
    messengers: Callable[[Workspace], SlackPoster | NotInstalled]
    clock: Clock = utc_now
    lease: dt.timedelta = dt.timedelta(seconds=15)
    recent_days: float = 2.0
    # Slack's pace for DMs: DIGEST_DM_PER_SECOND per workspace, one a second to each person.
    pacer: Pacer | None = None
    refresh_seconds: float = 15.0  # how often a run under way looks for DMs created since

    def __post_init__(self) -> None:
        self.engine = Engine(self.database, self.pacer or Pacer(1.0, 60.0), self.clock, self.lease)
        # A live sender keeps its leases fresh however slowly Slack answers, so a DM is only
        # ever taken over from a sender that is gone.
        self.keeper = self.engine.lease_keeper(dm_ledger.renew_dms)

    def run(self) -> list[DmOutcome]:
        """Match what arrived, then send every open DM (from synchronous code)."""
        self.match()
        return self.send_open()

    async def aclose(self) -> None:
        """Close the database pool of the running event loop."""
        await self.engine.aclose()

    def match(self) -> int:
        """Match the articles that arrived against every follow; the DMs it created."""
        created = follows.match_new(self.database, self.clock(), self.recent_days)
        if created:
            log.info("follows: %d new direct messages to send", created)
        return created

    async def send_open_async(self) -> list[DmOutcome]:
        """Send the open DMs, every workspace at its pace at once. DMs created meanwhile (a new
        issue matched during a long, paced backlog) join the run within `refresh_seconds`."""
        seen: set[int] = set()
        # One DM at a time per workspace, in order (its pace is DIGEST_DM_PER_SECOND anyway).
        turns: dict[Workspace, asyncio.Lock] = {}

        async def new_dms() -> list[tuple[Workspace, int]]:
            fresh = [(w, i) for w, i in await self._sendable() if i not in seen]
            seen.update(i for _w, i in fresh)
            return fresh

        async def one(job: tuple[Workspace, int]) -> DmOutcome | None:
            workspace, message_id = job
            messenger = self.messengers(workspace)
            if isinstance(messenger, NotInstalled):  # no token: its DMs wait for a later run
                log.warning("follows: no Slack client for workspace %s", workspace)
                return None
            async with turns.setdefault(workspace, asyncio.Lock()):
                return await self.send(message_id, messenger, workspace)

        def crashed(_job: tuple[Workspace, int], _exc: BaseException) -> DmOutcome:
            return "retry_later"

        done = await self.engine.fan_out(
            await new_dms(), one, crashed, more=new_dms, every=self.refresh_seconds
        )
        return [outcome for outcome in done if outcome is not None]

    send_open = blocking(send_open_async)

    async def _sendable(self) -> list[tuple[Workspace, int]]:
        """Open DMs (workspace, id), leaving out those a live sender holds."""
        now = self.clock()
        open_dms = await self.engine.read(dm_ledger.open_dms)
        sendable = []
        for dm in open_dms:
            held = dm.state == dm_ledger.SENDING and dm.lease_until and dm.lease_until >= now
            if held and not is_gone(dm.lease_owner):
                continue
            sendable.append((dm.workspace, dm.id))
        return sendable

    async def send(
        self, message_id: int, messenger: SlackPoster, workspace: Workspace | None = None
    ) -> DmOutcome:
        """Claim one DM and send it unless Slack has it already."""
        owner = new_owner()

        def claim(session: Session, takeover_from: str | None) -> dm_ledger.DmClaim | None:
            return dm_ledger.claim_dm(
                session, message_id, owner, self.clock(), self.lease, takeover_from=takeover_from
            )

        claimed = await self.engine.claim(
            f"follower DM {message_id}", claim, lambda s: dm_ledger.dm_holder(s, message_id)
        )
        if isinstance(claimed, Busy):
            return "busy"
        self.keeper.hold(claimed.id, owner)
        try:
            return await self._send(claimed, owner, messenger)
        finally:
            self.keeper.drop(claimed.id)

    async def _send(
        self, claim: dm_ledger.DmClaim, owner: str, messenger: SlackPoster
    ) -> DmOutcome:
        try:
            if claim.inflight:
                found = await self._find(claim, messenger)
                if found is not None:
                    return await self._record(claim, owner, *found, outcome="found")
            return await self._post(claim, owner, messenger)
        except UndecidedLookupError as exc:
            log.warning("follower DM %d: could not check Slack (%s)", claim.id, exc)
            return await self._release(claim, owner, f"could not check Slack: {exc}")
        except FollowerGoneError as exc:
            return await self._stop(claim, owner, exc.error)
        except PermanentError as exc:
            return await self._finish(claim, owner, dm_ledger.FAILED, exc.error)

    async def _find(
        self, claim: dm_ledger.DmClaim, messenger: SlackPoster
    ) -> tuple[str, str] | None:
        """(channel, ts) of the DM if Slack holds it; None only when it surely does not."""
        channel = claim.channel_id
        if channel is None:
            channel = await self.engine.read(
                lambda s: dm_ledger.follower_dm_channel(s, claim.workspace, claim.user_id)
            )
        if channel is None:
            channel = await messenger.open_dm(claim.user_id)
        ts = await messenger.find_dm(channel, claim.id, claim.created_at.timestamp() - 60)
        return (channel, ts) if ts is not None else None

    async def _post(
        self, claim: dm_ledger.DmClaim, owner: str, messenger: SlackPoster
    ) -> DmOutcome:
        def read(
            session: Session,
        ) -> tuple[bool, list[tuple[ArticleView, list[tuple[str, str]]]], dt.date | None]:
            stopped = dm_ledger.is_stopped(session, claim.workspace, claim.user_id)
            articles = articles_by_ids(session, list(claim.article_ids))
            replies = dm_ledger.thread_replies(session, claim.workspace, [a.id for a in articles])
            day = dm_ledger.issue_date(session, claim.issue_id)
            return stopped, [(a, replies.get(a.id, [])) for a in articles], day

        stopped, found, day = await self.engine.read(read)
        if stopped:
            return await self._finish(claim, owner, dm_ledger.SKIPPED, "follower stopped")
        items = [
            DmArticle(a, await self._thread_link(replies, claim.user_id, messenger))
            for a, replies in found
        ]
        if not items or day is None:
            return await self._finish(
                claim, owner, dm_ledger.SKIPPED, "its articles left the archive"
            )
        message = render_follow_dm(day, items)
        now = self.clock()
        marked = await self.engine.write(
            lambda s: dm_ledger.mark_dm_inflight(s, claim.id, owner, now, self.lease)
        )
        if not marked:
            return "busy"
        metadata = dm_metadata(claim.id, day.isoformat())
        try:
            channel, ts = await self.engine.paced(
                claim.workspace,
                claim.user_id,
                lambda: messenger.post_dm(claim.user_id, message, metadata),
            )
        except NotSentError as exc:
            return await self._release(claim, owner, str(exc) or type(exc).__name__, sent=False)
        except AmbiguousError as exc:
            # It may be in Slack: the in-flight mark stays, so the next attempt looks first.
            return await self._release(claim, owner, str(exc) or type(exc).__name__)
        return await self._record(claim, owner, channel, ts, outcome="sent")

    async def _thread_link(
        self, replies: list[tuple[str, str]], user_id: str, messenger: SlackPoster
    ) -> str | None:
        """The permalink of the article's reply in a channel the person is in (None: no such
        channel, or membership could not be told)."""
        for channel, ts in replies:
            if await messenger.is_member(channel, user_id):
                return await messenger.permalink(channel, ts)
        return None

    async def _record(
        self, claim: dm_ledger.DmClaim, owner: str, channel: str, ts: str, *, outcome: DmOutcome
    ) -> DmOutcome:
        now = self.clock()

        def record(session: Session) -> bool:
            if not dm_ledger.record_dm(session, claim.id, owner, channel, ts, now):
                return False
            dm_ledger.remember_dm_channel(session, claim.workspace, claim.user_id, channel)
            return True

        return outcome if await self.engine.write(record) else "busy"

    async def _release(
        self, claim: dm_ledger.DmClaim, owner: str, error: str, *, sent: bool = True
    ) -> DmOutcome:
        def release(session: Session) -> None:
            if not sent:
                dm_ledger.clear_dm_inflight(session, claim.id, owner)
            dm_ledger.release_dm(session, claim.id, owner, error)

        await self.engine.write(release)
        return "retry_later"

    async def _finish(
        self, claim: dm_ledger.DmClaim, owner: str, state: str, error: str
    ) -> DmOutcome:
        now = self.clock()
        await self.engine.write(
            lambda s: dm_ledger.finish_dm(s, claim.id, owner, state, error, now)
        )
        return "failed" if state == dm_ledger.FAILED else "skipped"

    async def _stop(self, claim: dm_ledger.DmClaim, owner: str, error: str) -> DmOutcome:
        log.warning(
            "follower %s in %s: direct messages fail for good (%s); stopped",
            claim.user_id,
            claim.workspace,
            error,
        )
        now = self.clock()

        def stop(session: Session) -> None:
            dm_ledger.finish_dm(session, claim.id, owner, dm_ledger.FAILED, error, now)
            dm_ledger.stop_follower(session, claim.workspace, claim.user_id, error, now)

        await self.engine.write(stop)
        return "stopped"
