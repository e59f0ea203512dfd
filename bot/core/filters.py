"""A channel's digest filter: `/digest filter …` grammar and the use cases behind it.

Semantics: a deep dive is posted to a filtered channel when it matches any include rule (every
deep dive, when there is no include) and no exclude rule. Companies match as `/digest company`
does (case, aliases, a unique whole-word prefix), topics as `/digest topic` (full text, stemmed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.core.text import clean
from bot.store import filters
from bot.store.db import Database
from bot.store.filters import MAX_RULES, Rule
from bot.store.fulltext import search_terms
from bot.store.queries import resolve_company, suggest_companies
from bot.workspace import Workspace

USAGE = (
    "Use `/digest filter include company NAME`, `/digest filter include topic WORDS`, "
    "`/digest filter exclude company NAME|topic WORDS`, `/digest filter clear`, "
    "or `/digest filter` to see it."
)
SEMANTICS = (
    "Deep dives matching any include (every one, when there is none) and no exclude are "
    "posted here; the parent message says how many."
)


@dataclass(frozen=True)
class FilterCommand:
    """A parsed `/digest filter …`: show, clear, or add a rule; `error` for bad input."""

    action: Literal["show", "clear", "add", "error"]
    rule: Rule | None = None
    error: str = ""


def parse_filter(argument: str) -> FilterCommand:
    """'', 'clear', or 'include|exclude company|topic VALUE'."""
    words = clean(argument).split()
    if not words or [w.casefold() for w in words] == ["show"]:
        return FilterCommand("show")
    head = [w.casefold() for w in words[:2]]
    if head == ["clear"]:
        return FilterCommand("clear")
    if (
        len(words) < 2
        or head[0] not in ("include", "exclude")
        or head[1]
        not in (
            "company",
            "topic",
        )
    ):
        return FilterCommand("error", error=USAGE)
    value = " ".join(words[2:])
    if not value:
        return FilterCommand("error", error=f"`/digest filter {head[0]} {head[1]}` needs a value.")
    if head[1] == "topic" and not search_terms(value):
        return FilterCommand("error", error="A topic filter needs words to match.")
    return FilterCommand("add", Rule(head[0], head[1], value))


def describe(rules: Sequence[Rule]) -> str:
    """'include company Cloudflare · exclude topic crypto', or 'none'."""
    return " · ".join(r.describe() for r in rules) or "none"


def rules(database: Database, workspace: Workspace, channel_id: str) -> list[Rule]:
    """A channel's filter rules."""
    with database.read() as session:
        return filters.channel_rules(session, workspace, channel_id)


def show_text(found: Sequence[Rule]) -> str:
    """What `/digest filter` answers."""
    if not found:
        return "This channel has no filter: every deep dive is posted. " + USAGE
    return f"This channel's filter: {describe(found)}.\n{SEMANTICS}"


def _resolved(database: Database, rule: Rule) -> Rule | str:
    """The rule with the company's archive name, or why it cannot be added."""
    if rule.kind != "company":
        return rule
    with database.read() as session:
        company = resolve_company(session, rule.value)
        suggestions = () if company else suggest_companies(session, rule.value)
    if company is None:
        hint = f" Did you mean {', '.join(suggestions)}?" if suggestions else ""
        return f"No company “{rule.value[:80]}” in the archive.{hint}"
    return Rule(rule.mode, rule.kind, company[1])


def run(
    database: Database, workspace: Workspace, channel_id: str, command: FilterCommand, user_id: str
) -> str:
    """Carry out a parsed `/digest filter …` (the caller checked who may change it); the reply."""
    if command.action == "error":
        return command.error
    if command.action == "show":
        return show_text(rules(database, workspace, channel_id))
    if command.action == "clear":
        database.write_retrying(lambda s: filters.clear_rules(s, workspace, channel_id))
        return "This channel's filter is cleared: every deep dive is posted."
    assert command.rule is not None  # noqa: S101  "add" always carries its rule
    rule = _resolved(database, command.rule)
    if isinstance(rule, str):
        return rule
    added = database.write_retrying(
        lambda s: filters.add_rule(s, workspace, channel_id, rule, user_id)
    )
    if not added:
        return f"A channel's filter holds at most {MAX_RULES} rules; `/digest filter clear` first."
    return show_text(rules(database, workspace, channel_id))
