"""Telling the publisher from the summary in 'Title · Company Summary…' lines.

Nothing separates the two, so each way of cutting the leading run of capitalised words is
scored with every signal the data gives: publishers already known (archive, Sources lists,
unambiguous lines, the alias table), the publisher's name reappearing in the title or the
summary, and how much the words on either side of the cut look like a company name or like
the first words of an English sentence.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bot.digest.companies import PublisherKnowledge

_MAX_PUBLISHER_WORDS = 6

# Words that end company names far more often than they start a summary sentence.
_ORG_WORDS = frozenset(
    [
        "labs",
        "lab",
        "ai",
        "inc",
        "inc.",
        "ltd",
        "llc",
        "corp",
        "corp.",
        "corporation",
        "company",
        "co",
        "co.",
        "technologies",
        "technology",
        "tech",
        "systems",
        "software",
        "security",
        "research",
        "cloud",
        "data",
        "networks",
        "network",
        "group",
        "studio",
        "studios",
        "institute",
        "university",
        "foundation",
        "capital",
        "ventures",
        "health",
        "robotics",
        "dynamics",
        "digital",
        "media",
        "press",
        "io",
        "hq",
        "analytics",
        "intelligence",
        "computing",
        "semiconductor",
        "engineering",
        "partners",
        "consulting",
        "solutions",
        "services",
        "platforms",
        "interactive",
        "games",
        "mobility",
        "energy",
        "bank",
        "financial",
        "labs.",
        "academy",
        "alliance",
        "entertainment",
        "works",
        "industries",
        "holdings",
        "international",
        "global",
    ]
)

# Lower-case words allowed inside a company name ("Bank of America", "Procter & Gamble").
_NAME_JOINERS = frozenset({"of", "and", "&", "de", "du", "la", "von", "van", "der", "for", "+"})

# Words that open a summary sentence; never the last word of a company name.
_SENTENCE_OPENERS = frozenset(
    [
        "a",
        "an",
        "the",
        "as",
        "at",
        "by",
        "for",
        "from",
        "in",
        "into",
        "on",
        "to",
        "with",
        "without",
        "when",
        "while",
        "whereas",
        "where",
        "why",
        "how",
        "what",
        "which",
        "who",
        "although",
        "though",
        "because",
        "since",
        "after",
        "before",
        "during",
        "despite",
        "unlike",
        "like",
        "instead",
        "rather",
        "most",
        "many",
        "much",
        "more",
        "some",
        "several",
        "few",
        "all",
        "every",
        "each",
        "both",
        "this",
        "that",
        "these",
        "those",
        "its",
        "their",
        "our",
        "his",
        "her",
        "it",
        "they",
        "we",
        "you",
        "there",
        "here",
        "once",
        "if",
        "until",
        "over",
        "under",
        "amid",
        "among",
        "across",
        "along",
        "beyond",
        "behind",
        "between",
        "through",
        "throughout",
        "today",
        "now",
        "no",
        "not",
    ]
)

# Adjectives that open summaries ("Traditional OCR fails…") and never end a company name.
_DESCRIPTIVE = frozenset(
    [
        "traditional",
        "massive",
        "standard",
        "modern",
        "classic",
        "autonomous",
        "aggressive",
        "legacy",
        "large",
        "small",
        "high",
        "low",
        "new",
        "old",
        "early",
        "late",
        "real",
        "complex",
        "critical",
        "rapid",
        "public",
        "private",
        "global",
        "manual",
        "automated",
        "distributed",
        "dynamic",
        "static",
        "major",
        "minor",
        "secure",
        "safe",
        "heavy",
        "multi",
        "many",
        "most",
        "several",
        "long",
        "short",
        "fast",
        "slow",
        "simple",
        "hard",
        "cheap",
        "expensive",
        "sensitive",
        "sophisticated",
        "severe",
        "current",
        "recent",
        "typical",
        "common",
        "unified",
    ]
)


# Common given names: a publisher that starts with one is a person ("Julia Evans"), and a
# summary never starts with the surname, so the name is not cut after the given name.
_GIVEN_NAMES = frozenset(
    """aaron adam adrian alan alex alexander alice amanda amy andrea andrew andy anna anne
    anthony ben benjamin beth bill bob brad brandon brendan brett brian bruce bryan carl carlos
    carol caroline charity charles charlie chris christian christina christine christopher
    claire colin craig dan daniel danny dave david dean diana diane dominic don donald doug
    douglas dylan ed eddie edward elena elizabeth ellen emily emma eric erica erik ethan eva
    evan frank fred gabriel gary george grace greg gregory hannah harry heather helen henry
    hillel ian isaac jack jacob jake james jamie jane janet jason jeff jeffrey jennifer jenny
    jeremy jessica jim joe joel john jon jonathan jordan jose joseph josh joshua julia julian
    julie justin karen kate katie keith kelly kelsey ken kevin kim kyle laura lauren lee leo
    lisa liz lorin lucas luke marc marcus maria mark martin mary matt matthew max megan melissa
    michael michelle mike mitchell molly nathan neil nick nicole noah oliver olivia omar pat
    patrick paul peter phil philip rachel ralph ray rebecca richard rick rob robert robin ron
    ross ruby russ ryan sam samantha sandra sarah scott sean seth shawn simon sophie stephanie
    stephen steve steven sue susan tanya ted thomas tim timothy tina todd tom tony tyler
    vanessa victor vincent walter wendy werner will william yan zach zoe""".split()
)


def _looks_descriptive(word: str) -> bool:
    """Gerunds, participles, adverbs and common adjectives: sentence words, not name parts."""
    word = word.strip(_LEADING_PUNCT).rstrip(_TRAILING_PUNCT)
    if word in _DESCRIPTIVE:
        return True
    return len(word) > 4 and word.endswith(("ing", "ed", "ly")) and _zipf(word) > 2.5


_WORD_RE = re.compile(r"[\w'’.-]+")
_LEADING_PUNCT = "\"'“‘([{"
_TRAILING_PUNCT = "\"'”’)]},;:.!?"


@lru_cache(maxsize=65536)
def _zipf(word: str) -> float:
    """English word frequency on the Zipf scale (0 = unknown, 7 = 'the')."""
    from wordfreq import zipf_frequency  # imported on first use: it is heavy to load

    return float(zipf_frequency(word, "en"))


def _bare(token: str) -> str:
    return token.strip(_LEADING_PUNCT).rstrip(_TRAILING_PUNCT)


def _is_capitalised(token: str) -> bool:
    bare = token.lstrip(_LEADING_PUNCT)
    return bool(bare) and (bare[0].isupper() or bare[0].isdigit())


def _is_acronym(token: str) -> bool:
    bare = _bare(token)
    letters = [c for c in bare if c.isalpha()]
    return len(letters) >= 2 and sum(c.isupper() for c in letters) >= len(letters) - 1


def _commonness(token: str) -> float:
    """How much a capitalised token reads as an ordinary English word (about -1 to 3)."""
    bare = _bare(token)
    if not bare or _is_acronym(bare) or any(c.isdigit() for c in bare):
        return -1.0
    inner_caps = any(c.isupper() for c in bare[1:])
    if inner_caps:  # CamelCase names: GitHub, HashiCorp, QCon
        return -1.0
    lower = bare.casefold()
    freq = _zipf(lower)
    if freq == 0.0 and "-" in lower:  # 'Full-stack', 'Real-time': judge by the parts
        freq = min(_zipf(part) for part in lower.split("-") if part) if lower.strip("-") else 0.0
    score = freq - 3.5
    if lower.endswith("ing") or lower.endswith("ed") or lower.endswith("ly"):
        score += 0.7
    return max(-1.5, min(3.0, score))


def _contains_name(haystack: str, name: str) -> bool:
    """Whether `name` occurs in `haystack` as whole words (case-insensitive)."""
    if not name:
        return False
    text = haystack.casefold().replace("’", "'")
    needle = name.casefold().replace("’", "'")
    start = text.find(needle)
    while start != -1:
        end = start + len(needle)
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        if not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_"):
            return True
        start = text.find(needle, start + 1)
    return False


def _valid_cut(tokens: list[str], cut: int) -> bool:
    """Whether tokens[:cut] can be a company name and tokens[cut:] a summary."""
    name = tokens[:cut]
    if name[-1] in {"/", "&", "+"} or name[-1].casefold() in _NAME_JOINERS:
        return False
    if any(t in {"/", "&", "+"} for t in tokens[cut : cut + 2]):
        return False  # a joint publisher 'A / B' goes on
    for i, token in enumerate(name):
        if token in {"/", "&", "+"}:
            continue
        if token.casefold() in _NAME_JOINERS and 0 < i < cut - 1:
            continue
        if not _is_capitalised(token) and not (
            i == 0 and cut > 1 and name[1].casefold() in _ORG_WORDS  # 'dbt Labs'
        ):
            return False
        # Sentence punctuation inside a name means the cut is past the summary's start.
        if token[-1] in ",;:!?":
            return False
        if token[-1] == "." and i < cut - 1:
            return False
    if (
        cut == 1
        and len(tokens) > 2
        and tokens[0].casefold() in _GIVEN_NAMES
        and (_is_capitalised(tokens[1]) and not _is_acronym(tokens[1]))
    ):
        return False  # 'Julia Evans', never 'Julia'
    if cut == 1 and tokens[0].casefold() in _SENTENCE_OPENERS:
        return False  # 'The New Stack', never 'The'
    # 'Airbnb Airbnb faced…': the summary repeats the publisher, never a doubled name.
    return not (cut > 1 and tokens[0].casefold() == tokens[1].casefold())


def _score(tokens: list[str], cut: int, title: str, knowledge: PublisherKnowledge) -> float:
    name = " ".join(tokens[:cut])
    summary = " ".join(tokens[cut:])
    score = -1.1 * (cut - 1)
    if knowledge.knows(name):
        score += 10.0 + 0.6 * cut
    parts = [p for p in re.split(r"\s+/\s+", name) if p]
    if any(_contains_name(title, p) for p in parts):
        score += 2.5
    # The summary naming the publisher again ("Grafana Labs addressed this…").
    rest = " ".join(tokens[cut + 1 :])
    if any(_contains_name(rest, p) for p in parts):
        score += 2.0 + 0.3 * cut
    last = tokens[cut - 1].casefold().rstrip(".")
    if cut > 1:
        if last in _ORG_WORDS:
            score += 2.0
        elif last in _SENTENCE_OPENERS:
            score -= 6.0
        elif _looks_descriptive(last):
            score -= 1.5 + max(0.0, _commonness(tokens[cut - 1]))
        else:
            score -= 0.5 * max(0.0, _commonness(tokens[cut - 1]))
    if cut < len(tokens):
        first = tokens[cut]
        first_bare = _bare(first).casefold()
        if first_bare in _SENTENCE_OPENERS:
            score += 3.0
        elif (
            first_bare in _ORG_WORDS and cut < len(tokens) - 1 and _is_capitalised(tokens[cut + 1])
        ):
            score -= 2.5
        else:
            score += 0.9 * _commonness(first)
        # Mid-sentence capitals belong to names; a common word capitalised right after the
        # first word means the first word was still part of the publisher.
        if cut + 1 < len(tokens):
            second = tokens[cut + 1]
            if _is_capitalised(second) and not _is_acronym(second) and second[0].isalpha():
                score -= 0.8 + 1.2 * max(0.0, _commonness(second))
        if not _is_capitalised(first):
            score -= 8.0
    else:
        score -= 4.0  # no summary at all is unusual on a one-line deep dive
    if summary and summary[0] in "/&":
        score -= 20.0
    return score


def split_publisher(text: str, title: str, knowledge: PublisherKnowledge) -> tuple[str, str]:
    """Cut 'Company Summary…' into (company, summary) using every available signal."""
    tokens = text.split()
    if not tokens:
        return "", ""
    limit = min(_MAX_PUBLISHER_WORDS, len(tokens))
    best_cut, best_score = 1, float("-inf")
    for cut in range(1, limit + 1):
        if not _valid_cut(tokens, cut):
            last = tokens[cut - 1]
            if (
                cut > 1
                and not _is_capitalised(last)
                and last.casefold() not in _NAME_JOINERS | {"/"}
            ):
                break
            continue
        score = _score(tokens, cut, title, knowledge)
        if score > best_score:
            best_cut, best_score = cut, score
    return " ".join(tokens[:best_cut]), " ".join(tokens[best_cut:])
