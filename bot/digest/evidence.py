"""What an issue says about its publishers: mentions in its prose, Sources feeds, URL hosts."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot.digest.companies import compact, feed_name_keys
from bot.digest.lexicon import surname_like

_URL_RE = re.compile(r"https?://[^\s)\]>\"']+")
_HOST_NOISE = frozenset({"www", "blog", "blogs", "engineering", "eng", "tech", "m", "news"})
# Words a site adds to the organisation's name in its host ('datadoghq', 'stripeblog').
_HOST_SUFFIXES = ("hq", "eng", "engineering", "tech", "blog", "inc", "labs", "app", "dev")


def urls_in(text: str) -> list[str]:
    """Every http(s) URL written in a text."""
    return _URL_RE.findall(text)


def host_keys(urls: Iterable[str]) -> frozenset[str]:
    """Compact names a URL host may stand for: 'mistral.ai' -> {'mistral', 'ai', 'mistralai'}."""
    keys: set[str] = set()
    for url in urls:
        try:
            host = (urlsplit(url).hostname or "").casefold()
        except ValueError:
            continue
        labels = [label for label in host.split(".") if label and label not in _HOST_NOISE]
        for i, label in enumerate(labels):
            keys.add(label.replace("-", ""))
            if i + 1 < len(labels):
                keys.add((label + labels[i + 1]).replace("-", ""))
    return frozenset(keys)


def host_names(key: str, hosts: frozenset[str]) -> bool:
    """Whether a compact name is what one of the hosts is named after."""
    if len(key) < 2 or not hosts:
        return False
    if key in hosts:
        return True
    return len(key) >= 4 and any(key + suffix in hosts for suffix in _HOST_SUFFIXES)


def _followed_by(text: str, end: int, word: str) -> bool:
    """Whether the word after position `end` of a text is `word` (case-folded, bare)."""
    i = end
    while i < len(text) and text[i] in " \t\n\"'“‘([":
        i += 1
    stop = i + len(word)
    if text[i:stop].casefold() != word:
        return False
    return stop >= len(text) or not text[stop].isalnum()


def _next_word(text: str, end: int) -> str:
    """The word after position `end` of a text, as written."""
    rest = text[end : end + 40].split(maxsplit=1)
    return rest[0] if rest and text[end : end + 1].isspace() else ""


def mentions(text: str, name: str, following: str, given: bool = False, begin: int = 0) -> int:
    """Whole-word occurrences of `name` in `text` that are not followed by `following`.

    An occurrence followed by the line's next word is evidence for the longer name, so it is
    explained away here ('Two' in 'Two Sigma Open Sources' counts for 'Two Sigma', not 'Two').
    With `given` (the name is a given name), one followed by a surname names another person
    ('Lucinda Jablonski' is no mention of a publisher 'Lucinda'). Only text[begin:] is read.
    """
    count = 0
    start = text.find(name, begin)
    while start != -1:
        end = start + len(name)
        if (
            (not start or not text[start - 1].isalnum())
            and (end == len(text) or not text[end].isalnum())
            and (not following or not _followed_by(text, end, following))
            and not (given and surname_like(_next_word(text, end)))
        ):
            count += 1
        start = text.find(name, end)
    return count


def stands_alone(text: str, word: str, before: str) -> bool:
    """Whether `word` occurs in `text` as a whole word not right after the word `before`."""
    start = text.find(word)
    before = before.casefold()
    while start != -1:
        end = start + len(word)
        if (not start or not text[start - 1].isalnum()) and (
            end == len(text) or not text[end].isalnum()
        ):
            gap = text.rfind(" ", 0, max(0, start - 1))  # the previous word: text[gap+1:start-1]
            previous = text[gap + 1 : start].strip().strip("\"'“‘([")
            if previous.casefold() != before:
                return True
        start = text.find(word, end)
    return False


@dataclass(frozen=True)
class IssueContext:
    """The text of a whole issue and the names its Sources list states, for every split in it."""

    text: str = ""
    source_keys: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def build(cls, prose: Iterable[str], sources: Iterable[str]) -> IssueContext:
        """Context from the issue's prose (signal, patterns, every dive line) and its Sources."""
        keys: set[str] = set()
        for source in sources:
            keys.update(feed_name_keys(source))
        return cls("\n".join(prose), frozenset(keys))

    def names_source(self, name: str) -> bool:
        """Whether the Sources list names this organisation (also as 'X Blog', 'X.com' …)."""
        return bool(self.source_keys) and compact(name) in self.source_keys


EMPTY_CONTEXT = IssueContext()
