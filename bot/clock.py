"""The one clock: every use case is handed `utc_now` (or a test's fake) rather than reading time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    """The real clock, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)
