"""Features of one candidate cut 'Name | Summary…' of a deep-dive line, for the fitted scorer."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cached_property

from bot.digest.companies import PublisherKnowledge, compact
from bot.digest.evidence import IssueContext, host_names, mentions, stands_alone
from bot.digest.lexicon import (
    NUMBER_WORDS,
    ORG_WORDS,
    SENTENCE_OPENERS,
    bare,
    commonness,
    given_name,
    is_acronym,
    is_capitalised,
    is_rare,
    looks_descriptive,
    person_lengths,
)
from bot.digest.organisations import curated_keys

_JOINT_RE = re.compile(r"\s+/\s+")

# Order matters: it is the order of the fitted weights.
FEATURES = (
    "extra_words",
    "last_org_word",
    "last_sentence_opener",
    "last_descriptive",
    "last_common",
    "inner_possessive",
    "number_alone",
    "first_sentence_opener",
    "first_common",
    "first_org_then_capital",
    "second_capitalised",
    "second_capitalised_common",
    "first_lower",
    "first_acronym",
    "first_rare",
    "first_rare_then_capital",
    "no_summary",
    "title",
    "own_summary",
    "issue_mentions",
    "issue_mentions_common_word",
    "sources",
    "url_host",
    "archive",
    "curated",
    "curated_common_word",
    "recurs_varied",
    "recurs_fixed",
    "given_alone",
    "person",
    "past_person",
    "last_possessive",
    "last_acronym",
    "following_in_title",
    "shorter_named",
)


@dataclass(frozen=True)
class Line:
    """One 'Company Summary…' text to cut, with what the issue says around it."""

    tokens: list[str]
    title: str
    hosts: frozenset[str]
    context: IssueContext
    knowledge: PublisherKnowledge

    @cached_property
    def text(self) -> tuple[str, list[int]]:
        """The tokens joined by spaces, and where each token starts in that text."""
        starts, at = [], 0
        for token in self.tokens:
            starts.append(at)
            at += len(token) + 1
        return " ".join(self.tokens), starts


def _name_side(tokens: list[str], cut: int) -> list[float]:
    if cut == 1:
        return [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, float(tokens[0].casefold() in NUMBER_WORDS)]
    word = tokens[cut - 1]
    last = word.casefold().rstrip(".")
    # 'Acme Google’s March…': a possessive inside a name means the summary began before it.
    inner = any(t.endswith(("'s", "’s")) for t in tokens[: cut - 1])
    return [
        float(cut - 1),
        float(last in ORG_WORDS),
        float(last in SENTENCE_OPENERS),
        float(looks_descriptive(last)),
        max(0.0, commonness(word)),
        float(inner),
        0.0,
    ]


def _summary_side(tokens: list[str], cut: int) -> list[float]:
    if cut >= len(tokens):
        return [0.0] * 9 + [1.0]
    first = tokens[cut]
    folded = bare(first).casefold()
    second = tokens[cut + 1] if cut + 1 < len(tokens) else ""
    second_cap = bool(second) and is_capitalised(second) and not is_acronym(second)
    second_cap = second_cap and second[0].isalpha()
    # A summary that repeats the publisher ('Zorvex Labs engineers…') says nothing about rarity.
    rare = is_rare(first) and folded != bare(tokens[0]).casefold()
    return [
        float(folded in SENTENCE_OPENERS),
        commonness(first),
        float(folded in ORG_WORDS and bool(second) and is_capitalised(second)),
        float(second_cap),
        max(0.0, commonness(second)) if second_cap else 0.0,
        float(not is_capitalised(first)),
        float(is_acronym(first)),
        float(rare),
        float(rare and second_cap),  # a surname: 'Ivo | Nakagawa Indexing…'
        0.0,
    ]


def _mention_features(line: Line, cut: int, parts: list[str]) -> list[float]:
    tokens = line.tokens
    following = bare(tokens[cut]).casefold() if cut < len(tokens) else ""
    # The summary is the line's text from the cut on (found, not joined again for every cut).
    text, starts = line.text
    summary_start = starts[cut] if cut < len(tokens) else len(text)
    title = own = issue = 0
    for part in parts:
        given = " " not in part and given_name(part) > 0.0
        in_title = mentions(line.title, part, following, given)
        in_summary = mentions(text, part, following, given, summary_start)
        # The issue's text holds this article too: its title, summary and (with no summary
        # left to consume it) the name itself are not evidence from elsewhere.
        elsewhere = mentions(line.context.text, part, following, given) - in_title - in_summary
        issue += max(0, elsewhere - (0 if following else 1))
        title += in_title
        own += in_summary
    common = cut == 1 and commonness(tokens[0]) > 1.0
    score = math.log1p(issue)
    return [float(title > 0), float(own > 0), score, score if common else 0.0]


def _recurrence(knowledge: PublisherKnowledge, tokens: list[str], cut: int) -> list[float]:
    seen, nexts = knowledge.recurrence(" ".join(tokens[:cut]))
    varied = max(0, len(nexts) - 1) / 2.0
    fixed = seen >= 2 and len(nexts) == 1 and cut < len(tokens)
    return [varied, float(fixed)]


def known_features(line: Line, cut: int, parts: list[str]) -> list[float]:
    """Set-membership evidence (before explaining away): sources, URL host, archive, list."""
    keys = [compact(p) for p in parts]
    curated = curated_keys() if line.knowledge.curated else frozenset()
    listed = all(k in curated for k in keys)
    # 'Signal', 'Linear', 'Render': listed, but also words that start sentences.
    common = len(parts) == 1 and " " not in parts[0] and commonness(parts[0]) > 1.0
    return [
        float(all(line.context.names_source(p) for p in parts)),
        float(all(host_names(k, line.hosts) for k in keys)),
        float(line.knowledge.knows_exactly(" / ".join(parts))),
        float(listed and not common),
        float(listed and common),
    ]


_PERSON_WORDS = 7  # the longest person's name read: given, two middle, three particles, surname


def people_in(tokens: list[str], cut: int) -> tuple[int, ...]:
    """Cuts at which the last publisher of tokens[:cut]'s part reads as a person's name."""
    start = 0
    for i in range(cut - 1, 0, -1):
        if tokens[i] == "/":
            start = i + 1
            break
    if not start:
        return person_lengths(tuple(tokens[:_PERSON_WORDS]))
    return tuple(start + n for n in person_lengths(tuple(tokens[start : start + _PERSON_WORDS])))


def _shape_features(line: Line, cut: int, people: tuple[int, ...]) -> list[float]:
    """A person's name ('Given [de] Surname') and what follows the name in the title."""
    tokens = line.tokens
    last = tokens[cut - 1]
    alone = 0.0
    if cut == 1 and len(tokens) > 1 and is_capitalised(tokens[1]) and not is_acronym(tokens[1]):
        alone = given_name(tokens[0])  # 'Mara | Okonkwo Rust's…': a given name rarely stands alone
    following = bare(tokens[cut]) if cut < len(tokens) else ""
    # 'Studio | Pulsar now…' under the title 'Introducing Pulsar': the summary opens with a
    # name the title states on its own, not as the end of a longer name.
    titled = len(following) > 1 and following in line.title and is_capitalised(following)
    titled = titled and commonness(following) < 0.5
    titled = titled and stands_alone(line.title, following, bare(last))
    return [
        alone,
        float(cut in people),
        float(any(length < cut for length in people)),
        float(cut > 1 and last.endswith(("'s", "’s"))),
        float(cut > 1 and is_acronym(last) and not is_acronym(tokens[0])),
        float(titled),
        0.0,  # shorter_named: set across the line's cuts by `explain_away`
    ]


def cut_features(line: Line, cut: int) -> list[float]:
    """The features of cutting the line after `cut` words, in FEATURES order."""
    name = " ".join(line.tokens[:cut])
    parts = [p for p in _JOINT_RE.split(name) if p]
    people = people_in(line.tokens, cut)
    return [
        *_name_side(line.tokens, cut),
        *_summary_side(line.tokens, cut),
        *_mention_features(line, cut, parts),
        *known_features(line, cut, parts),
        *_recurrence(line.knowledge, line.tokens, cut),
        *_shape_features(line, cut, people),
    ]


_NAMED = tuple(
    FEATURES.index(f)
    for f in ("title", "issue_mentions", "sources", "url_host", "archive", "recurs_varied")
)
_SHORTER_NAMED = FEATURES.index("shorter_named")


def explain_away(rows: list[list[float]]) -> None:
    """Set-membership evidence goes to the longest cut that has it, not to its prefixes too.

    The reverse holds too: a cut the issue never names, longer than one it does name
    ('Tovren Harbor' in the signal, the line 'Tovren Harbor Payments Fraud…'), is marked.
    """
    first = FEATURES.index("sources")
    for column in range(first, first + 5):
        longest_seen = False
        for row in reversed(rows):
            if row[column] and longest_seen:
                row[column] = 0.0
            longest_seen = longest_seen or bool(row[column])
    shorter_named = False
    for row in rows:
        named = bool(max(row[i] for i in _NAMED))
        if shorter_named and not named:
            row[_SHORTER_NAMED] = 1.0
        shorter_named = shorter_named or named
