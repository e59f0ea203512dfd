"""Reading digest issues from text: plain layouts (blank-line or compact) and Markdown."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from bot.digest.companies import PublisherKnowledge, split_joint
from bot.digest.evidence import IssueContext, host_keys, urls_in
from bot.digest.models import Article, Issue
from bot.digest.publishers import attribute, make_line
from bot.digest.resplit import apply_operator_knowledge

MAX_FILE_BYTES = 5_000_000
# Each deep dive is one threaded reply, posted about one a second per channel: an issue has
# 10-30; past this it is not a daily digest but a mistake (5,000 would be 83 minutes of posts).
MAX_DEEP_DIVES = 100


class DigestParseError(ValueError):
    """A text that is not a readable digest issue; `line` is 1-based when it helps."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class _Section(Enum):
    PREAMBLE = "preamble"
    SOURCES = "sources"
    SIGNAL = "signal"
    DIVES = "dives"
    PATTERNS = "patterns"


_HEADINGS = {
    "sources": _Section.SOURCES,
    "signal of the day": _Section.SIGNAL,
    "deep dives": _Section.DIVES,
    "patterns across companies": _Section.PATTERNS,
}

_SEP_RE = re.compile(r"\s+·\s+")
_LIST_MARKER_RE = re.compile(r"^(?:[-*+•]|\d{1,3}[.)])\s+")
_MD_LINK_RE = re.compile(r"\[([^\]\n]*)\]\((https?://[^\s)]+)\)")
_TITLE_LINK_RE = re.compile(r"^\[(?P<title>[^\]\n]*)\]\((?P<url>https?://[^\s)]+)\)\s+·\s+")
_TITLE_BRACKET_RE = re.compile(r"^\[(?P<title>.*?)\]\s+·\s+")
_SOURCE_RE = re.compile(
    r"^(?P<company>.+?)\s+·\s+(?:\[Source\]\((?P<url>https?://[^\s)]+)\)|Source\b:?)"
    r"(?:\s+(?P<url2>https?://\S+))?\s*(?P<summary>.*)$"
)
_ISO_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_LONG_DATE_RE = re.compile(
    r"\b(January|February|March|April|May|June|July|August|September|October|November|"
    r"December)\s+(\d{1,2}),?\s+(\d{4})\b"
)
_CATEGORIES_RE = re.compile(r"^\**Categories\**\s*:\s*(?P<items>.*)$", re.IGNORECASE)
_EMPHASIS_RE = re.compile(r"^(\*\*|__)(?P<inner>.+)\1$")


# The longest heading ('## **Patterns Across Companies**:') is far shorter: longer lines are text.
_MAX_HEADING_CHARS = 80


def _heading(line: str) -> str:
    """A line with Markdown '#' marks, trailing '#' and emphasis removed ('' for a long line)."""
    if len(line) > _MAX_HEADING_CHARS:
        return ""
    text = line.strip().lstrip("#").strip().rstrip("#").strip()
    match = _EMPHASIS_RE.match(text)
    if match:
        text = match.group("inner").strip()
    return text.rstrip(":").strip()


def _is_heading_line(line: str) -> bool:
    stripped = line.strip()
    return stripped.startswith("#") or stripped.endswith("#")


def _issue_date(text: str, line_no: int) -> dt.date | None:
    """The issue date named in a title line, or None when the line names none."""
    iso = _ISO_DATE_RE.search(text)
    try:
        if iso:
            return dt.date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        long = _LONG_DATE_RE.search(text)
        if long:
            # strptime with a fixed format is locale-independent for English month names here
            parsed = dt.datetime.strptime(" ".join(long.groups()), "%B %d %Y")  # noqa: DTZ007
            return parsed.date()
    except ValueError:
        raise DigestParseError(f"invalid date in title: {text.strip()[:80]!r}", line_no) from None
    return None


def _strip_markup(text: str) -> str:
    """Markdown links become their text; surrounding emphasis goes."""
    return _MD_LINK_RE.sub(lambda m: m.group(1), text).strip()


def _name_like(text: str) -> bool:
    """Whether a whole string reads as a company name rather than a sentence."""
    tokens = text.split()
    if not tokens or len(tokens) > 6 or text.rstrip()[-1:] in ".!?,;:":
        return False
    joiners = {"/", "&", "+", "of", "and", "de", "|"}
    return all(t in joiners or t[:1].isupper() or t[:1].isdigit() for t in tokens)


@dataclass
class _PendingArticle:
    line: int
    title: str
    url: str | None
    company: str | None  # None while 'Company Summary…' still needs cutting
    rest: str  # the text after the title separator (or the summary when company is set)
    more: list[str] = field(default_factory=list)
    links: tuple[str, ...] = ()  # every URL on the article's line

    def finish(self, knowledge: PublisherKnowledge, context: IssueContext) -> Article:
        """Decide the publisher and summary once every line of the issue is known."""
        company, summary, confidence = self.company, self.rest, 1.0
        extra = " ".join(self.more).strip()
        if company is None:
            if extra and _name_like(self.rest):
                company, summary = self.rest, ""
            else:
                line = make_line(self.rest, self.title, knowledge, context, host_keys(self.links))
                split = attribute(line)
                company, summary, confidence = split.company, split.summary, split.confidence
        summary = " ".join(part for part in (summary.strip(), extra) if part)
        companies = tuple(split_joint(company))
        if not self.title:
            raise DigestParseError("deep dive without a title", self.line)
        if not companies:
            raise DigestParseError(f"deep dive {self.title[:60]!r} names no company", self.line)
        return apply_operator_knowledge(
            Article(self.title, companies, _strip_markup(summary), self.url, confidence), knowledge
        )


def _read_dive(line: str, line_no: int) -> _PendingArticle | None:
    """Read a Deep Dives line that starts an article; None when it continues one."""
    dive = _read_dive_text(line, line_no)
    if dive is not None and "://" in line:
        dive.links = tuple(urls_in(line))
    return dive


def _read_dive_text(line: str, line_no: int) -> _PendingArticle | None:
    text = _LIST_MARKER_RE.sub("", line.strip())
    match = _EMPHASIS_RE.match(text.split(" · ")[0])
    if match:  # **Title** · Company …
        text = match.group("inner") + text[len(match.group(0)) :]
    url: str | None = None
    title_match = _TITLE_LINK_RE.match(text) or _TITLE_BRACKET_RE.match(text)
    if title_match:
        title = title_match.group("title")
        url = title_match.groupdict().get("url")
        rest = text[title_match.end() :]
    else:
        parts = _SEP_RE.split(text, maxsplit=1)
        if len(parts) < 2:
            return None
        title, rest = parts
    title = _strip_markup(title.strip().strip("*_").strip())
    if title.startswith("[") and title.endswith("]"):
        title = title[1:-1].strip()
    source = _SOURCE_RE.match(rest)
    if source:
        url = url or source.group("url") or source.group("url2")
        company = _strip_markup(source.group("company"))
        return _PendingArticle(line_no, title, url, company, source.group("summary") or "")
    return _PendingArticle(line_no, title, url, None, rest.strip())


@dataclass
class _Reader:
    knowledge: PublisherKnowledge
    date: dt.date | None = None
    section: _Section = _Section.PREAMBLE
    sources: list[str] = field(default_factory=list)
    signal: list[str] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    dives: list[_PendingArticle] = field(default_factory=list)
    pending: _PendingArticle | None = None

    def flush(self) -> None:
        if self.pending is not None:
            self.dives.append(self.pending)
            self.pending = None

    def context(self) -> IssueContext:
        """The whole issue's prose and Sources: evidence for every publisher split in it."""
        prose = [*self.signal, *self.patterns]
        for dive in self.dives:
            prose.extend((dive.title, dive.rest, *dive.more))
        return IssueContext.build(prose, self.sources)

    def articles(self) -> tuple[Article, ...]:
        """Every deep dive, its publisher decided with the whole issue as evidence."""
        context = self.context()
        return tuple(dive.finish(self.knowledge, context) for dive in self.dives)

    def feed(self, raw: str, line_no: int) -> None:
        line = raw.strip()
        if not line:
            return
        name = _heading(line).casefold()
        section = _HEADINGS.get(name)
        if section is not None and (name != "sources" or self.section is not _Section.DIVES):
            self.flush()
            self.section = section
            return
        categories = _CATEGORIES_RE.match(line)
        if categories and self.section in (_Section.DIVES, _Section.PATTERNS):
            self.flush()
            items = categories.group("items")
            self.categories = [c.strip() for c in items.split(",") if c.strip()]
            self.section = _Section.PATTERNS
            return
        if self.date is None and self.section in (_Section.PREAMBLE, _Section.SOURCES):
            if self.section is _Section.SOURCES and _LIST_MARKER_RE.match(line):
                self.sources.append(_strip_markup(_LIST_MARKER_RE.sub("", line)))
                return
            date = _issue_date(line, line_no)
            if date is not None:
                self.date = date
                self.section = _Section.PREAMBLE
                return
        if self.section is _Section.SOURCES and _LIST_MARKER_RE.match(line):
            self.sources.append(_strip_markup(_LIST_MARKER_RE.sub("", line)))
        elif self.section is _Section.SIGNAL:
            self.signal.append(_strip_markup(line.rstrip("#").strip()))
        elif self.section is _Section.PATTERNS:
            self.patterns.append(_strip_markup(line))
        elif self.section is _Section.DIVES:
            started = _read_dive(line, line_no)
            if started is not None:
                self.flush()
                self.pending = started
            elif self.pending is not None:
                self.pending.more.append(line)
            # Text in Deep Dives before the first article is an introduction; skip it.

    def issue(self) -> Issue:
        self.flush()
        if self.date is None:
            raise DigestParseError("not a digest: no 'Engineering @ Scale — YYYY-MM-DD' title")
        if not self.signal:
            raise DigestParseError("not a digest: no 'Signal of the Day' section")
        if not self.dives:
            raise DigestParseError("not a digest: no deep dives")
        if len(self.dives) > MAX_DEEP_DIVES:
            raise DigestParseError(
                f"too many deep dives: {len(self.dives):,} (at most {MAX_DEEP_DIVES} per issue)"
            )
        return Issue(
            date=self.date,
            signal="\n\n".join(self.signal),
            articles=self.articles(),
            patterns="\n\n".join(self.patterns) or None,
            sources=tuple(self.sources),
            categories=tuple(self.categories),
        )


def parse_issue(text: str, knowledge: PublisherKnowledge | None = None) -> Issue:
    """Parse one issue's text; raises DigestParseError when it is not a digest."""
    if "\x00" in text:
        raise DigestParseError("not a digest: binary content")
    reader = _Reader(knowledge if knowledge is not None else PublisherKnowledge())
    for line_no, raw in enumerate(text.splitlines(), start=1):
        reader.feed(raw, line_no)
    return reader.issue()


def read_text(path: Path) -> str:
    """Read a digest file as UTF-8 text, refusing binary and oversized files."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise DigestParseError(f"not a digest: file too large ({size:,} bytes)")
    data = path.read_bytes()
    if b"\x00" in data:
        raise DigestParseError("not a digest: binary content")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DigestParseError(f"not UTF-8 text (byte {exc.start})") from None


def scan_publishers(text: str) -> Iterator[tuple[bool | None, str]]:
    """Names a text states unambiguously, as (is_sources_entry, name) pairs.

    Undivided 'Company Summary…' lines come as (None, line): their leading words recur.
    """
    in_sources = False
    lines = [line.strip() for line in text.splitlines()]
    for i, line in enumerate(lines):
        if not line:
            continue
        if _heading(line).casefold() == "sources":
            in_sources = True
            continue
        if in_sources and _LIST_MARKER_RE.match(line):
            yield True, _strip_markup(_LIST_MARKER_RE.sub("", line))
            continue
        in_sources = False
        if " · " not in line:
            continue
        dive = _read_dive_text(line, i + 1)  # the publisher only: no need for its links
        if dive is None:
            continue
        if dive.company is not None:
            yield False, dive.company
        elif _name_like(dive.rest):
            following = next((x for x in lines[i + 1 :] if x), "")
            if following and " · " not in following and not _is_heading_line(following):
                yield False, dive.rest
        else:
            yield None, dive.rest


def add_text_knowledge(knowledge: PublisherKnowledge, text: str) -> None:
    """Add the publishers one text states (Sources entries expand to companies) and recurrences."""
    for is_source, name in scan_publishers(text):
        if is_source is None:
            knowledge.observe(name.split())
        elif is_source:
            knowledge.add_source(name)
        else:
            knowledge.add(name)
