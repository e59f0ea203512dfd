"""Rendered lookup answers kept while the archive they were built from is unchanged."""

from __future__ import annotations

import threading
from collections.abc import Hashable

from cachetools import LRUCache

from bot.slack.rendering import Message


class AnswerCache:
    """A thread-safe LRU of (archive version, message) by lookup key; size 0 disables it.

    Company, topic and date answers depend only on the archive, which changes a few times a
    day, while the same lookups (popular companies, "Show more", shared results) repeat. Every
    ingest that changes an issue bumps the archive version, so a stale answer is never served.
    """

    def __init__(self, size: int) -> None:
        self._entries: LRUCache[Hashable, tuple[int, Message]] | None = (
            LRUCache(maxsize=size) if size > 0 else None
        )
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, version: int) -> Message | None:
        """The answer cached for `key` if it was built from archive `version`."""
        if self._entries is None:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == version:
                self.hits += 1
                return entry[1]
            self.misses += 1
            return None

    def put(self, key: Hashable, version: int, message: Message) -> None:
        """Remember an answer built from archive `version` (a newer one is never replaced)."""
        if self._entries is None:
            return
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] <= version:
                self._entries[key] = (version, message)
