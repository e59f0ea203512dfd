"""Following a company or topic: /digest follow, following, unfollow, and the matching step."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Literal

from bot.core.text import clean
from bot.digest.companies import company_key
from bot.store import follows as store
from bot.store.db import Database
from bot.store.fulltext import search_terms, topic_key
from bot.store.queries import resolve_company, suggest_companies
from bot.workspace import Workspace

# Each follow is matched against every new issue and a person's DM lists one line per article,
# so a person has at most this many; more is not a reading list but a second archive.
MAX_FOLLOWS = 25
# Company names in the archive are far shorter; a longer one is not a name anybody will publish
# under (and it must fit a button's value and a line of `/digest following`).
MAX_COMPANY_CHARS = 100
# A follow is a standing query: a topic of more than a few words matches nothing new.
MAX_TOPIC_CHARS = 100
MAX_TOPIC_TERMS = 8
USAGE = (
    "Use `/digest follow company Cloudflare`, `/digest follow topic rate limiting`, "
    "`/digest following` or `/digest unfollow company NAME | topic WORDS | all`."
)

Kind = Literal["company", "topic"]

# What a person following a company the archive does not hold yet is told.
NOT_YET = "not in the archive yet: you will hear when it first appears"
_TOO_MANY = (
    f"You already follow {MAX_FOLLOWS} companies and topics, the most one person can: "
    "`/digest unfollow` one first."
)


@dataclass(frozen=True)
class Outcome:
    """What a follow or unfollow did, in one line for the person.

    A company name close to known ones follows nothing yet: `suggestions` are the close names
    and `name` the name as typed, each for the person to choose (`follow_company`).
    """

    ok: bool
    text: str
    suggestions: tuple[str, ...] = ()
    name: str = ""


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
    if kind == "company":
        return follow_company(database, workspace, user_id, what, now)
    problem = _topic_problem(what)
    if problem:
        return Outcome(False, problem)
    label = what  # the person's words ("Q&A"); the key is what matches
    with database.write() as session:
        if store.count_follows(session, workspace, user_id) >= MAX_FOLLOWS:
            return Outcome(False, _TOO_MANY)
        added = store.add_follow(
            session,
            workspace,
            user_id,
            kind="topic",
            key=topic_key(what),
            label=label[:200],
            company_id=None,
            now=now,
        )
    if not added:
        return Outcome(True, f"You already follow the topic “{label}”.")
    return Outcome(
        True,
        f"You now follow the topic “{label}”: new articles come to you in a direct message "
        "from the bot.",
    )


def follow_company(
    database: Database,
    workspace: Workspace,
    user_id: str,
    name: str,
    now: dt.datetime,
    *,
    as_typed: bool = False,
) -> Outcome:
    """Follow a company by name: the one /digest company finds, else the name itself until
    its first article arrives. A name close to known ones is followed only `as_typed`
    (confirmed); otherwise the close names come back as suggestions."""
    name = clean(name)
    problem = _company_problem(name)
    if problem:
        return Outcome(False, problem)
    with database.write() as session:
        if store.count_follows(session, workspace, user_id) >= MAX_FOLLOWS:
            return Outcome(False, _TOO_MANY)
        found = resolve_company(session, name)
        if found is not None:
            # A waiting follow of this very name is the same follow: bound now, not doubled.
            store.bind_waiting(session, store.waiting_key(name))
            company_id, label = found
            added = store.add_follow(
                session,
                workspace,
                user_id,
                kind="company",
                key=str(company_id),
                label=label[:200],
                company_id=company_id,
                now=now,
            )
            if not added:
                return Outcome(True, f"You already follow {label}.")
            return Outcome(
                True,
                f"You now follow {label}: new articles come to you in a direct message "
                "from the bot.",
            )
        key = store.waiting_key(name)
        # Asked again for a name already followed as typed: no second "did you mean".
        waiting = store.has_follow(session, workspace, user_id, "company", key)
        suggestions = () if as_typed or waiting else suggest_companies(session, name)
        if suggestions:
            return Outcome(False, _did_you_mean(name, suggestions), suggestions, name)
        added = store.add_follow(
            session,
            workspace,
            user_id,
            kind="company",
            key=key,
            label=name,
            company_id=None,
            now=now,
            name=name,
        )
    verb = "You now follow" if added else "You already follow"
    return Outcome(True, f"{verb} “{_shown(name)}”. It is {NOT_YET}.")


def _shown(name: str) -> str:
    return name if len(name) <= 60 else name[:60] + "…"


def _company_problem(name: str) -> str | None:
    if not company_key(name):
        return "Give a company name, e.g. `/digest follow company Cloudflare`."
    if len(name) > MAX_COMPANY_CHARS:
        return f"A company name is at most {MAX_COMPANY_CHARS} characters."
    return None


def _did_you_mean(name: str, suggestions: tuple[str, ...]) -> str:
    return (
        f"No company called “{_shown(name)}” in the archive yet. Did you mean "
        f"{' or '.join(suggestions)}? Or follow “{_shown(name)}” as typed, to hear when that "
        "name first appears."
    )


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
            # Still waiting for its first article: followed under the name's key.
            removed_one = removed_one or store.remove_follow(
                session, workspace, user_id, "company", store.waiting_key(what)
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
        if articles:  # new articles may bring the first of a company someone waits for
            store.bind_waiting(session)
        return store.match_and_record(session, articles, now, secrets.randbits(62))


def followers(database: Database) -> list[store.FollowerView]:
    """Every follower with counts and any stop, for operators."""
    with database.read() as session:
        return store.followers(session)
