"""Word knowledge for publisher splits: words that end names, words that open sentences."""

from __future__ import annotations

import gzip
import math
import re
from functools import lru_cache
from pathlib import Path

# Words that end company names far more often than they start a summary sentence.
ORG_WORDS = frozenset(
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

# Particles inside a person's name ('Pieter de Vries', 'Ahmed bin Saleh', 'Gerrit van der Berg').
NAME_PARTICLES = frozenset(
    """de da di du dos das del della van von der den ter le la bin binti ibn zu af""".split()
)

# Lower-case words allowed inside a company name ("Bank of America", "Read the Docs").
NAME_JOINERS = frozenset({"of", "and", "&", "for", "+", "the"}) | NAME_PARTICLES

# Words that open a summary sentence; never the last word of a company name.
SENTENCE_OPENERS = frozenset(
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
DESCRIPTIVE = frozenset(
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


# Number words that start names ('Two Sigma', 'Seven Bridges') but are rarely a whole name.
NUMBER_WORDS = frozenset(
    """one two three four five six seven eight nine ten eleven twelve twenty hundred thousand
    million first second third""".split()
)

GIVEN_NAMES_FILE = Path(__file__).resolve().parent / "data" / "given_names.tsv.gz"
_RANK_SCALE = math.log10(2000)  # rank 1 -> 1.0, rank 1,000 (the table's last) -> 0.09


_TABLE_ROW_RE = re.compile(r"^([^\t\n#]+)\t(\d+)$", re.MULTILINE)


@lru_cache(maxsize=1)
def _given_ranks() -> dict[str, str]:
    """Case-folded given names and their best rank in any country (names-dataset, derived)."""
    text = gzip.decompress(GIVEN_NAMES_FILE.read_bytes()).decode("utf-8")
    # Ranks stay text until a word is looked up: building 55,000 ints costs more than the rest.
    return dict(_TABLE_ROW_RE.findall(text))


@lru_cache(maxsize=65536)
def given_name(token: str) -> float:
    """How common a given name a capitalised word is in some country (0 = none, 1 = the top)."""
    word = bare(token)
    if not word[:1].isupper() or is_acronym(word):
        return 0.0
    rank = _given_ranks().get(word.casefold())
    return 0.0 if rank is None else 1.0 - math.log10(int(rank)) / _RANK_SCALE


@lru_cache(maxsize=65536)
def looks_descriptive(word: str) -> bool:
    """Gerunds, participles, adverbs and common adjectives: sentence words, not name parts."""
    word = word.strip(_LEADING_PUNCT).rstrip(_TRAILING_PUNCT)
    if word in DESCRIPTIVE:
        return True
    return len(word) > 4 and word.endswith(("ing", "ed", "ly")) and zipf(word) > 2.5


_LEADING_PUNCT = "\"'“‘([{"
_TRAILING_PUNCT = "\"'”’)]},;:.!?"


@lru_cache(maxsize=65536)
def zipf(word: str) -> float:
    """English word frequency on the Zipf scale (0 = unknown, 7 = 'the')."""
    from wordfreq import zipf_frequency  # imported on first use: it is heavy to load

    return float(zipf_frequency(word, "en"))


def bare(token: str) -> str:
    """A token without surrounding quotes, brackets and punctuation."""
    return token.strip(_LEADING_PUNCT).rstrip(_TRAILING_PUNCT)


# A name's short lower-case prefix: 'al-Rashid', "d'Almeida", 'e-Government', 'eBay', 'iOS'.
_NAME_PREFIX_RE = re.compile(r"^[a-z]{1,2}[-'’]?(?=[A-Z])")


def is_capitalised(token: str) -> bool:
    """Whether a token starts with a capital letter or a digit ('al-Rashid' counts)."""
    bare = token.lstrip(_LEADING_PUNCT)
    if not bare:
        return False
    if bare[0].isupper() or bare[0].isdigit():
        return True
    return bool(_NAME_PREFIX_RE.match(bare))


@lru_cache(maxsize=65536)
def is_acronym(token: str) -> bool:
    """Whether a token is (nearly) all capitals: AWS, NVIDIA."""
    letters = [c for c in bare(token) if c.isalpha()]
    return len(letters) >= 2 and sum(c.isupper() for c in letters) >= len(letters) - 1


@lru_cache(maxsize=65536)
def commonness(token: str) -> float:
    """How much a capitalised token reads as an ordinary English word (about -1 to 3)."""
    word = bare(token)
    if not word or is_acronym(word) or any(c.isdigit() for c in word):
        return -1.0
    inner_caps = any(c.isupper() for c in word[1:])
    if inner_caps:  # CamelCase names: GitHub, HashiCorp, QCon
        return -1.0
    lower = word.casefold()
    freq = zipf(lower)
    if freq == 0.0 and "-" in lower:  # 'Full-stack', 'Real-time': judge by the parts
        freq = min(zipf(part) for part in lower.split("-") if part) if lower.strip("-") else 0.0
    score = freq - 3.5
    if lower.endswith("ing") or lower.endswith("ed") or lower.endswith("ly"):
        score += 0.7
    return max(-1.5, min(3.0, score))


@lru_cache(maxsize=65536)
def is_rare(token: str) -> bool:
    """A plain word English hardly uses: a surname or a brand ('Kowalczyk'), not a sentence word."""
    word = bare(token)
    if not word.isalpha() or is_acronym(word) or any(c.isupper() for c in word[1:]):
        return False
    return zipf(word.casefold()) < 2.3


_INITIAL_RE = re.compile(r"^[A-Z]\.$")


def is_initial(token: str) -> bool:
    """A middle initial: 'J.'."""
    return bool(_INITIAL_RE.match(token))


@lru_cache(maxsize=65536)
def surname_like(token: str) -> bool:
    """Whether a word can end a person's name: capitalised, letters only, not a sentence word."""
    word = token.rstrip(",;:")
    if word != token or not is_capitalised(word) or is_acronym(word):
        return False
    plain = _NAME_PREFIX_RE.sub("", word).replace("-", "").replace("'", "").replace("’", "")
    if not plain.isalpha() or word.endswith(("'s", "’s")):
        return False
    return word.casefold() not in SENTENCE_OPENERS and commonness(word) < 1.0


_MAX_MIDDLE = 2  # 'Jean Paul Sartre', 'Inés J. Yamazaki', 'Mary Ann K. Smith'


@lru_cache(maxsize=4096)
def person_lengths(tokens: tuple[str, ...]) -> tuple[int, ...]:
    """The word counts at which the line's start reads as 'Given [middle] [particles] Surname'."""
    if not tokens or given_name(tokens[0]) <= 0.0:
        return ()
    found: list[int] = []
    i = 1
    for _ in range(_MAX_MIDDLE + 1):
        j = i
        while j < len(tokens) and tokens[j].casefold() in NAME_PARTICLES:
            j += 1
        if j < len(tokens) and surname_like(tokens[j]):
            found.append(j + 1)
        if i < len(tokens) and (is_initial(tokens[i]) or given_name(tokens[i]) > 0.0):
            i += 1  # a middle name or initial: the surname may come later
        else:
            break
    return tuple(found)
