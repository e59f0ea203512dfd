"""Following a company or topic: /digest follow, following, unfollow, and the matching step."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Literal

from bot.core.text import clean
from bot.store import follows as store
from bot.store.db import Database
from bot.store.fulltext import search_terms, topic_key
from bot.store.queries import resolve_company, suggest_companies
from bot.workspace import Workspace

# Each follow is matched against every new issue and a person's DM lists one line per article,
# so a person has at most this many; more is not a reading list but a second archive.
MAX_FOLLOWS = 25
# A follow is a standing query: a topic of more than a few words matches nothing new.
MAX_TOPIC_CHARS = 100
MAX_TOPIC_TERMS = 8
USAGE = (
    "Use `/digest follow company Cloudflare`, `/digest follow topic rate limiting`, "
    "`/digest following` or `/digest unfollow company NAME | topic WORDS | all`."
)

Kind = Literal["company", "topic"]


@dataclass(frozen=True)
class Outcome:
    """What a follow or unfollow did, in one line for the person."""

    ok: bool
    text: str


def parse_target(argument: str) -> tuple[Kind, str] | None:
    """'company NAME' or 'topic WORDS' (None: neither)."""
    word, _, rest = clean(argument).partition(" ")
    kind = word.casefold()
    if kind in ("company", "topic") and rest.strip():
        return kind, rest.strip()  # type: ignore[return-value]
    return None


def follow(
    database: Database, workspace: Workspace, user_id: str, argument: str, now: dt.datetime
) -> Outcome:
    """Follow a company (as /digest company finds it) or a topic (as /digest topic searches)."""
    target = parse_target(argument)
    if target is None:
        return Outcome(False, USAGE)
    kind, what = target
    with database.write() as session:
        if store.count_follows(session, workspace, user_id) >= MAX_FOLLOWS:
            return Outcome(
                False,
                f"You already follow {MAX_FOLLOWS} companies and topics, the most one person "
                "can: `/digest unfollow` one first.",
            )
        if kind == "company":
            found = resolve_company(session, what)
            if found is None:
                return Outcome(False, _no_company(what, suggest_companies(session, what)))
            company_id, name = found
            added = store.add_follow(
                session,
                workspace,
                user_id,
                kind="company",
                key=str(company_id),
                label=name[:200],
                company_id=company_id,
                now=now,
            )
            label = name
        else:
            problem = _topic_problem(what)
            if problem:
                return Outcome(False, problem)
            key = topic_key(what)
            label = what  # the person's words ("Q&A"); the key is what matches
            added = store.add_follow(
                session,
                workspace,
                user_id,
                kind="topic",
                key=key,
                label=label[:200],
                company_id=None,
                now=now,
            )
    noun = f"{label}" if kind == "company" else f"the topic “{label}”"
    if not added:
        return Outcome(True, f"You already follow {noun}.")
    return Outcome(
        True, f"You now follow {noun}: new articles come to you in a direct message from the bot."
    )


def _no_company(name: str, suggestions: tuple[str, ...]) -> str:
    shown = name if len(name) <= 60 else name[:60] + "…"
    if suggestions:
        return (
            f"No company called “{shown}” in the archive. Did you mean {' or '.join(suggestions)}?"
        )
    return f"No company called “{shown}” in the archive."


def _topic_problem(words: str) -> str | None:
    terms = search_terms(words)
    if not terms:
        return "Give some words to follow, e.g. `/digest follow topic rate limiting`."
    if len(words) > MAX_TOPIC_CHARS or len(terms) > MAX_TOPIC_TERMS:
        return (
            f"A followed topic is at most {MAX_TOPIC_TERMS} words and {MAX_TOPIC_CHARS} "
            "characters (every word must appear in an article for it to match)."
        )
    return None


def unfollow(database: Database, workspace: Workspace, user_id: str, argument: str) -> Outcome:
    """Stop following a company, a topic, or everything (`all`)."""
    argument = clean(argument)
    if argument.casefold() == "all":
        with database.write() as session:
            removed = store.remove_all(session, workspace, user_id)
        if not removed:
            return Outcome(True, "You were not following anything.")
        return Outcome(True, f"You no longer follow anything ({removed} removed).")
    target = parse_target(argument)
    if target is None:
        return Outcome(False, USAGE)
    kind, what = target
    with database.write() as session:
        if kind == "company":
            found = resolve_company(session, what)
            removed_one = bool(found) and store.remove_follow(
                session, workspace, user_id, "company", str(found[0]) if found else ""
            )
            if not removed_one:
                removed_one = store.remove_follow_labelled(session, workspace, user_id, kind, what)
            label = found[1] if found else what
        else:
            removed_one = store.remove_follow(session, workspace, user_id, "topic", topic_key(what))
            label = what
    shown = label if len(label) <= 60 else label[:60] + "…"
    noun = shown if kind == "company" else f"the topic “{shown}”"
    if not removed_one:
        return Outcome(False, f"You do not follow {noun}. See `/digest following`.")
    return Outcome(True, f"You no longer follow {noun}.")


def unfollow_id(database: Database, workspace: Workspace, user_id: str, follow_id: int) -> bool:
    """Remove one of the person's follows by id (Home tab)."""
    with database.write() as session:
        return store.remove_follow_id(session, workspace, user_id, follow_id)


def following(database: Database, workspace: Workspace, user_id: str) -> list[store.Follow]:
    """The person's follows."""
    with database.read() as session:
        return store.list_follows(session, workspace, user_id)


def match_new(database: Database, now: dt.datetime, recent_days: float) -> int:
    """Match articles that arrived since the last run against every follow; DMs created."""
    with database.write() as session:
        ids = store.unmatched_articles(session, recent_days)
        articles = store.claim_articles(session, ids, now)
        return store.match_and_record(session, articles, now, secrets.randbits(62))


def followers(database: Database) -> list[store.FollowerView]:
    """Every follower with counts and any stop, for operators."""
    with database.read() as session:
        return store.followers(session)
