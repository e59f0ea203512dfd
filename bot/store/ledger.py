"""The delivery ledger: which issue goes to which channel, who is sending it, what Slack accepted.

Every step is its own short transaction, committed before Slack is called, so the database (not
process memory) decides what has been sent. A delivery is claimed with an atomic conditional
UPDATE and a lease, so two workers, or a worker and `python -m bot post`, never send the same
delivery at once, and a crashed sender's work is taken over when its lease runs out.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    Integer,
    String,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import Session

from bot.clock import utc_now
from bot.store.db import once_per_transaction
from bot.store.sql import (
    dialect_insert,
    in_bound_workspace,
    in_workspace,
    insert_ignore,
    workspace_binds,
    workspace_values,
)
from bot.store.tables import DeliveryMessageRow, DeliveryRow, IssueRow, SubscriptionRow
from bot.workspace import UNASSIGNED, Workspace

PENDING, SENDING, POSTED, FAILED, SKIPPED = "pending", "sending", "posted", "failed", "skipped"


@dataclass(frozen=True, slots=True)  # one per message in flight: thousands of deliveries
class MessageState:
    """A recorded message of a thread, with the fingerprint of what Slack shows."""

    part: int
    ts: str
    article_id: int | None
    fingerprint: str | None
    editing: str | None


@dataclass(frozen=True)
class Claim:
    """A delivery this process holds the lease on, with what was already recorded."""

    delivery_id: int
    channel_id: str
    issue_id: int | None  # None: a roll-up (`period`)
    issue_date: dt.date | None
    parent_ts: str | None
    messages: dict[int, MessageState]  # recorded, by part
    inflight_part: int | None
    created_at: dt.datetime
    attempt: int
    origin: str = "schedule"
    workspace: Workspace = UNASSIGNED
    plan: str | None = None  # the thread's plan (JSON, bot/delivery/plan.py); None: not decided
    period: str | None = None  # a roll-up's period ("2026-W14", "2026-04"); None: an issue

    @property
    def label(self) -> str:
        """What the delivery carries: its issue's date, or its roll-up's period."""
        return self.period or (self.issue_date.isoformat() if self.issue_date else "")

    @property
    def posted(self) -> dict[int, str]:
        """The ts of each recorded part."""
        return {part: m.ts for part, m in self.messages.items()}


def ensure_delivery(
    session: Session,
    workspace: Workspace,
    channel_id: str,
    issue_id: int | None,
    *,
    period: str | None = None,
    due_at: dt.datetime | None = None,
    state: str = PENDING,
    error: str | None = None,
    origin: str = "schedule",
) -> int:
    """The delivery row of (channel, issue), or with `period` (and no issue) of the channel's
    roll-up of that period, created once whatever races with it."""
    row = _new_delivery(workspace, channel_id, issue_id, due_at, state, error, origin, period)
    rollup = period is not None
    insert_ignore(session, DeliveryRow, row, _ROLLUP_KEY if rollup else _DELIVERY_KEY)
    delivery_id = session.scalar(
        select(DeliveryRow.id).where(
            in_workspace(DeliveryRow, workspace),
            DeliveryRow.channel_id == channel_id,
            DeliveryRow.period == period if rollup else DeliveryRow.issue_id == issue_id,
        )
    )
    assert delivery_id is not None  # noqa: S101  just inserted or already there
    return delivery_id


@dataclass(frozen=True)
class Due:
    """A scheduled delivery to create: (workspace, channel, issue or roll-up period) and the
    slot it is due at."""

    workspace: Workspace
    channel_id: str
    issue_id: int | None
    due_at: dt.datetime | None
    period: str | None = None


def ensure_due(session: Session, due: list[Due]) -> None:
    """Create the scheduled delivery rows not there yet, one statement for each kind: a tick
    that makes thousands of them at once then takes milliseconds, not seconds."""
    table = cast(Table, DeliveryRow.__table__)
    for key, rollup in ((_DELIVERY_KEY, False), (_ROLLUP_KEY, True)):
        rows = [
            _new_delivery(
                d.workspace, d.channel_id, d.issue_id, d.due_at, PENDING, None, "schedule", d.period
            )
            for d in due
            if (d.period is not None) == rollup
        ]
        if rows:
            insert = dialect_insert(session)(table).on_conflict_do_nothing(index_elements=key)
            session.connection().execute(insert, rows)


_DELIVERY_KEY = ["enterprise_id", "team_id", "channel_id", "issue_id"]  # one per channel, issue
_ROLLUP_KEY = ["enterprise_id", "team_id", "channel_id", "period"]  # one per channel, period


def rollups_made(
    session: Session, wanted: Iterable[tuple[Workspace, str, str]]
) -> set[tuple[Workspace, str, str]]:
    """Which of these (workspace, channel, period) have a roll-up delivery (any state), looked
    up through the roll-up key, 500 at a time."""
    keys = sorted({(w.enterprise_id, w.team_id, c, p) for w, c, p in wanted})
    made: set[tuple[Workspace, str, str]] = set()
    key = tuple_(
        DeliveryRow.enterprise_id, DeliveryRow.team_id, DeliveryRow.channel_id, DeliveryRow.period
    )
    for start in range(0, len(keys), RENEW_CHUNK):
        rows = session.execute(
            select(
                DeliveryRow.team_id,
                DeliveryRow.enterprise_id,
                DeliveryRow.channel_id,
                DeliveryRow.period,
            ).where(key.in_(keys[start : start + RENEW_CHUNK]))
        )
        made |= {(Workspace(t, e), c, p) for t, e, c, p in rows.tuples() if p is not None}
    return made


def _new_delivery(
    workspace: Workspace,
    channel_id: str,
    issue_id: int | None,
    due_at: dt.datetime | None,
    state: str,
    error: str | None,
    origin: str,
    period: str | None = None,
) -> dict[str, Any]:
    """The values of a new delivery row (an issue's, or with `period` a roll-up's)."""
    return {
        **workspace_values(workspace),
        "channel_id": channel_id,
        "issue_id": issue_id,
        "period": period,
        "state": state,
        "due_at": due_at,
        "last_error": error,
        "origin": origin,
    }


def claim(
    session: Session,
    delivery_id: int,
    owner: str,
    now: dt.datetime,
    lease: dt.timedelta,
    *,
    retry_failed: bool = False,
    takeover_from: str | None = None,
) -> Claim | None:
    """Take the lease on a delivery that is pending (or abandoned); None if someone else has it.

    `takeover_from` names a holder known to be dead (its lease may not have run out yet): the
    delivery is taken only if that holder still has it, so two rescuers cannot both win.
    """
    params: dict[str, Any] = {
        "c_id": delivery_id,
        "c_owner": owner,
        "c_now": now,
        "c_until": now + lease,
    }
    if takeover_from:
        params["c_holder"] = takeover_from
    statement = _claim_statement(retry_failed, bool(takeover_from))
    row = session.connection().execute(statement, params).one_or_none()
    if row is None:
        return None
    issue_id = row.issue_id
    issue_date = None
    if issue_id is not None:  # a roll-up has none
        issue_date = once_per_transaction(
            session,
            ("issue date", issue_id),
            lambda: session.connection().execute(_ISSUE_DATE, {"i_id": issue_id}).scalar_one(),
        )
    messages = {
        m.part: MessageState(*m)
        for m in session.connection().execute(_MESSAGE_STATES, {"m_id": delivery_id})
    }
    return Claim(
        delivery_id,
        row.channel_id,
        issue_id,
        issue_date,
        row.parent_ts,
        messages,
        row.inflight_part,
        row.created_at,
        row.attempt,
        row.origin,
        Workspace(row.team_id, row.enterprise_id),
        row.plan,
        row.period,
    )


# A claim is one UPDATE … RETURNING and one read of its messages, each statement built once:
# the fan-out claims thousands of deliveries at its start, and building, compiling and running
# a dozen ORM statements per claim made claiming, not Slack, what new channels waited for.
@functools.cache
def _claim_statement(retry_failed: bool, takeover: bool) -> Any:
    """The claiming UPDATE for these claimable states (see `claim`)."""
    d = _DELIVERIES.c
    now = bindparam("c_now", type_=d.lease_until.type)
    claimable = [d.state == PENDING, and_(d.state == SENDING, d.lease_until < now)]
    if takeover:
        claimable.append(and_(d.state == SENDING, d.lease_owner == bindparam("c_holder")))
    if retry_failed:
        claimable.append(d.state.in_([FAILED, SKIPPED]))
    return (
        update(_DELIVERIES)
        .where(d.id == bindparam("c_id"), or_(*claimable))
        .values(
            state=SENDING,
            lease_owner=bindparam("c_owner", type_=String),
            lease_until=bindparam("c_until", type_=d.lease_until.type),
            attempt=d.attempt + 1,
            last_error=None,
        )
        .returning(
            d.channel_id,
            d.issue_id,
            d.parent_ts,
            d.inflight_part,
            d.created_at,
            d.attempt,
            d.origin,
            d.team_id,
            d.enterprise_id,
            d.plan,
            d.period,
        )
    )


def _held(delivery_id: Any, owner: Any) -> Any:
    """A delivery this owner holds (values, or bind parameters of a statement built once)."""
    return and_(
        DeliveryRow.id == delivery_id,
        DeliveryRow.state == SENDING,
        DeliveryRow.lease_owner == owner,
    )


_DELIVERIES = cast(Table, DeliveryRow.__table__)
_MESSAGES = cast(Table, DeliveryMessageRow.__table__)
_SUBSCRIPTIONS = cast(Table, SubscriptionRow.__table__)
_ISSUE_DATE = select(IssueRow.date).where(IssueRow.id == bindparam("i_id"))
_MESSAGE_STATES = select(
    _MESSAGES.c.part,
    _MESSAGES.c.ts,
    _MESSAGES.c.article_id,
    _MESSAGES.c.fingerprint,
    _MESSAGES.c.editing,
).where(_MESSAGES.c.delivery_id == bindparam("m_id"))


_SENDERS = (
    select(_DELIVERIES.c.lease_owner)
    .where(
        in_bound_workspace(_DELIVERIES.c),
        _DELIVERIES.c.state == SENDING,
        _DELIVERIES.c.lease_until >= bindparam("s_now", type_=_DELIVERIES.c.lease_until.type),
    )
    .distinct()
)


def workspace_senders(session: Session, workspace: Workspace, now: dt.datetime) -> set[str]:
    """Who holds a lease still running on a delivery of this workspace (owner ids)."""
    params = {**workspace_binds(workspace), "s_now": now}
    return {row[0] for row in session.connection().execute(_SENDERS, params) if row[0]}


# The per-message writes, built once: the fan-out runs them once per Slack message (SQLAlchemy
# caches their compiled form).
_RECORD = (
    update(_DELIVERIES)
    .where(_held(bindparam("d_id"), bindparam("d_owner")))
    .values(
        inflight_part=bindparam("d_next", type_=Integer),
        lease_until=func.coalesce(
            bindparam("d_lease", type_=_DELIVERIES.c.lease_until.type), _DELIVERIES.c.lease_until
        ),
        parent_ts=case(
            (bindparam("d_part", type_=Integer) == 0, bindparam("d_ts", type_=String)),
            else_=_DELIVERIES.c.parent_ts,
        ),
    )
)
# The message row takes its workspace from the delivery; NOT EXISTS keeps a recorded part
# recorded once (only the lease holder records, so two never race on it).
_SAVE_MESSAGE = insert(_MESSAGES).from_select(
    [
        "enterprise_id",
        "team_id",
        "delivery_id",
        "part",
        "channel_id",
        "ts",
        "article_id",
        "fingerprint",
        "posted_at",
    ],
    select(
        _DELIVERIES.c.enterprise_id,
        _DELIVERIES.c.team_id,
        _DELIVERIES.c.id,
        bindparam("m_part", type_=Integer),
        bindparam("m_channel", type_=String),
        bindparam("m_ts", type_=String),
        bindparam("m_article", type_=Integer),
        bindparam("m_fingerprint", type_=String),
        bindparam("m_at", type_=_MESSAGES.c.posted_at.type),
    ).where(
        _DELIVERIES.c.id == bindparam("m_id"),
        ~exists().where(
            _MESSAGES.c.delivery_id == bindparam("m_id"),
            _MESSAGES.c.part == bindparam("m_part"),
        ),
    ),
)

# What Slack now shows for a message (an edit, if any, is done): built once, as it runs once per
# message.
_SET_FINGERPRINT = (
    update(_MESSAGES)
    .where(_MESSAGES.c.delivery_id == bindparam("f_id"), _MESSAGES.c.part == bindparam("f_part"))
    .values(fingerprint=bindparam("f_fingerprint", type_=String), editing=None)
)


def _run(session: Session, statement: Any, params: dict[str, Any]) -> int:
    """Execute a statement built once with these parameters; the rows it changed."""
    result = session.connection().execute(statement, params)
    return int(getattr(result, "rowcount", 0))


def _run_each(session: Session, statement: Any, many: Sequence[dict[str, Any]]) -> list[int]:
    """`_run` once per parameter set, in order (each one's row count is needed)."""
    return [_run(session, statement, params) for params in many]


def set_fingerprint(session: Session, delivery_id: int, part: int, fingerprint: str) -> None:
    """Record what Slack now shows for a message (an edit, if any, is done)."""
    _run(
        session,
        _SET_FINGERPRINT,
        {"f_id": delivery_id, "f_part": part, "f_fingerprint": fingerprint},
    )


def mark_inflight(
    session: Session,
    delivery_id: int,
    owner: str,
    part: int,
    now: dt.datetime,
    lease: dt.timedelta,
) -> bool:
    """Note the part about to be sent and renew the lease; False when the lease was lost."""
    values = {
        "d_id": delivery_id,
        "d_owner": owner,
        "d_next": part,
        "d_lease": now + lease,
        "d_part": None,  # nothing recorded: the parent's ts stays
        "d_ts": None,
    }
    return _run(session, _RECORD, values) == 1


RENEW_CHUNK = 500


def renew(
    session: Session, held: dict[int, str], now: dt.datetime, lease: dt.timedelta
) -> set[int]:
    """Extend the leases this process still holds (the heartbeat), one UPDATE per 500; the
    deliveries renewed.

    A row another transaction has locked is skipped, not waited for (PostgreSQL; SQLite has
    no row locks): that is this process's ledger writer recording a part, which renews the
    lease itself. Waiting made a cycle: the heartbeat held some rows and waited for one the
    writer held, while the writer waited for one of the heartbeat's, until PostgreSQL's
    deadlock check (one second) broke it, and all posting stood still meanwhile."""
    pairs = list(held.items())
    renewed: set[int] = set()
    for start in range(0, len(pairs), RENEW_CHUNK):
        chunk = pairs[start : start + RENEW_CHUNK]
        free = (
            select(DeliveryRow.id)
            .where(
                DeliveryRow.state == SENDING,
                tuple_(DeliveryRow.id, DeliveryRow.lease_owner).in_(chunk),
            )
            .with_for_update(skip_locked=True)
        )
        renewed.update(
            session.scalars(
                update(DeliveryRow)
                .where(DeliveryRow.id.in_(free))
                .values(lease_until=now + lease)
                .returning(DeliveryRow.id)
                .execution_options(synchronize_session=False)
            )
        )
    return renewed


@dataclass(frozen=True, slots=True)
class HeldCheck:
    """Whether an owner still holds a delivery (not purged, not taken over); many at once in
    one read (`run_many`), as a fan-out checks one before each of its posts."""

    delivery_id: int
    owner: str

    def __call__(self, session: Session) -> bool:
        """Whether it is still held."""
        return self.run_many(session, [self])[0]

    @staticmethod
    def run_many(session: Session, checks: Sequence[HeldCheck]) -> list[bool]:
        """Each check's answer, from one read of their deliveries."""
        owners = _holders(session, [c.delivery_id for c in checks])
        return [owners.get(c.delivery_id) == c.owner for c in checks]


def _holders(
    session: Session, delivery_ids: Sequence[int], *, lock: bool = False
) -> dict[int, str]:
    """Who holds each of these deliveries being sent (locked against takeover until the
    transaction ends, with `lock`, on PostgreSQL; SQLite's writer already excludes others)."""
    d = _DELIVERIES.c
    holders: dict[int, str] = {}
    for start in range(0, len(delivery_ids), RENEW_CHUNK):
        query = select(d.id, d.lease_owner).where(
            d.id.in_(delivery_ids[start : start + RENEW_CHUNK]), d.state == SENDING
        )
        if lock:
            query = query.with_for_update()
        holders.update((row[0], row[1]) for row in session.connection().execute(query))
    return holders


def holder(session: Session, delivery_id: int) -> tuple[str, str | None]:
    """A delivery's state and who holds it."""
    row = session.execute(
        select(DeliveryRow.state, DeliveryRow.lease_owner).where(DeliveryRow.id == delivery_id)
    ).first()
    return (row[0], row[1]) if row else ("", None)


def discard_unsent(session: Session, delivery_id: int, owner: str) -> bool:
    """Delete a held delivery of which Slack accepted nothing (a manual post that failed
    early), so it leaves nothing behind; False if any part was recorded."""
    if session.scalar(select(func.count()).where(DeliveryMessageRow.delivery_id == delivery_id)):
        return False
    result = session.execute(
        delete(DeliveryRow)
        .where(_held(delivery_id, owner))
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def skip_unstarted(session: Session, delivery_id: int, reason: str, now: dt.datetime) -> bool:
    """Mark a pending delivery that was never started as skipped (its time has passed)."""
    result = session.execute(
        update(DeliveryRow)
        .where(
            DeliveryRow.id == delivery_id,
            DeliveryRow.state == PENDING,
            DeliveryRow.inflight_part.is_(None),
            DeliveryRow.parent_ts.is_(None),
        )
        .values(state=SKIPPED, last_error=reason, finished_at=now)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


@dataclass(frozen=True, slots=True)
class PartRecord:
    """A part Slack accepted, to record (`record_parts`): the ts it got and the fingerprint of
    its content; with `next_inflight` (part, lease until), the next part noted in flight in the
    same write. Called with the session of a write transaction."""

    delivery_id: int
    owner: str
    part: int
    channel_id: str
    ts: str
    article_id: int | None
    fingerprint: str | None = None
    next_inflight: tuple[int, dt.datetime] | None = None

    def __call__(self, session: Session) -> bool:
        """Record this part (see `record_parts`)."""
        return record_parts(session, [self])[0]

    @staticmethod
    def run_many(session: Session, records: Sequence[PartRecord]) -> list[bool]:
        """Record these parts at once (see `record_parts`)."""
        return record_parts(session, records)


def record_parts(session: Session, records: Sequence[PartRecord]) -> list[bool]:
    """Record parts Slack accepted, and the parent's ts on its delivery; for each, False when
    the lease was lost (or the workspace uninstalled: its rows are gone). A few statements for
    any number of records (each run for all of them at once), as a fan-out records many."""
    holders = _holders(session, [r.delivery_id for r in records], lock=True)
    held = [holders.get(r.delivery_id) == r.owner for r in records]
    kept = [r for r, ok in zip(records, held, strict=True) if ok]
    if not kept:
        return held
    connection = session.connection()
    connection.execute(
        _RECORD,
        [
            {
                "d_id": r.delivery_id,
                "d_owner": r.owner,
                "d_next": r.next_inflight[0] if r.next_inflight else None,
                "d_lease": r.next_inflight[1] if r.next_inflight else None,
                "d_part": r.part,
                "d_ts": r.ts,
            }
            for r in kept
        ],
    )
    now = utc_now()
    # The insert skips a part recorded before (NOT EXISTS). When it adds fewer rows than it
    # was given, some were (a rerun found them in the channel): those now show this content,
    # so every part given takes its fingerprint, a no-op for the rows just added. Nothing is
    # looked up first: recording is the one write of each message a fan-out makes.
    inserted = connection.execute(
        _SAVE_MESSAGE,
        [
            {
                "m_id": r.delivery_id,
                "m_part": r.part,
                "m_channel": r.channel_id,
                "m_ts": r.ts,
                "m_article": r.article_id,
                "m_fingerprint": r.fingerprint,
                "m_at": now,
            }
            for r in kept
        ],
    ).rowcount
    counted = len(kept) == 1 or connection.dialect.supports_sane_multi_rowcount
    again = [r for r in kept if r.fingerprint]
    if again and (inserted != len(kept) or not counted):
        connection.execute(
            _SET_FINGERPRINT,
            [
                {"f_id": r.delivery_id, "f_part": r.part, "f_fingerprint": r.fingerprint}
                for r in again
            ],
        )
    return held


def finish(
    session: Session,
    delivery_id: int,
    owner: str,
    state: str,
    now: dt.datetime,
    error: str | None = None,
) -> None:
    """End a delivery as failed (permanent) or skipped, releasing the lease (one posted in
    full ends through `complete`)."""
    session.execute(
        update(_DELIVERIES)
        .where(_held(delivery_id, owner))
        .values(state=state, lease_owner=None, lease_until=None, last_error=error, finished_at=now)
    )


_COMPLETE = (
    update(_DELIVERIES)
    .where(_held(bindparam("c_id"), bindparam("c_owner")))
    .values(
        state=POSTED,
        lease_owner=None,
        lease_until=None,
        last_error=None,
        finished_at=bindparam("c_at", type_=_DELIVERIES.c.finished_at.type),
        synced_hash=func.coalesce(bindparam("c_hash", type_=String), _DELIVERIES.c.synced_hash),
    )
)
# Written only when there is something to clear: the usual case, once per delivery.
_CLEAR_FAILING = (
    update(_SUBSCRIPTIONS)
    .where(
        in_bound_workspace(SubscriptionRow),
        _SUBSCRIPTIONS.c.channel_id == bindparam("s_channel"),
        or_(_SUBSCRIPTIONS.c.failing.is_(True), _SUBSCRIPTIONS.c.last_error.is_not(None)),
    )
    .values(failing=False, last_error=None)
)


@dataclass(frozen=True, slots=True)
class Completion:
    """A delivery whose parts Slack all holds, to end as posted (`complete`), called with the
    session of a write transaction."""

    workspace: Workspace
    delivery_id: int
    owner: str
    channel_id: str
    at: dt.datetime
    synced_hash: str | None = None  # the issue's version the thread now shows

    def __call__(self, session: Session) -> bool:
        """End this delivery (see `complete`)."""
        return complete(session, [self])[0]

    @staticmethod
    def run_many(session: Session, completions: Sequence[Completion]) -> list[bool]:
        """End these deliveries at once (see `complete`)."""
        return complete(session, completions)


def complete(session: Session, completions: Sequence[Completion]) -> list[bool]:
    """End held deliveries as posted, releasing their leases, and clear their channels'
    failing flags; for each, False when the lease was lost (then neither is done)."""
    ended = _run_each(
        session,
        _COMPLETE,
        [
            {"c_id": c.delivery_id, "c_owner": c.owner, "c_at": c.at, "c_hash": c.synced_hash}
            for c in completions
        ],
    )
    _run_each(
        session,
        _CLEAR_FAILING,
        [
            {**workspace_binds(c.workspace), "s_channel": c.channel_id}
            for c, count in zip(completions, ended, strict=True)
            if count == 1
        ],
    )
    return [count == 1 for count in ended]


def release(session: Session, delivery_id: int, owner: str, error: str | None) -> None:
    """Give a delivery back (transient trouble): another attempt picks it up later."""
    session.execute(
        update(DeliveryRow)
        .where(_held(delivery_id, owner))
        .values(state=PENDING, lease_owner=None, lease_until=None, last_error=error)
        .execution_options(synchronize_session=False)
    )


def mark_subscription_failing(
    session: Session, workspace: Workspace, channel_id: str, error: str
) -> None:
    """Flag a channel's subscription as failing, for /digest status (a delivery that ends
    posted clears it: `complete`)."""
    session.execute(
        update(_SUBSCRIPTIONS)
        .where(in_workspace(SubscriptionRow, workspace), _SUBSCRIPTIONS.c.channel_id == channel_id)
        .values(failing=True, last_error=error)
    )


def delivered_dates(
    session: Session, workspace: Workspace, channel_ids: Iterable[str]
) -> dict[str, set[dt.date]]:
    """Issue dates each channel of a workspace already has a delivery row for (any state;
    roll-ups, which have no issue, are left out by the join)."""
    wanted = list(channel_ids)
    delivered: dict[str, set[dt.date]] = {channel: set() for channel in wanted}
    if not wanted:
        return delivered
    rows = session.execute(
        select(DeliveryRow.channel_id, IssueRow.date)
        .join(IssueRow, DeliveryRow.issue_id == IssueRow.id)
        .where(in_workspace(DeliveryRow, workspace), DeliveryRow.channel_id.in_(wanted))
    )
    for channel, day in rows.tuples():
        delivered[channel].add(day)
    return delivered


@dataclass(frozen=True)
class OpenDelivery:
    """A delivery not finished yet, with what the worker needs to decide whether to send it."""

    id: int
    channel_id: str
    issue_date: dt.date | None  # None: a roll-up
    state: str
    origin: str
    lease_owner: str | None
    lease_until: dt.datetime | None
    due_at: dt.datetime | None
    started: bool
    messages: int
    workspace: Workspace = UNASSIGNED
    period: str | None = None  # a roll-up's period; None: an issue's thread


def open_deliveries(
    session: Session,
    workspace: Workspace | None,
    channel_id: str | None = None,
    *,
    not_held_by: tuple[str, dt.datetime] | None = None,
) -> list[OpenDelivery]:
    """Deliveries pending or being sent (held or abandoned), issue threads and roll-ups, oldest
    first; of one workspace, or (None) of every workspace, as the worker sends them.
    `not_held_by` (owner prefix, now) leaves out those whose lease that owner (a live process)
    still holds."""
    # Counted per open delivery through the (delivery_id, part) key, and plain columns, not
    # entities: the worker runs this every few seconds with thousands of threads in flight.
    messages = (
        select(func.count())
        .where(DeliveryMessageRow.delivery_id == DeliveryRow.id)
        .correlate(DeliveryRow)
        .scalar_subquery()
        .label("n")
    )
    query = (
        select(
            DeliveryRow.id,
            DeliveryRow.channel_id,
            IssueRow.date,
            DeliveryRow.state,
            DeliveryRow.origin,
            DeliveryRow.lease_owner,
            DeliveryRow.lease_until,
            DeliveryRow.due_at,
            DeliveryRow.inflight_part,
            DeliveryRow.parent_ts,
            messages,
            DeliveryRow.team_id,
            DeliveryRow.enterprise_id,
            DeliveryRow.period,
        )
        # Outer: a roll-up has no issue.
        .outerjoin(IssueRow, IssueRow.id == DeliveryRow.issue_id)
        .where(DeliveryRow.state.in_([PENDING, SENDING]))
        .order_by(DeliveryRow.id)
    )
    if workspace is not None:
        query = query.where(in_workspace(DeliveryRow, workspace))
    if channel_id is not None:
        query = query.where(DeliveryRow.channel_id == channel_id)
    if not_held_by is not None:
        prefix, now = not_held_by
        query = query.where(
            or_(
                DeliveryRow.state != SENDING,
                DeliveryRow.lease_until.is_(None),
                DeliveryRow.lease_until < now,
                DeliveryRow.lease_owner.is_(None),
                func.substr(DeliveryRow.lease_owner, 1, len(prefix)) != prefix,
            )
        )
    return [
        OpenDelivery(
            row.id,
            row.channel_id,
            row.date,
            row.state,
            row.origin,
            row.lease_owner,
            row.lease_until,
            row.due_at,
            bool(row.n) or row.inflight_part is not None or row.parent_ts is not None,
            row.n or 0,
            Workspace(row.team_id, row.enterprise_id),
            row.period,
        )
        for row in session.execute(query)
    ]


def last_delivery(session: Session, workspace: Workspace, channel_id: str) -> DeliveryView | None:
    """The newest issue delivery of a channel, for /digest status (roll-ups are not issues:
    the inner join leaves them out)."""
    row = session.execute(
        select(DeliveryRow, IssueRow.date)
        .join(IssueRow, IssueRow.id == DeliveryRow.issue_id)
        .where(in_workspace(DeliveryRow, workspace), DeliveryRow.channel_id == channel_id)
        .order_by(IssueRow.date.desc(), DeliveryRow.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    delivery, date = row
    parts = session.scalar(
        select(func.count()).where(DeliveryMessageRow.delivery_id == delivery.id)
    )
    return DeliveryView(
        delivery.id, date, delivery.state, delivery.finished_at, delivery.last_error, parts or 0
    )


@dataclass(frozen=True)
class DeliveryView:
    """A delivery as /digest status shows it."""

    id: int
    issue_date: dt.date
    state: str
    finished_at: dt.datetime | None
    last_error: str | None
    messages: int
