"""Company names: normalisation for lookup, the curated alias table, and publisher knowledge."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

# Publication names carry words that say "this is a blog of X"; dropping them maps a feed
# name such as "The Netflix Tech Blog" or "Airbnb Engineering" onto the company itself.
_FEED_SUFFIXES = (
    "engineering and product blog",
    "engineering blog",
    "tech blog",
    "technology blog",
    "developer blog",
    "developers blog",
    "ai blog",
    "open source blog",
    "architecture blog",
    "research blog",
    "blog",
    "engineering",
    "tech",
    "code",
    "news",
    "hacks",
    "backstage",
    "radar",
)
_FEED_PREFIXES = ("the official ", "the ", "official ")
_SITE_RE = re.compile(r"\.(?:com|org|net|io|dev|co)$")
_TLD_RE = re.compile(r"\.(?:com|org|net|io|dev|co|blog|ai)$")
_CAMEL_RE = re.compile(r"(?<=[a-z])(?=[A-Z])")
_NON_ALNUM_RE = re.compile(r"[^0-9a-z]+")
_JOINT_RE = re.compile(r"\s+/\s+")

# Curated aliases: normalised key -> canonical display name. Keys are compact keys
# (see `company_key`), so spelling, case and quote variants are covered by one entry.
_ALIASES: dict[str, str] = {
    "aws": "AWS",
    "amazonaws": "AWS",
    "amazonawsai": "AWS",
    "amazonwebservices": "AWS",
    "awsarchitecture": "AWS",
    "awsopensource": "AWS",
    "awsmachinelearning": "AWS",
    "meta": "Meta",
    "facebook": "Meta",
    "facebookcode": "Meta",
    "facebookengineering": "Meta",
    "metaai": "Meta",
    "engineeringatmeta": "Meta",
    "cloudflare": "Cloudflare",
    "netflix": "Netflix",
    "google": "Google",
    "googleai": "Google",
    "googleopensource": "Google",
    "googlecloud": "Google",
    "googleresearch": "Google",
    "googledevelopers": "Google",
    "microsoft": "Microsoft",
    "microsoftresearch": "Microsoft",
    "officialmicrosoft": "Microsoft",
    "github": "GitHub",
    "oreilly": "O'Reilly",
    "oreillyradar": "O'Reilly",
    "oreillymedia": "O'Reilly",
    "soundcloud": "SoundCloud",
    "soundcloudbackstage": "SoundCloud",
    "yelp": "Yelp",
    "yelpengineeringandproduct": "Yelp",
    "mozilla": "Mozilla",
    "nvidia": "NVIDIA",
    "openai": "OpenAI",
    "hashicorp": "HashiCorp",
    "deeplearningai": "DeepLearning.AI",
    "thebatch": "The Batch",
    "batch": "The Batch",
    "brettterpstra": "Brett Terpstra",
    "bytebytego": "ByteByteGo",
    "infoq": "InfoQ",
    "datadog": "Datadog",
    "datadoghq": "Datadog",
    "grafana": "Grafana Labs",
    "grafanalabs": "Grafana Labs",
    "x": "X",
    "twitter": "X",
    "alphabet": "Google",
    "googledeepmind": "Google DeepMind",
    "deepmind": "Google DeepMind",
}


def _fold(text: str) -> str:
    """Case-fold and straighten quotes, keeping word boundaries."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return " ".join(text.casefold().split())


@lru_cache(maxsize=65536)
def compact(name: str) -> str:
    """Letters and digits only, case-folded: 'O’Reilly' -> 'oreilly'."""
    return _NON_ALNUM_RE.sub("", _fold(name))


_compact = compact


def _strip_feed_words(folded: str) -> str:
    """Drop 'The', 'Official' and trailing 'Blog'/'Engineering'-style words from a feed name."""
    changed = True
    while changed:
        changed = False
        for prefix in _FEED_PREFIXES:
            if folded.startswith(prefix) and len(folded) > len(prefix):
                folded = folded[len(prefix) :]
                changed = True
        for suffix in _FEED_SUFFIXES:
            if folded.endswith(" " + suffix):
                folded = folded[: -len(suffix) - 1].rstrip()
                changed = True
    return folded


@lru_cache(maxsize=65536)
def company_key(name: str) -> str:
    """The lookup key of a company name: case, quotes, spacing and feed words removed."""
    folded = _fold(name)
    if " " not in folded:  # 'BrettTerpstra.com', 'Booking.com': the site is the company
        folded = _SITE_RE.sub("", folded)
    stripped = _strip_feed_words(folded)
    compact = _NON_ALNUM_RE.sub("", stripped)
    if not compact:
        compact = _NON_ALNUM_RE.sub("", folded)
    alias = _ALIASES.get(compact)
    if alias is not None:
        return _NON_ALNUM_RE.sub("", _fold(alias))
    return compact


def canonical_name(name: str) -> str:
    """The display name used for a company: the curated one when the alias table knows it."""
    folded = _strip_feed_words(_fold(name))
    compact = _NON_ALNUM_RE.sub("", folded)
    return _ALIASES.get(compact, " ".join(name.split()))


# A name's words as compared against a line: case-folded, curly quotes straightened.
Words = tuple[str, ...]


def name_words(text: str) -> Words:
    """The words of a name as compared against a line (the line keeps its own spelling)."""
    return tuple(w.casefold().replace("’", "'").replace("‘", "'") for w in text.split())


def organisation_forms(name: str, from_sources: bool) -> list[str]:
    """How a stated name is written as a publisher: a Sources feed 'X Engineering Blog' is X."""
    if not from_sources:
        return [" ".join(name.split())]
    forms = []
    for written in source_names(name):
        stripped = _strip_feed_words(_fold(written))
        if stripped and stripped not in forms:
            forms.append(stripped)
    return forms


def split_joint(publisher: str) -> list[str]:
    """Split a joint publisher 'A / B' into its companies, as written."""
    return [part.strip() for part in _JOINT_RE.split(publisher.strip()) if part.strip()]


def source_names(source: str) -> list[str]:
    """Company names a Sources-list entry stands for ('BrettTerpstra.com' -> 'Brett Terpstra')."""
    names: list[str] = []
    for part in re.split(r"\s+\|\s+", source.strip()):
        part = part.strip()
        if not part:
            continue
        names.append(part)
        if _TLD_RE.search(part.casefold()):
            bare = _TLD_RE.sub("", part, count=0) if part.islower() else part[: part.rfind(".")]
            names.append(_CAMEL_RE.sub(" ", bare))
    return names


@lru_cache(maxsize=4096)
def feed_name_keys(source: str) -> frozenset[str]:
    """Compact names of the organisations a Sources entry names ('Acme Blog' -> 'acme')."""
    keys: set[str] = set()
    for name in source_names(source):
        folded = _fold(name)
        if " " not in folded:
            folded = _SITE_RE.sub("", folded)
        stripped = _NON_ALNUM_RE.sub("", _strip_feed_words(folded))
        if stripped:
            keys.add(stripped)
        keys.add(company_key(name))
    keys.discard("")
    return frozenset(keys)


_RECURRENCE_WORDS = 4  # longest publisher prefix whose continuations are counted
_RECURRENCE_CAP = 3  # distinct continuations beyond this say nothing more


class PublisherKnowledge:
    """Publishers known to exist: from the archive, Sources lists and unambiguous lines."""

    def __init__(self, names: Iterable[str] = (), *, curated: bool = True) -> None:
        self.curated = curated  # whether the curated organisation list is consulted
        self._keys: set[str] = set()
        self._exact: set[str] = set(_ALIASES)  # names as stated; feed names as organisations
        self.stated: set[tuple[str, bool]] = set()  # (name, from a Sources list) as told
        # Applied after the parser's split (see bot/digest/resplit.py): every name stated or
        # taught, as folded words indexed by their first word, and the operator's corrections
        # by the key of the wrong name.
        self.name_forms: dict[str, list[Words]] = {}
        # (first words of a name, the word after them): a cheap test of whether a split's
        # summary could continue its publisher into a longer known name.
        self.continuations: set[tuple[Words, str]] = set()
        self.corrections: dict[str, str] = {}
        self.settled: set[str] = set()  # keys of names the operator taught or corrected to
        # Leading words of undivided 'Company Summary' lines -> (times seen, distinct next words)
        self._prefixes: dict[str, tuple[int, frozenset[str]]] = {}
        for alias in _ALIASES.values():
            self._add_keys(alias)
        for name in names:
            self.add(name)

    def add(self, name: str) -> None:
        """Remember a publisher name (joint names count for each company)."""
        if (name, False) in self.stated:
            return  # issues repeat their publishers; once is enough
        self.stated.add((name, False))
        self._add_keys(name)
        self._exact.update(compact(part) for part in split_joint(name))
        self._add_forms(split_joint(name))

    def _add_forms(self, forms: Iterable[str]) -> None:
        for form in forms:
            words = name_words(form)
            if words and words not in self.name_forms.setdefault(words[0], []):
                self.name_forms[words[0]].append(words)
                for cut in range(1, len(words)):
                    self.continuations.add((words[:cut], words[cut]))

    def _add_keys(self, name: str) -> None:
        for part in split_joint(name):
            key = company_key(part)
            if key:
                self._keys.add(key)
                self._keys.add(_compact(part))

    def add_source(self, source: str) -> None:
        """Remember the companies a Sources-list entry names."""
        if (source, True) in self.stated:
            return  # every issue repeats its Sources list
        self.stated.add((source, True))
        for name in source_names(source):
            self._add_keys(name)
        self._exact.update(feed_name_keys(source))
        self._add_forms(organisation_forms(source, True))

    def teach(self, name: str, aliases: Iterable[str] = ()) -> None:
        """Remember a name the operator taught, and its aliases, as publishers to split on."""
        for form in (name, *aliases):
            self._add_keys(form)
            self._exact.add(compact(form))
            self.settled.add(company_key(form))
        self._add_forms((name, *aliases))

    def add_correction(self, wrong: str, right: str) -> None:
        """Remember that a split giving `wrong` should give `right` where the line allows it."""
        key = company_key(wrong)
        if key:
            self.corrections[key] = " ".join(right.split())
            self._add_keys(right)
            self._exact.add(compact(right))
            self.settled.add(company_key(right))

    def knows(self, name: str) -> bool:
        """Whether every company of this (possibly joint) name is known."""
        parts = split_joint(name)
        return bool(parts) and all(self._knows_one(p) for p in parts)

    def knows_exactly(self, name: str) -> bool:
        """Like `knows`, but 'X Engineering' is not known just because X is."""
        parts = split_joint(name)
        return bool(parts) and all(compact(p) in self._exact for p in parts)

    def _knows_one(self, part: str) -> bool:
        return company_key(part) in self._keys or _compact(part) in self._keys

    def observe(self, words: list[str]) -> None:
        """Count what follows each leading run of capitalised words of an undivided line."""
        key = ""
        for i in range(min(_RECURRENCE_WORDS, len(words) - 1)):
            word = words[i]
            if not word[:1].isupper() and not word[:1].isdigit() and i:
                return
            key = f"{key} {word}" if key else word
            following = words[i + 1].strip("\"'“”‘’()[],;:.!?").casefold()
            seen, nexts = self._prefixes.get(key, (0, frozenset()))
            if len(nexts) < _RECURRENCE_CAP and following not in nexts:
                nexts = nexts | {following}
            self._prefixes[key] = (seen + 1, nexts)

    def recurrence(self, name: str) -> tuple[int, frozenset[str]]:
        """How often lines started with `name`, and (up to 3 of) the words that followed it."""
        return self._prefixes.get(name, (0, frozenset()))

    def __len__(self) -> int:
        return len(self._keys)
