"""New issues arriving by themselves: a watched folder and/or a feed URL (RSS/Atom or a page).

Sources only yield items (a file, a feed entry, a page) with their identity; the poller keeps
what it has seen in `feed_state` and hands what is new to the ingest pipeline
(`bot.core.ingestion`). HTTP uses conditional GET (ETag / Last-Modified).
"""

from bot.sources.feeds import feed_items
from bot.sources.folder import folder_items
from bot.sources.html import html_to_text, looks_like_html
from bot.sources.http import FeedFetch, fetch
from bot.sources.item import SourceItem
from bot.sources.poller import Poller, PollReport

__all__ = [
    "FeedFetch",
    "PollReport",
    "Poller",
    "SourceItem",
    "feed_items",
    "fetch",
    "folder_items",
    "html_to_text",
    "looks_like_html",
]
