"""HTTP GET of a feed or page, conditional (ETag / Last-Modified) and size-capped."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass

MAX_FEED_BYTES = 10_000_000
USER_AGENT = "engineering-at-scale-bot/0.1 (+https://github.com/)"


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
