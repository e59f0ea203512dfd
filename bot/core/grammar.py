"""The /digest command grammar: text in, a typed request out (pure)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

MAX_ARGUMENT = 500
# A lookup's text travels whole in its Show more / Share buttons (Slack: 2,000 characters per
# value), so it is bounded in UTF-8 bytes too: 500 emoji would be 2,000 bytes.
MAX_ARGUMENT_BYTES = 1500

Verb = Literal[
    "help", "company", "topic", "date", "saved", "subscribe", "unsubscribe", "status", "filter"
]
VERBS: tuple[Verb, ...] = (
    "help",
    "company",
    "topic",
    "date",
    "saved",
    "subscribe",
    "unsubscribe",
    "status",
    "filter",
)
_ALIASES: dict[str, Verb] = {"search": "topic", "about": "topic", "issue": "date", "day": "date"}


@dataclass(frozen=True)
class Request:
    """A parsed /digest request; `note` explains why help is shown for unrecognised text."""

    verb: Verb
    argument: str = ""
    note: str | None = None


def parse_request(text: str | None) -> Request:
    """Split '/digest VERB ARGUMENT…' into a Request (help for empty or unknown verbs)."""
    text = " ".join((text or "").split())
    if not text:
        return Request("help")
    word, _, rest = text.partition(" ")
    verb_text = word.casefold()
    verb = _ALIASES.get(verb_text) or next((v for v in VERBS if v == verb_text), None)
    if verb is None:
        shown = word if len(word) <= 40 else word[:40] + "…"
        return Request("help", note=f"Unknown subcommand “{shown}”.")
    rest = rest.strip()
    rest = rest[:MAX_ARGUMENT].encode()[:MAX_ARGUMENT_BYTES].decode(errors="ignore").strip()
    if verb in ("company", "topic", "date") and not rest:
        return Request("help", note=f"`/digest {verb}` needs something to look up.")
    return Request(verb, rest)


def parse_day(text: str, today: dt.date) -> dt.date | None:
    """'YYYY-MM-DD', 'today', 'yesterday' or 'latest' (None); ValueError otherwise."""
    word = text.strip().casefold()
    if word == "latest":
        return None
    if word == "today":
        return today
    if word == "yesterday":
        return today - dt.timedelta(days=1)
    try:
        return dt.date.fromisoformat(word)
    except ValueError:
        raise ValueError(
            f"“{text[:40]}” is not a date: use YYYY-MM-DD, today, yesterday or latest."
        ) from None


@dataclass(frozen=True)
class Schedule:
    """When a channel gets new issues: local time, IANA timezone and days."""

    hour: int = 9
    minute: int = 0
    timezone: str | None = None  # None: the subscribing person's Slack timezone
    days: Literal["weekdays", "daily"] = "weekdays"


_TIME_RE = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*(am|pm)?$", re.IGNORECASE)


def _zone_lookup() -> dict[str, str]:
    return {name.casefold(): name for name in available_timezones()}


def canonical_timezone(name: str) -> str | None:
    """The IANA name for a timezone written in any case ('europe/berlin'), or None."""
    zones = _zone_lookup()
    found = zones.get(name.casefold())
    if found is None:
        return None
    try:
        ZoneInfo(found)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return found


def parse_schedule(text: str) -> Schedule:
    """'[HH:MM] [TIMEZONE] [weekdays|daily]' in any order; ValueError with a helpful message."""
    hour, minute, zone, days = 9, 0, None, "weekdays"
    for token in text.split():
        low = token.casefold()
        if low in ("weekdays", "weekday", "workdays"):
            days = "weekdays"
            continue
        if low in ("daily", "everyday", "every-day"):
            days = "daily"
            continue
        match = _TIME_RE.match(token)
        if match:
            hour = int(match.group(1))
            minute = int(match.group(2) or 0)
            meridiem = (match.group(3) or "").casefold()
            if meridiem:
                if not 1 <= hour <= 12:
                    raise ValueError(f"“{token[:20]}” is not a time of day.")
                hour = hour % 12 + (12 if meridiem == "pm" else 0)
            if not (0 <= hour <= 23 and 0 <= minute <= 59):
                raise ValueError(f"“{token[:20]}” is not a time of day (use HH:MM, 24-hour).")
            continue
        found = canonical_timezone(token)
        if found is None:
            raise ValueError(
                f"“{token[:40]}” is neither a time (HH:MM), a timezone (e.g. Europe/Berlin) "
                "nor weekdays/daily."
            )
        zone = found
    return Schedule(hour, minute, zone, days)  # type: ignore[arg-type]
