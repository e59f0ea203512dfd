"""What a channel's thread of an issue holds: decided once per delivery, laid out each send.

The plan (which deep dives, under which filter) is recorded with the delivery when it is first
claimed, so a filter changed mid-delivery, a crash or a rerun never changes which parts a
half-sent thread gets. Parts: 0 the parent, 1…k the planned deep dives, k+1 the patterns, then
deep dives a correction added (appended, numbered on). The layout is computed from the plan,
the issue as stored now and what was recorded, so every run wants the same thread.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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
from bot.store.db import Session, once_per_transaction
from bot.store.filters import Rule
from bot.store.ledger import Claim, MessageState
from bot.store.queries import IssueView


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


def fingerprint(message: Message) -> str:
    """A hash of what Slack shows for a message (text and blocks)."""
    data = json.dumps([message.text, message.blocks], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(data.encode()).hexdigest()


@dataclass(frozen=True, slots=True)  # shared by the deliveries laid out alike (Rendered.part)
class Part:
    """One message of the thread as it should be now, with the fingerprint of that content."""

    part: int
    message: Message
    fingerprint: str
    article_id: int | None = None
    # A part whose deep dive (or patterns) left the issue: edited to say so if it was posted,
    # never posted otherwise.
    removed: bool = False


@dataclass(frozen=True)
class Recorded:
    """What the ledger holds of a claimed delivery: its plan, messages and what to append."""

    plan: Plan
    states: dict[int, MessageState]
    content_hash: str  # the issue's version when claimed (read before the issue is rendered)
    new: tuple[int, ...]  # deep dives of the issue in no part yet that the plan lets through


def read_or_record_plan(session: Session, claim: Claim) -> Recorded:
    """Read (or decide and record, at the first claim) the plan, in the claim's transaction."""
    issue_id = claim.issue_id
    if issue_id is None:
        raise ValueError(f"delivery {claim.delivery_id} is a roll-up: it has no plan")
    content_hash = once_per_transaction(
        session, ("issue hash", issue_id), lambda: edits.issue_hash(session, issue_id)
    )
    ids = once_per_transaction(
        session, ("deep dives", issue_id), lambda: tuple(edits.article_ids(session, issue_id))
    )
    recorded = claim.plan
    if recorded is None:
        rules = tuple(filters.channel_rules(session, claim.workspace, claim.channel_id))
        chosen = filters.passing(session, rules, ids) if rules else ids
        plan = Plan(tuple(chosen), len(ids), rules)
        recorded = edits.save_plan(session, claim.delivery_id, plan.to_json())
    plan = Plan.from_json(recorded)
    states = dict(claim.messages)
    present: set[int | None] = set(plan.articles)
    present |= {s.article_id for p, s in states.items() if p > plan.patterns_part}
    new = [i for i in ids if i not in present]
    if new and plan.rules:
        new = filters.passing(session, plan.rules, new)
    return Recorded(plan, states, content_hash, tuple(new))


@dataclass(eq=False)
class Rendered:
    """An issue's messages, rendered once for every delivery of it under way."""

    issue: IssueView
    content_hash: str
    save_emoji: str
    replies: dict[int, tuple[Message, str]] = field(init=False)
    patterns: tuple[Message, str] | None = field(init=False)
    _parents: dict[tuple[int, str | None], Part] = field(init=False, default_factory=dict)
    # Parts are immutable: every delivery laid out alike (most of a fan-out) shares the same
    # objects, not 30-odd of its own (thousands of deliveries are under way at once).
    _parts: dict[tuple[int, int | None], Part] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.replies = {a.id: _with_print(render_article_reply(a)) for a in self.issue.articles}
        patterns = self.issue.patterns
        self.patterns = _with_print(render_patterns(patterns)) if patterns else None

    def parent(self, shown: int, filter_text: str | None) -> Part:
        """The parent message (part 0) saying `shown` deep dives are in the thread (of how
        many)."""
        key = (shown, filter_text)
        found = self._parents.get(key)
        if found is None:
            message = render_issue_parent(
                self.issue, self.save_emoji, in_thread=shown, filter_text=filter_text
            )
            found = self._parents[key] = Part(0, *_with_print(message))
        return found

    def part(self, part: int, article_id: int | None) -> Part:
        """Part `part` carrying this deep dive (None: the patterns)."""
        key = (part, article_id)
        found = self._parts.get(key)
        if found is None:
            reply = self.replies[article_id] if article_id is not None else self.patterns
            if reply is None:
                raise KeyError("the issue has no patterns")
            found = self._parts[key] = Part(part, *reply, article_id)
        return found


def _with_print(message: Message) -> tuple[Message, str]:
    return message, fingerprint(message)


def _removed(part: int, text: str, article_id: int | None = None) -> Part:
    message = render_removed(text)
    return Part(part, message, fingerprint(message), article_id, removed=True)


def layout(rendered: Rendered, recorded: Recorded) -> list[Part]:
    """Every part of the thread as it should read now, parent first (see the module doc)."""
    plan, states = recorded.plan, recorded.states
    replies: list[Part] = []
    numbered: list[tuple[int, int | None]] = list(enumerate(plan.articles, start=1))
    appended = {p: s.article_id for p, s in states.items() if p > plan.patterns_part}
    numbered += sorted(appended.items())
    for part, article_id in numbered:
        if article_id is not None and article_id in rendered.replies:
            replies.append(rendered.part(part, article_id))
        elif part in states:
            replies.append(_removed(part, REMOVED_ARTICLE, article_id))
    if rendered.patterns is not None:
        replies.append(rendered.part(plan.patterns_part, None))
    elif plan.patterns_part in states:
        replies.append(_removed(plan.patterns_part, REMOVED_PATTERNS))
    following = max([plan.patterns_part, *appended]) + 1
    added = [i for i in recorded.new if i in rendered.replies]
    replies += [rendered.part(following + n, aid) for n, aid in enumerate(added)]
    shown = sum(1 for r in replies if r.article_id is not None and not r.removed)
    replies.sort(key=lambda r: r.part)
    filter_text = " · ".join(r.describe() for r in plan.rules) if plan.rules else None
    return [rendered.parent(shown, filter_text), *replies]


@dataclass
class Thread:
    """A delivery's thread as it should be now, with what is recorded of it."""

    recorded: Recorded
    parts: Sequence[Part]
    # What was recorded when the delivery was claimed (kept up to date by edits); a part
    # posted since shows its current content and is in the progress's `posted` only.
    states: dict[int, MessageState]
    # Held, so the shared rendering lives while a delivery uses it (None: a roll-up's).
    rendered: Rendered | None
    # Whether recorded messages are brought up to date (chat.update) when their content
    # changed: an issue's thread after a correction; a roll-up is never edited.
    editable: bool = True

    @property
    def plan(self) -> Plan:
        """The delivery's plan."""
        return self.recorded.plan

    @property
    def nothing_matched(self) -> bool:
        """A filtered delivery none of whose deep dives match: nothing is posted."""
        return (
            self.plan.filtered
            and not self.states
            and not any(p.article_id is not None for p in self.parts)
        )

    def next_post(self, posted: Mapping[int, str], after: int = -1) -> Part | None:
        """The first part (after `after`, in thread order) Slack does not hold yet."""
        return next(
            (p for p in self.parts if p.part > after and not p.removed and p.part not in posted),
            None,
        )

    def next_edit(self) -> Part | None:
        """The first recorded message whose content is not what it should be now."""
        if not self.editable:
            return None
        for part in self.parts:
            state = self.states.get(part.part)
            if state is not None and state.fingerprint != part.fingerprint:
                return part
        return None


def thread(rendered: Rendered, recorded: Recorded) -> Thread:
    """The thread a claimed delivery should show."""
    return Thread(recorded, layout(rendered, recorded), dict(recorded.states), rendered)


def unplanned(states: Mapping[int, MessageState]) -> Recorded:
    """What the ledger holds of a delivery without a plan (a roll-up): its messages."""
    return Recorded(Plan((), 0), dict(states), "", ())


def fixed_thread(messages: Sequence[Message], recorded: Recorded) -> Thread:
    """A thread of these messages in order (parent first), never edited: a roll-up, composed
    once per claim."""
    parts = [Part(n, message, fingerprint(message)) for n, message in enumerate(messages)]
    return Thread(recorded, parts, dict(recorded.states), None, editable=False)
