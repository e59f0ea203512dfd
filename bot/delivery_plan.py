"""What a channel's thread of an issue holds: decided once per delivery, laid out each send.

The plan (which deep dives, under which filter) is recorded with the delivery at its first
send, so a filter changed mid-delivery, a crash or a rerun never changes which parts a
half-sent thread gets. Parts: 0 the parent, 1…k the planned deep dives, k+1 the patterns, then
deep dives a correction added (appended, numbered on). The layout is computed from the plan,
the issue as stored now and what was recorded, so every run wants the same thread.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.core.workspace import Workspace
from bot.slack.rendering import (
    REMOVED_ARTICLE,
    REMOVED_PATTERNS,
    Message,
    render_article_reply,
    render_issue_parent,
    render_patterns,
    render_removed,
)
from bot.store import edits, filters
from bot.store.db import Database
from bot.store.edits import MessageState
from bot.store.filters import Rule
from bot.store.queries import IssueView, get_issue


@dataclass(frozen=True)
class Plan:
    """The deep dives a delivery carries and the filter that chose them (empty: none)."""

    articles: tuple[int, ...]
    total: int
    rules: tuple[Rule, ...] = ()

    @property
    def patterns_part(self) -> int:
        """The part number of the Patterns reply."""
        return len(self.articles) + 1

    @property
    def filtered(self) -> bool:
        """Whether the channel had a filter when the delivery started."""
        return bool(self.rules)

    def to_json(self) -> str:
        """The recorded form."""
        rules = [[r.mode, r.kind, r.value] for r in self.rules]
        return json.dumps({"articles": list(self.articles), "total": self.total, "rules": rules})

    @classmethod
    def from_json(cls, text: str) -> Plan:
        """Read a recorded plan."""
        data = json.loads(text)
        rules = tuple(Rule(*r) for r in data.get("rules") or [])
        return cls(tuple(int(i) for i in data["articles"]), int(data["total"]), rules)


def decide(
    session: Session, workspace: Workspace | None, channel_id: str, issue: IssueView
) -> Plan:
    """The plan for a new delivery: the deep dives the channel's filter lets through now."""
    rules = tuple(filters.channel_rules(session, workspace, channel_id))
    ids = [a.id for a in issue.articles]
    chosen = filters.passing(session, rules, ids) if rules else ids
    return Plan(tuple(chosen), len(ids), rules)


def fingerprint(message: Message) -> str:
    """A hash of what Slack shows for a message (text and blocks)."""
    data = json.dumps([message.text, message.blocks], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(data.encode()).hexdigest()


@dataclass(frozen=True)
class Part:
    """One message of the thread as it should be now."""

    part: int
    message: Message
    article_id: int | None = None
    # A part whose deep dive (or patterns) left the issue: edited to say so if it was posted,
    # never posted otherwise.
    removed: bool = False

    @property
    def fingerprint(self) -> str:
        """The fingerprint of the wanted content."""
        return fingerprint(self.message)


def appendable(
    session: Session, plan: Plan, issue: IssueView, appended: Mapping[int, int | None]
) -> list[int]:
    """Deep dives of the issue in no part yet that the plan's filter lets through (in order)."""
    present = set(plan.articles) | {a for a in appended.values() if a is not None}
    new = [a.id for a in issue.articles if a.id not in present]
    if not new or not plan.rules:
        return new
    return filters.passing(session, plan.rules, new)


def layout(
    plan: Plan,
    issue: IssueView,
    appended: Mapping[int, int | None],
    new: Sequence[int],
    *,
    posted: Mapping[int, str],
    save_emoji: str,
) -> list[Part]:
    """Every part of the thread as it should read now, parent first (see the module doc).

    `appended`: article ids of the parts a correction added (part → id, None once deleted);
    `new`: deep dives to append now; `posted`: the parts Slack holds.
    """
    by_id = {a.id: a for a in issue.articles}
    replies: list[Part] = []
    numbered: list[tuple[int, int | None]] = list(enumerate(plan.articles, start=1))
    numbered += sorted(appended.items())
    for part, article_id in numbered:
        article = by_id.get(article_id) if article_id is not None else None
        if article is not None:
            replies.append(Part(part, render_article_reply(article), article.id))
        elif part in posted:
            replies.append(Part(part, render_removed(REMOVED_ARTICLE), article_id, removed=True))
    if issue.patterns:
        replies.append(Part(plan.patterns_part, render_patterns(issue.patterns)))
    elif plan.patterns_part in posted:
        replies.append(Part(plan.patterns_part, render_removed(REMOVED_PATTERNS), removed=True))
    following = max([plan.patterns_part, *appended]) + 1
    replies += [
        Part(following + i, render_article_reply(by_id[aid]), aid) for i, aid in enumerate(new)
    ]
    shown = sum(1 for r in replies if r.article_id is not None and not r.removed)
    replies.sort(key=lambda r: r.part)
    parent = render_issue_parent(
        issue,
        save_emoji,
        in_thread=shown,
        filter_text=" · ".join(r.describe() for r in plan.rules) if plan.rules else None,
    )
    return [Part(0, parent), *replies]


@dataclass(frozen=True)
class Thread:
    """A delivery's thread as it should be now, with what is recorded of it."""

    plan: Plan
    issue: IssueView
    parts: list[Part]
    states: dict[int, MessageState]
    content_hash: str  # the issue version `parts` show

    @property
    def nothing_matched(self) -> bool:
        """A filtered delivery none of whose deep dives match: nothing is posted."""
        return (
            self.plan.filtered
            and not self.states
            and not any(p.article_id is not None for p in self.parts)
        )


def prepare(
    database: Database,
    delivery_id: int,
    workspace: Workspace | None,
    channel_id: str,
    day: dt.date,
    *,
    save_emoji: str,
) -> Thread | None:
    """Read (or decide and record) the plan and lay the thread out; None if the issue is gone."""
    with database.write() as session:
        # The hash first: an issue corrected after it is read newer, never older, than it.
        content_hash = edits.issue_hash(session, day)
        issue = get_issue(session, day)
        if issue is None:
            return None
        recorded = edits.load_plan(session, delivery_id)
        if recorded is None:
            plan = decide(session, workspace, channel_id, issue)
            recorded = edits.save_plan(session, delivery_id, plan.to_json())
        plan = Plan.from_json(recorded)
        states = edits.message_states(session, delivery_id)
        appended = {p: s.article_id for p, s in states.items() if p > plan.patterns_part}
        new = appendable(session, plan, issue, appended)
    posted = {p: s.ts for p, s in states.items()}
    parts = layout(plan, issue, appended, new, posted=posted, save_emoji=save_emoji)
    return Thread(plan, issue, parts, states, content_hash)
