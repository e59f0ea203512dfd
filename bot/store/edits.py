"""The ledger's side of corrections: delivery plans, message fingerprints, reopening threads.

A posted thread whose issue changed later (its content_hash differs from the hash the thread
was synced with) is reopened: set back to pending, then claimed like any delivery, so the same
lease keeps two processes from editing it at once and a crashed editor is taken over.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Text, and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from bot.store.ledger import PENDING, POSTED, SENDING
from bot.store.tables import ArticleRow, DeliveryMessageRow, DeliveryRow, IssueRow


def _changed() -> Any:
    """The delivery's thread was synced with another version of its issue (a roll-up, which
    has no issue, never is: it is not edited)."""
    current = (
        select(IssueRow.content_hash).where(IssueRow.id == DeliveryRow.issue_id).scalar_subquery()
    )
    return and_(
        DeliveryRow.issue_id.is_not(None),
        or_(DeliveryRow.synced_hash.is_(None), DeliveryRow.synced_hash != current),
    )


def load_plan(session: Session, delivery_id: int) -> str | None:
    """The plan recorded for a delivery (JSON), None before its first send."""
    return session.connection().execute(_PLAN, {"p_id": delivery_id}).scalar()


def save_plan(session: Session, delivery_id: int, plan: str) -> str:
    """Record a plan unless one is recorded already; the plan that holds."""
    saved = session.connection().execute(_SAVE_PLAN, {"p_id": delivery_id, "p_plan": plan})
    if saved.rowcount == 1:
        return plan
    stored = load_plan(session, delivery_id)
    assert stored is not None  # noqa: S101  written before
    return stored


def issue_hash(session: Session, issue_id: int) -> str:
    """The content hash of an issue as stored now ("" when it is gone)."""
    return session.connection().execute(_HASH, {"i_id": issue_id}).scalar() or ""


def article_ids(session: Session, issue_id: int) -> list[int]:
    """An issue's deep dives in issue order."""
    return list(session.connection().execute(_DEEP_DIVES, {"i_id": issue_id}).scalars())


# Built once: every claim runs them (bot/delivery/plan.py), thousands at a fan-out's start.
_PLAN = select(DeliveryRow.plan).where(DeliveryRow.id == bindparam("p_id"))
_SAVE_PLAN = (
    update(DeliveryRow)
    .where(DeliveryRow.id == bindparam("p_id"), DeliveryRow.plan.is_(None))
    .values(plan=bindparam("p_plan", type_=Text))
)
_HASH = select(IssueRow.content_hash).where(IssueRow.id == bindparam("i_id"))
_DEEP_DIVES = (
    select(ArticleRow.id)
    .where(ArticleRow.issue_id == bindparam("i_id"))
    .order_by(ArticleRow.position)
)


def mark_editing(
    session: Session,
    delivery_id: int,
    owner: str,
    part: int,
    fingerprint: str,
    now: dt.datetime,
    lease: dt.timedelta,
) -> bool:
    """Note the edit about to be made (and renew the lease); False when the lease was lost."""
    result = session.execute(
        update(DeliveryRow)
        .where(
            DeliveryRow.id == delivery_id,
            DeliveryRow.state == SENDING,
            DeliveryRow.lease_owner == owner,
        )
        .values(lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return False
    session.execute(
        update(DeliveryMessageRow)
        .where(DeliveryMessageRow.delivery_id == delivery_id, DeliveryMessageRow.part == part)
        .values(editing=fingerprint)
        .execution_options(synchronize_session=False)
    )
    return True


def reopen(session: Session, delivery_id: int) -> bool:
    """Set a posted thread whose issue changed since back to pending; False if not needed."""
    result = session.execute(
        update(DeliveryRow)
        .where(DeliveryRow.id == delivery_id, DeliveryRow.state == POSTED, _changed())
        .values(state=PENDING, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def reopen_changed(session: Session, since: dt.datetime) -> list[int]:
    """Reopen every posted thread (created since `since`) whose issue changed; their ids."""
    ids = list(
        session.scalars(
            select(DeliveryRow.id).where(
                DeliveryRow.state == POSTED,
                DeliveryRow.synced_hash.is_not(None),
                DeliveryRow.created_at >= since,
                _changed(),
            )
        )
    )
    return [i for i in ids if reopen(session, i)]


def reopened(session: Session) -> set[int]:
    """Open deliveries that are corrections of posted threads (any origin or subscription)."""
    return set(
        session.scalars(
            select(DeliveryRow.id).where(
                and_(
                    DeliveryRow.state.in_([PENDING, SENDING]), DeliveryRow.synced_hash.is_not(None)
                )
            )
        )
    )
