"""A fetched document as items: the entries of an RSS/Atom feed, or one HTML/text page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import feedparser

from bot.sources.html import html_to_text, looks_like_html
from bot.sources.item import SourceItem


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
