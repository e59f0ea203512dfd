"""New issues arriving by themselves: a watched folder and/or a feed URL (RSS/Atom or a page).

Each source item is fingerprinted in `feed_state`; only new or changed items are parsed, and a
bad item is logged once and remembered with its fingerprint, so it is not retried until it
changes. HTTP uses conditional GET (ETag / Last-Modified).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import feedparser

from bot.digest.parsing import DigestParseError, add_text_knowledge, parse_issue, read_text
from bot.ingestion import DIGEST_SUFFIXES
from bot.store.archive import (
    CompanyCache,
    IngestStatus,
    load_knowledge,
    save_knowledge,
    store_issue,
)
from bot.store.companies import resplit_learned
from bot.store.db import Database
from bot.store.tables import FeedStateRow, utcnow

log = logging.getLogger(__name__)

MAX_FEED_BYTES = 10_000_000
USER_AGENT = "engineering-at-scale-bot/0.1 (+https://github.com/)"


class _TextExtractor(HTMLParser):
    """HTML to the digest's text layout: block elements on their own lines, links as Markdown."""

    BLOCKS = frozenset(
        {
            "p",
            "div",
            "br",
            "li",
            "tr",
            "section",
            "article",
            "ul",
            "ol",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "blockquote",
            "pre",
            "hr",
        }
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._href: str | None = None
        self._link_text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")
            if tag in ("h1", "h2", "h3"):
                self.parts.append("#" * int(tag[1]) + " ")
            elif tag == "li":
                self.parts.append("- ")
        elif tag == "a":
            self._href = dict(attrs).get("href")
            self._link_text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self._skip = max(0, self._skip - 1)
        elif tag == "a" and self._href is not None:
            text = "".join(self._link_text).strip()
            href = self._href
            self._href = None
            if href.startswith(("http://", "https://")) and text:
                self.parts.append(f"[{text}]({href})")
            else:
                self.parts.append(text)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._href is not None:
            self._link_text.append(data)
        else:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Readable text of an HTML issue, in a layout the digest parser reads."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = (" ".join(line.split()) for line in "".join(extractor.parts).splitlines())
    return "\n".join(line for line in lines if line)


def looks_like_html(text: str) -> bool:
    """Whether a text is HTML rather than the digest's plain/Markdown layout."""
    head = text[:2000].lstrip().casefold()
    return head.startswith(("<!doctype html", "<html")) or bool(
        re.search(r"<(p|div|h[1-6]|body|article)\b", head)
    )


@dataclass
class SourceItem:
    """One candidate issue from a source."""

    key: str
    text: str | None
    error: str | None = None


@dataclass
class PollReport:
    """What one poll did."""

    ingested: list[tuple[str, IngestStatus]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    unchanged: int = 0


def _fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


def folder_items(folder: Path) -> Iterator[SourceItem]:
    """Every digest file in a folder."""
    if not folder.is_dir():
        yield SourceItem(f"dir:{folder}", None, "source folder does not exist")
        return
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in DIGEST_SUFFIXES):
        try:
            text = read_text(path)
        except (OSError, DigestParseError) as exc:
            yield SourceItem(f"file:{path}", None, str(exc))
            continue
        yield SourceItem(f"file:{path}", text)


@dataclass
class FeedFetch:
    """The result of a conditional GET."""

    status: int
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    content_type: str = ""


def fetch(url: str, etag: str | None, last_modified: str | None, timeout: float = 20) -> FeedFetch:
    """GET with If-None-Match / If-Modified-Since; 304 means nothing changed."""
    if not url.startswith(("http://", "https://")):
        raise ValueError("DIGEST_FEED_URL must be an http(s) URL")
    headers = {
        "User-Agent": USER_AGENT,
        "Accept": "application/rss+xml, application/atom+xml, text/html;q=0.9, */*;q=0.5",
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    request = urllib.request.Request(url, headers=headers)  # noqa: S310  scheme checked above
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body = response.read(MAX_FEED_BYTES + 1)
            return FeedFetch(
                response.status,
                body[:MAX_FEED_BYTES],
                response.headers.get("ETag"),
                response.headers.get("Last-Modified"),
                response.headers.get("Content-Type", ""),
            )
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return FeedFetch(304)
        raise


def _entry_text(entry: Any) -> str:
    contents = entry.get("content") or []
    html = contents[0].get("value") if contents else entry.get("summary", "")
    text = html_to_text(html) if looks_like_html(html or "") else (html or "")
    title = entry.get("title", "")
    if title and title not in text[:300]:
        text = f"{title}\n{text}"
    return text


def feed_items(body: bytes, content_type: str, url: str) -> Iterator[SourceItem]:
    """Issues in a fetched document: entries of an RSS/Atom feed, or one HTML/text page."""
    parsed = feedparser.parse(body)
    if parsed.get("entries") and (parsed.get("version") or "xml" in content_type):
        for index, entry in enumerate(parsed["entries"]):
            key = entry.get("id") or entry.get("link") or f"{url}#{index}"
            yield SourceItem(f"entry:{key}"[:500], _entry_text(entry))
        return
    text = body.decode("utf-8", "replace")
    if looks_like_html(text):
        text = html_to_text(text)
    yield SourceItem(f"page:{url}"[:500], text)


class Poller:
    """Polls the configured sources and ingests what is new or changed."""

    def __init__(self, database: Database, source_dir: str | None, feed_url: str | None) -> None:
        self.database = database
        self.source_dir = Path(source_dir) if source_dir else None
        self.feed_url = feed_url

    def poll(self) -> PollReport:
        """One pass over every source."""
        report = PollReport()
        if self.source_dir is not None:
            self._ingest(list(folder_items(self.source_dir)), report)
        if self.feed_url:
            try:
                items = self._fetch_feed(self.feed_url)
            except Exception as exc:  # any network or HTTP failure: try again next poll
                log.warning("feed %s unavailable: %s", self.feed_url, type(exc).__name__)
                report.failed.append((self.feed_url, type(exc).__name__))
            else:
                self._ingest(items, report)
        return report

    def _fetch_feed(self, url: str) -> list[SourceItem]:
        with self.database.read() as session:
            state = session.get(FeedStateRow, f"url:{url}"[:500])
            etag = state.etag if state else None
            modified = state.last_modified if state else None
        result = fetch(url, etag, modified)
        if result.status == 304:
            return []
        with self.database.write() as session:
            row = session.get(FeedStateRow, f"url:{url}"[:500]) or FeedStateRow(
                source=f"url:{url}"[:500]
            )
            row.etag, row.last_modified, row.checked_at = (
                result.etag,
                result.last_modified,
                utcnow(),
            )
            session.add(row)
        return list(feed_items(result.body, result.content_type, url))

    def _ingest(self, items: list[SourceItem], report: PollReport) -> None:
        fresh: list[tuple[SourceItem, str]] = []
        with self.database.read() as session:
            for item in items:
                fingerprint = _fingerprint(item.text if item.text is not None else item.error or "")
                state = session.get(FeedStateRow, item.key)
                if state is not None and state.fingerprint == fingerprint:
                    report.unchanged += 1
                    continue
                fresh.append((item, fingerprint))
            if not fresh:
                return
            knowledge = load_knowledge(session)
        for item, _ in fresh:
            if item.text is not None:
                add_text_knowledge(knowledge, item.text)
        with self.database.write() as session:
            # Names stated for the first time also re-split earlier articles they explain.
            resplit_learned(session, knowledge, save_knowledge(session, knowledge))
            cache = CompanyCache.load(session)  # after: re-splits may add or drop companies
        first_of_date: dict[dt.date, str] = {}
        for item, fingerprint in fresh:
            error = item.error
            status: IngestStatus | None = None
            if item.text is not None:
                try:
                    issue = parse_issue(item.text, knowledge)
                    first = first_of_date.setdefault(issue.date, item.key)
                    if first != item.key:  # which of the two is right cannot be told: say so
                        raise DigestParseError(
                            f"same issue date {issue.date} as {first[-80:]}, earlier in this poll"
                        )
                    with self.database.write() as session:
                        status = store_issue(session, issue, cache)
                except DigestParseError as exc:
                    error = str(exc)
                except Exception as exc:
                    log.exception("storing %s failed", item.key)
                    with self.database.read() as session:
                        cache = CompanyCache.load(session)
                    error = f"could not be stored ({type(exc).__name__})"
                    continue  # not remembered: a database hiccup is retried next poll
            if error is not None:
                # Logged once: the fingerprint is remembered, so the same bad item is skipped
                # quietly until it changes.
                log.warning("skipping %s: %s", item.key, error)
                report.failed.append((item.key, error))
            else:
                assert status is not None  # noqa: S101
                report.ingested.append((item.key, status))
                if status != "unchanged":
                    log.info("ingested %s (%s)", item.key, status)
            with self.database.write() as session:
                row = session.get(FeedStateRow, item.key) or FeedStateRow(source=item.key)
                row.fingerprint, row.last_error, row.checked_at = fingerprint, error, utcnow()
                session.add(row)
