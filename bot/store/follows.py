"""Follows (per workspace) and matching new articles against them (DMs: store/dm_ledger.py).

Matching runs once per new article: the articles of recent issues not yet in `follow_matched`
are claimed there (INSERT … ON CONFLICT DO NOTHING RETURNING), so two workers split them and
none is matched twice. Company follows join `article_companies`; each distinct topic query is
run once against the new articles only (bot/store/fulltext.py). What matched becomes one DM per
(person, issue) in `follow_messages`, its articles in `follow_items`, unique per (person,
article): nobody is told about an article twice, whatever retries or corrections happen.

A company followed before the archive holds it waits under its name (key `name:` + the name's
lookup key, no company id); when new articles arrive and /digest company finds it by that name,
it is bound to the company before they are matched.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, select, text, update
from sqlalchemy.orm import Session, aliased

from bot.digest.companies import company_key
from bot.store.dm_ledger import PENDING, SENDING, SENT, claim_items, resume_follower
from bot.store.fulltext import match_new_articles
from bot.store.queries import resolve_company
from bot.store.sql import dialect_insert, in_workspace, insert_ignore, workspace_values
from bot.store.tables import (
    ArticleRow,
    CompanyRow,
    FollowedRow,
    FollowerRow,
    FollowItemRow,
    FollowMatchedRow,
    FollowMessageRow,
    FollowRow,
    IssueRow,
    TaughtNameRow,
)
from bot.workspace import Workspace

Person = tuple[str, str, str]  # (enterprise_id, team_id, user_id)


@dataclass(frozen=True)
class Follow:
    """One follow as people see it."""

    id: int
    kind: str
    key: str
    label: str
    created_at: dt.datetime
    waiting: bool = False  # a company not in the archive yet


def _mine(workspace: Workspace, user_id: str) -> Any:
    return and_(in_workspace(FollowRow, workspace), FollowRow.user_id == user_id)


def list_follows(session: Session, workspace: Workspace, user_id: str) -> list[Follow]:
    """A person's follows, companies first, then topics, oldest first."""
    rows = session.execute(
        select(FollowRow, FollowedRow.company_id)
        .join(FollowedRow, FollowedRow.id == FollowRow.followed_id)
        .where(_mine(workspace, user_id))
        .order_by(FollowRow.kind, FollowRow.created_at, FollowRow.id)
    ).tuples()
    return [
        Follow(r.id, r.kind, r.key, r.label, r.created_at, r.kind == "company" and company is None)
        for r, company in rows
    ]


def count_follows(session: Session, workspace: Workspace, user_id: str) -> int:
    """How many follows a person has."""
    return int(session.scalar(select(func.count()).where(_mine(workspace, user_id))) or 0)


def waiting_key(name: str) -> str:
    """The key of a company followed by a name the archive does not hold yet."""
    return "name:" + company_key(name)


def has_follow(session: Session, workspace: Workspace, user_id: str, kind: str, key: str) -> bool:
    """Whether the person follows the thing under (kind, key)."""
    found = session.scalar(
        select(FollowRow.id).where(
            _mine(workspace, user_id), FollowRow.kind == kind, FollowRow.key == key
        )
    )
    return found is not None


def _followed_id(
    session: Session, kind: str, key: str, company_id: int | None, name: str | None
) -> int:
    """The id of the followed thing (kind, key), added when nobody followed it yet."""
    insert_ignore(
        session,
        FollowedRow,
        {"kind": kind, "key": key, "company_id": company_id, "name": name},
        ["kind", "key"],
    )
    found = session.scalar(
        select(FollowedRow.id).where(FollowedRow.kind == kind, FollowedRow.key == key)
    )
    assert found is not None  # noqa: S101  just inserted or already there
    return found


def add_follow(
    session: Session,
    workspace: Workspace,
    user_id: str,
    *,
    kind: str,
    key: str,
    label: str,
    company_id: int | None,
    now: dt.datetime,
    name: str | None = None,
) -> bool:
    """Add a follow (and resume DMs to a stopped follower); False when it existed already.

    A company without `company_id` waits under `name` (its key: `waiting_key(name)`).
    """
    values = {
        **workspace_values(workspace),
        "user_id": user_id,
        "followed_id": _followed_id(session, kind, key, company_id, name),
        "kind": kind,
        "key": key,
        "label": label,
        "created_at": now,
    }
    insert = dialect_insert(session)
    added = session.execute(
        insert(FollowRow)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=["enterprise_id", "team_id", "user_id", "kind", "key"]
        )
        .returning(FollowRow.id)
    ).first()
    # Following again is the person saying they are there: a stopped follower is resumed.
    resume_follower(session, workspace, user_id)
    return added is not None


def remove_follow(
    session: Session, workspace: Workspace, user_id: str, kind: str, key: str
) -> bool:
    """Remove one follow by its key; False when there was none."""
    result = session.execute(
        delete(FollowRow).where(
            _mine(workspace, user_id), FollowRow.kind == kind, FollowRow.key == key
        )
    )
    return bool(getattr(result, "rowcount", 0))


def remove_follow_labelled(
    session: Session, workspace: Workspace, user_id: str, kind: str, label: str
) -> bool:
    """Remove a follow by the name it was shown under (a company since renamed or merged)."""
    result = session.execute(
        delete(FollowRow).where(
            _mine(workspace, user_id),
            FollowRow.kind == kind,
            func.lower(FollowRow.label) == label.lower(),
        )
    )
    return bool(getattr(result, "rowcount", 0))


def remove_follow_id(session: Session, workspace: Workspace, user_id: str, follow_id: int) -> bool:
    """Remove one of the person's follows by id (the Home tab's Unfollow button)."""
    result = session.execute(
        delete(FollowRow).where(_mine(workspace, user_id), FollowRow.id == follow_id)
    )
    return bool(getattr(result, "rowcount", 0))


def remove_all(session: Session, workspace: Workspace, user_id: str) -> int:
    """Remove every follow of a person; how many there were."""
    result = session.execute(delete(FollowRow).where(_mine(workspace, user_id)))
    return int(getattr(result, "rowcount", 0) or 0)


def bind_waiting(session: Session, key: str | None = None) -> int:
    """Bind the companies followed before the archive held them (or the one under `key`) that
    /digest company now finds by the name followed; how many were bound."""
    query = select(FollowedRow.id, FollowedRow.name).where(
        FollowedRow.kind == "company", FollowedRow.company_id.is_(None)
    )
    if key is not None:
        query = query.where(FollowedRow.key == key)
    waiting = session.execute(query).tuples().all()
    if len(waiting) > 1:
        # resolve_company costs a few queries a name (~0.6 ms; 1.2 s for 2,000 names held
        # inside matching's write transaction): only names a company key starts with, or an
        # alias taught, can resolve at all, and those are told apart in memory first.
        keys = sorted(session.scalars(select(CompanyRow.key)))
        taught = set(session.scalars(select(TaughtNameRow.key)))
        waiting = [w for w in waiting if _may_resolve(company_key(w[1] or ""), keys, taught)]
    bound = 0
    for followed_id, name in waiting:
        found = resolve_company(session, name or "")
        if found is not None:
            _bind(session, followed_id, *found)
            bound += 1
    return bound


def _may_resolve(key: str, keys: Sequence[str], taught: set[str]) -> bool:
    """Whether resolve_company could find a company for a name of this key (a company key it
    starts, or an alias taught): necessary, not sufficient (resolve_company decides)."""
    if not key:
        return False
    at = bisect_left(keys, key)
    return key in taught or (at < len(keys) and keys[at].startswith(key))


def _bind(session: Session, followed_id: int, company_id: int, display: str) -> None:
    """Make a waiting follow an ordinary follow of the company (merged into its row if the
    company is followed already), shown under the company's name."""
    key = str(company_id)
    target = session.scalar(
        select(FollowedRow.id).where(FollowedRow.kind == "company", FollowedRow.key == key)
    )
    if target is None:
        session.execute(
            update(FollowedRow)
            .where(FollowedRow.id == followed_id, FollowedRow.company_id.is_(None))
            .values(key=key, company_id=company_id, name=None)
            .execution_options(synchronize_session=False)
        )
        target = followed_id
    else:
        # Someone who follows both keeps the waiting follow: it is the older one, made before
        # the first article arrived, so that article still reaches them.
        waited = aliased(FollowRow)
        also_waiting = (
            select(waited.id)
            .where(
                waited.followed_id == followed_id,
                waited.enterprise_id == FollowRow.enterprise_id,
                waited.team_id == FollowRow.team_id,
                waited.user_id == FollowRow.user_id,
            )
            .exists()
        )
        session.execute(
            delete(FollowRow)
            .where(FollowRow.followed_id == target, also_waiting)
            .execution_options(synchronize_session=False)
        )
    session.execute(
        update(FollowRow)
        .where(FollowRow.followed_id == followed_id)
        .values(followed_id=target, key=key, label=display[:200])
        .execution_options(synchronize_session=False)
    )
    if target != followed_id:
        session.execute(delete(FollowedRow).where(FollowedRow.id == followed_id))


# --- matching ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewArticle:
    """An article just claimed for matching, with when its issue last changed."""

    id: int
    issue_id: int
    position: int
    title: str
    summary: str
    issue_changed: dt.datetime


def unmatched_articles(session: Session, recent_days: float) -> list[int]:
    """Articles of the newest issues (within `recent_days` of the newest date) not matched yet.

    Only the newest issues count: importing years of old issues must not flood anyone.
    """
    newest = session.scalar(select(func.max(IssueRow.date)))
    if newest is None:
        return []
    since = newest - dt.timedelta(days=int(recent_days))
    return list(
        session.scalars(
            select(ArticleRow.id)
            .outerjoin(FollowMatchedRow, FollowMatchedRow.article_id == ArticleRow.id)
            .where(ArticleRow.issue_date >= since, FollowMatchedRow.article_id.is_(None))
            .order_by(ArticleRow.id)
        )
    )


def claim_articles(session: Session, ids: Sequence[int], now: dt.datetime) -> list[NewArticle]:
    """Mark articles as matched; those this transaction marked (another worker may race)."""
    if not ids:
        return []
    insert = dialect_insert(session)
    claimed = list(
        session.scalars(
            insert(FollowMatchedRow)
            .values([{"article_id": i, "matched_at": now} for i in ids])
            .on_conflict_do_nothing(index_elements=["article_id"])
            .returning(FollowMatchedRow.article_id)
        )
    )
    if not claimed:
        return []
    rows = session.execute(
        select(
            ArticleRow.id,
            ArticleRow.issue_id,
            ArticleRow.position,
            ArticleRow.title,
            ArticleRow.summary,
            IssueRow.updated_at,
        )
        .join(IssueRow, IssueRow.id == ArticleRow.issue_id)
        .where(ArticleRow.id.in_(claimed))
    ).tuples()
    return [NewArticle(*row) for row in rows]


# What one matching run found: (followed thing, new article), with when the article arrived.
_COMPANY_MATCHES = """
    INSERT INTO follow_matches (run, followed_id, article_id, issue_id, arrived)
    SELECT :run, t.id, a.id, a.issue_id, i.updated_at
    FROM article_companies AS ac
    JOIN followed AS t ON t.company_id = ac.company_id AND t.kind = 'company'
    JOIN articles AS a ON a.id = ac.article_id
    JOIN issues AS i ON i.id = a.issue_id
    WHERE ac.article_id IN ({ids})
"""
_TOPIC_MATCH = """
    INSERT INTO follow_matches (run, followed_id, article_id, issue_id, arrived)
    SELECT :run, :followed, a.id, a.issue_id, i.updated_at
    FROM articles AS a JOIN issues AS i ON i.id = a.issue_id WHERE a.id = :article
"""
# The follows of what matched (ix_follows_followed), made before the article arrived, of
# people still messaged. One DM per (person, issue) is all matching records: which articles it
# lists is settled when it is sent (dm_ledger.claim_items), so matching costs the DMs, not the
# pairs.
_MESSAGES = """
    INSERT INTO follow_messages
        (enterprise_id, team_id, user_id, issue_id, run, state, attempt, inflight, created_at)
    SELECT d.e, d.t, d.u, d.issue_id, :run, 'pending', 0, :no, :now
    FROM (
        SELECT DISTINCT f.enterprise_id AS e, f.team_id AS t, f.user_id AS u, h.issue_id
        FROM follow_matches AS h
        JOIN follows AS f ON f.followed_id = h.followed_id AND f.created_at <= h.arrived
        WHERE h.run = :run
    ) AS d
    WHERE NOT EXISTS (
        SELECT 1 FROM followers AS s
        WHERE s.enterprise_id = d.e AND s.team_id = d.t AND s.user_id = d.u
        AND s.stopped_at IS NOT NULL)
"""


def followed_topics(session: Session) -> dict[str, int]:
    """Every topic somebody follows now: its key and id (thousands, not one per follow)."""
    someone = select(FollowRow.id).where(FollowRow.followed_id == FollowedRow.id).exists()
    rows = session.execute(
        select(FollowedRow.key, FollowedRow.id).where(FollowedRow.kind == "topic", someone)
    ).tuples()
    return dict(rows.all())


def match_and_record(
    session: Session, articles: Sequence[NewArticle], now: dt.datetime, run: int
) -> int:
    """Match new articles against the things followed and record one pending DM per (person,
    issue), in SQL; how many DMs were created.

    The articles are matched against the distinct things followed (a company through
    article_companies; each topic searched once, in these articles only), then one INSERT …
    SELECT turns the matches into DMs for their followers. Followers who stopped, and follows
    made after an article arrived, are left out.
    """
    if not articles:
        return 0
    ids = ", ".join(str(int(a.id)) for a in articles)
    session.execute(text(_COMPANY_MATCHES.format(ids=ids)), {"run": run})
    topics = followed_topics(session)
    new = [(a.id, a.title, a.summary) for a in articles]
    found = match_new_articles(session, new, list(topics))
    matches = [
        {"run": run, "followed": topics[key], "article": article}
        for key, hits in found.items()
        for article in hits
    ]
    if matches:
        session.execute(text(_TOPIC_MATCH), matches)
    result = session.execute(text(_MESSAGES), {"run": run, "now": now, "no": False})
    return int(getattr(result, "rowcount", 0) or 0)


def planned_articles(session: Session) -> dict[Person, set[int]]:
    """What the open DMs will list, per person (claims each DM's articles, as sending does)."""
    rows = session.scalars(
        select(FollowMessageRow).where(FollowMessageRow.state.in_([PENDING, SENDING]))
    ).all()
    for row in rows:
        claim_items(session, row)
    return told(session)


def told(session: Session) -> dict[Person, set[int]]:
    """Every article each person's DMs carry (sent or to be sent)."""
    found: dict[Person, set[int]] = defaultdict(set)
    for e, t, u, a in session.execute(
        select(
            FollowItemRow.enterprise_id,
            FollowItemRow.team_id,
            FollowItemRow.user_id,
            FollowItemRow.article_id,
        )
    ).tuples():
        found[(e, t, u)].add(a)
    return dict(found)


@dataclass(frozen=True)
class FollowerView:
    """A follower as operators see it."""

    workspace: Workspace
    user_id: str
    follows: int
    waiting: int  # follows of companies not in the archive yet
    sent: int
    pending: int
    stopped_at: dt.datetime | None
    stop_reason: str | None


def followers(session: Session) -> list[FollowerView]:
    """Every person with follows or a stopped DM state: counts of follows and DMs."""
    follow_counts = dict(
        ((e, t, u), n)
        for e, t, u, n in session.execute(
            select(
                FollowRow.enterprise_id, FollowRow.team_id, FollowRow.user_id, func.count()
            ).group_by(FollowRow.enterprise_id, FollowRow.team_id, FollowRow.user_id)
        ).tuples()
    )
    waiting_counts = dict(
        ((e, t, u), n)
        for e, t, u, n in session.execute(
            select(FollowRow.enterprise_id, FollowRow.team_id, FollowRow.user_id, func.count())
            .join(FollowedRow, FollowedRow.id == FollowRow.followed_id)
            .where(FollowedRow.kind == "company", FollowedRow.company_id.is_(None))
            .group_by(FollowRow.enterprise_id, FollowRow.team_id, FollowRow.user_id)
        ).tuples()
    )
    dm_counts: dict[tuple[str, str, str, str], int] = {
        (e, t, u, s): n
        for e, t, u, s, n in session.execute(
            select(
                FollowMessageRow.enterprise_id,
                FollowMessageRow.team_id,
                FollowMessageRow.user_id,
                FollowMessageRow.state,
                func.count(),
            ).group_by(
                FollowMessageRow.enterprise_id,
                FollowMessageRow.team_id,
                FollowMessageRow.user_id,
                FollowMessageRow.state,
            )
        ).tuples()
    }
    states = {
        (e, t, u): (at, why)
        for e, t, u, at, why in session.execute(
            select(
                FollowerRow.enterprise_id,
                FollowerRow.team_id,
                FollowerRow.user_id,
                FollowerRow.stopped_at,
                FollowerRow.stop_reason,
            )
        ).tuples()
    }
    people = sorted(set(follow_counts) | {p for p, (at, _w) in states.items() if at is not None})
    return [
        FollowerView(
            Workspace(t, e),
            u,
            follow_counts.get((e, t, u), 0),
            waiting_counts.get((e, t, u), 0),
            dm_counts.get((e, t, u, SENT), 0),
            dm_counts.get((e, t, u, PENDING), 0) + dm_counts.get((e, t, u, SENDING), 0),
            *states.get((e, t, u), (None, None)),
        )
        for e, t, u in people
    ]
