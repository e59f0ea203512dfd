"""What every source yields: one candidate issue with its identity."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SourceItem:
    """One candidate issue from a source."""

    key: str
    text: str | None
    error: str | None = None
