"""Channel filters (per workspace) and which of an issue's articles they let through."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session

from bot.store.fulltext import match_among, search_terms
from bot.store.queries import resolve_company
from bot.store.sql import (
    in_bound_workspace,
    in_workspace,
    insert_ignore,
    workspace_binds,
    workspace_values,
)
from bot.store.tables import ArticleCompanyRow, ChannelFilterRow
from bot.workspace import Workspace

MAX_RULES = 20


@dataclass(frozen=True, order=True)
class Rule:
    """One filter rule: include/exclude, company/topic, and the name or words."""

    mode: str  # include | exclude
    kind: str  # company | topic
    value: str

    def describe(self) -> str:
        """'include company Cloudflare'."""
        return f"{self.mode} {self.kind} {self.value}"


def rule_key(value: str) -> str:
    """The folded form two spellings of one rule share."""
    return " ".join(value.casefold().split())


def _where(workspace: Workspace, channel_id: str) -> list[Any]:
    return [in_workspace(ChannelFilterRow, workspace), ChannelFilterRow.channel_id == channel_id]


def channel_rules(session: Session, workspace: Workspace, channel_id: str) -> list[Rule]:
    """A channel's filter rules, includes first, in the order they were added."""
    params = {**workspace_binds(workspace), "r_channel": channel_id}
    rows = session.connection().execute(_RULES, params).tuples()
    return [Rule(mode, kind, value) for mode, kind, value in rows]


# Built once: every first claim of a delivery reads its channel's rules (bot/delivery/plan.py).
_RULES = (
    select(ChannelFilterRow.mode, ChannelFilterRow.kind, ChannelFilterRow.value)
    .where(
        in_bound_workspace(ChannelFilterRow), ChannelFilterRow.channel_id == bindparam("r_channel")
    )
    .order_by(ChannelFilterRow.mode.desc(), ChannelFilterRow.id)
)


def add_rule(
    session: Session, workspace: Workspace, channel_id: str, rule: Rule, user_id: str | None
) -> bool:
    """Add a rule (once); False when the channel already has MAX_RULES rules."""
    count = session.scalar(
        select(func.count()).select_from(ChannelFilterRow).where(*_where(workspace, channel_id))
    )
    if (count or 0) >= MAX_RULES:
        return False
    insert_ignore(
        session,
        ChannelFilterRow,
        {
            **workspace_values(workspace),
            "channel_id": channel_id,
            "mode": rule.mode,
            "kind": rule.kind,
            "value": rule.value,
            "key": rule_key(rule.value),
            "created_by": user_id,
        },
        ["enterprise_id", "team_id", "channel_id", "mode", "kind", "key"],
    )
    return True


def clear_rules(session: Session, workspace: Workspace, channel_id: str) -> int:
    """Remove every rule of a channel; how many there were."""
    result = session.execute(
        delete(ChannelFilterRow)
        .where(*_where(workspace, channel_id))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _matching(session: Session, rule: Rule, ids: list[int]) -> set[int]:
    if rule.kind == "company":
        company = resolve_company(session, rule.value)
        if company is None:  # the company left the archive (renamed by a fix): nothing matches
            return set()
        return set(
            session.scalars(
                select(ArticleCompanyRow.article_id).where(
                    ArticleCompanyRow.company_id == company[0],
                    ArticleCompanyRow.article_id.in_(ids),
                )
            )
        )
    return match_among(session, search_terms(rule.value), ids)


def passing(session: Session, rules: Iterable[Rule], article_ids: Iterable[int]) -> list[int]:
    """The articles a filter lets through, in the given order: any include (or everything
    when there is none), minus every exclude."""
    ids = list(article_ids)
    rules = list(rules)
    includes = [r for r in rules if r.mode == "include"]
    kept = set(ids)
    if includes:
        kept = set().union(*(_matching(session, r, ids) for r in includes))
    for rule in rules:
        if rule.mode == "exclude":
            kept -= _matching(session, rule, ids)
    return [i for i in ids if i in kept]
