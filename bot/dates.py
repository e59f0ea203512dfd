"""Date ranges of lookups: a plain value every layer shares (grammar, store, front ends)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


class RangeError(ValueError):
    """A date range that is malformed or reversed (the message says which, in one line)."""


@dataclass(frozen=True)
class DateRange:
    """The issue dates a lookup keeps, both ends included; None leaves that end open."""

    since: dt.date | None = None
    until: dt.date | None = None

    def __post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise RangeError(f"The range ends ({self.until}) before it starts ({self.since}).")

    @property
    def is_open(self) -> bool:
        """Whether every date is kept (no range given)."""
        return self.since is None and self.until is None

    def describe(self) -> str:
        """'since D', 'until D', 'from D to E', 'on D', or '' for no range."""
        if self.since and self.until:
            if self.since == self.until:
                return f"on {self.since.isoformat()}"
            return f"from {self.since.isoformat()} to {self.until.isoformat()}"
        if self.since:
            return f"since {self.since.isoformat()}"
        return f"until {self.until.isoformat()}" if self.until else ""


ALL_DATES = DateRange()
