"""The /digest command grammar: text in, a typed request out (pure)."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.core.text import clean
from bot.dates import DateRange, RangeError
from bot.emoji import canonical_name

MAX_ARGUMENT = 500
# A lookup's text travels whole in its Show more / Share buttons (Slack: 2,000 characters per
# value), so it is bounded in UTF-8 bytes too: 500 emoji would be 2,000 bytes.
MAX_ARGUMENT_BYTES = 1500

Verb = Literal[
    "help",
    "company",
    "topic",
    "date",
    "saved",
    "subscribe",
    "unsubscribe",
    "status",
    "admins",
    "emoji",
    "follow",
    "following",
    "unfollow",
    "filter",
    "trend",
    "rollup",
]
VERBS: tuple[Verb, ...] = get_args(Verb)
_ALIASES: dict[str, Verb] = {
    "search": "topic",
    "about": "topic",
    "issue": "date",
    "day": "date",
    "admin": "admins",
    "save-emoji": "emoji",
    "roll-up": "rollup",
}
# A user mention as Slack escapes it in command text (<@U123|name> or <@U123>), as the command
# text decodes it (@U123), or a bare id.
_MENTION_RE = re.compile(r"^<@([UW][A-Z0-9]{2,30})(?:\|[^<>]{0,100})?>$|^@?([UW][A-Z0-9]{2,30})$")
_TOKEN_RE = re.compile(r"<@[^<>]{1,140}>|\S+")
MAX_ADMIN_CHANGES = 20
ADMINS_USAGE = (
    "Use `/digest admins` to list them, `/digest admins add @person` or "
    "`/digest admins remove @person` to change the list."
)
RANGED_VERBS: frozenset[Verb] = frozenset({"company", "topic", "saved", "trend"})


@dataclass(frozen=True)
class Request:
    """A parsed /digest request; `note` explains why help is shown for unrecognised text."""

    verb: Verb
    argument: str = ""
    note: str | None = None
    dates: RangeSpec | None = None  # the trailing date range of company, topic and saved
    hint: str | None = None  # a one-line usage hint instead of an answer (a bad date range)


def parse_request(text: str | None) -> Request:
    """Split '/digest VERB ARGUMENT…' into a Request (help for empty or unknown verbs)."""
    text = clean(text or "")
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
    dates: RangeSpec | None = None
    if verb in RANGED_VERBS:
        try:
            rest, dates = split_range(rest)
        except RangeError as exc:
            return Request(verb, rest, hint=f"{exc} {RANGE_USAGE}")
    elif verb == "date" and _is_range(rest):
        return Request(verb, rest, hint=DATE_RANGE_HINT)
    elif verb in ("follow", "unfollow") and _is_range(rest):
        return Request(verb, rest, hint=FOLLOW_RANGE_HINT)
    if verb in ("company", "topic", "date", "follow", "unfollow", "trend") and not rest:
        return Request("help", verb, note=f"`/digest {verb}` needs something to look up.")
    return Request(verb, rest, dates=dates)


def _is_range(text: str) -> bool:
    """Whether the text is a date range (well-formed or not) rather than one day."""
    try:
        return split_range(text)[1] is not None
    except RangeError:
        return True


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


# --- date ranges: the optional last words of a lookup --------------------------------------------

MAX_LAST_DAYS = 3660  # ten years and a bit: the archive's whole span
RANGE_USAGE = (
    "A date range goes last: since 2026-04-01, until 2026-04-30, from 2026-01-01 to 2026-03-31, "
    f"in 2026-05 (or in 2026), or last 30 days (up to {MAX_LAST_DAYS})."
)
DATE_RANGE_HINT = (
    "`/digest date` shows one day's issue (YYYY-MM-DD, today, yesterday or latest); a range "
    "goes after company, topic or saved, e.g. `/digest topic kafka in 2026-05`."
)
FOLLOW_RANGE_HINT = (
    "A follow has no date range: new articles come to you as they arrive. Use "
    "`/digest follow company Cloudflare` or `/digest follow topic rate limiting`."
)
_PERIOD_RE = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
# A word that starts like a date is meant as one: "since 2026-13-01" is a bad range, not a topic.
_DATELIKE_RE = re.compile(r"\d{4}")
_COUNT_RE = re.compile(r"[0-9]+")
_NUMBERLIKE_RE = re.compile(r"[+-]?[0-9][0-9.,]*|[+-][0-9.,]+")
_POINT_WORDS = frozenset({"since", "until", "from", "in"})


@dataclass(frozen=True)
class LastDays:
    """'last N days': the N days up to and including today, wherever 'today' is for the asker."""

    days: int

    def resolve(self, today: dt.date) -> DateRange:
        """The absolute range on a given day."""
        return DateRange(today - dt.timedelta(days=self.days - 1), today)


RangeSpec = DateRange | LastDays


def _period(word: str) -> tuple[dt.date, dt.date]:
    """'YYYY', 'YYYY-MM' or 'YYYY-MM-DD' as its first and last day; RangeError otherwise."""
    match = _PERIOD_RE.fullmatch(word)
    try:
        if match is None:
            raise ValueError(word)
        year, month, day = (int(g) if g else None for g in match.groups())
        assert year is not None  # noqa: S101  the pattern requires it
        if day is not None:
            first = last = dt.date(year, month or 1, day)
        elif month is not None:
            first = dt.date(year, month, 1)
            last = dt.date(year, month, calendar.monthrange(year, month)[1])
        else:
            first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    except (ValueError, OverflowError):
        raise RangeError(f"“{word[:20]}” is not a date.") from None
    return first, last


def split_range(text: str) -> tuple[str, RangeSpec | None]:
    """The lookup text and its trailing date range, if the last words form one.

    Only a range in one of the forms of RANGE_USAGE counts: 'rate limiting in practice' is all
    topic. Trailing words that are clearly meant as a range but are malformed or reversed
    ('since 2026-13-01', 'from 2026-05-01 to 2026-04-01', 'last 0 days') raise RangeError.
    """
    words = text.split()
    for size, read in ((4, _two_points), (3, _last_days), (2, _one_point)):
        spec = read(words[-size:]) if len(words) >= size else None
        if spec is not None:
            rest = words[:-size]
            # 'until E since D', 'in 2026-05 last 30 days': two ranges, meant as one.
            if (
                len(rest) >= 2
                and rest[-2].casefold() in _POINT_WORDS | {"to"}
                and _DATELIKE_RE.match(rest[-1])
            ):
                raise RangeError("Give one date range, at the end.")
            return " ".join(rest), spec
    return " ".join(words), None


def _two_points(tail: list[str]) -> DateRange | None:
    """'from D to E' or 'since D until E' (or 'from D until E', 'since D to E')."""
    first, start, second, end = tail
    if first.casefold() not in ("from", "since") or second.casefold() not in ("to", "until"):
        return None
    if not (_DATELIKE_RE.match(start) and _DATELIKE_RE.match(end)):
        return None
    return DateRange(_period(start)[0], _period(end)[1])


def _last_days(tail: list[str]) -> LastDays | None:
    """'last N days'."""
    last, count, unit = tail
    if last.casefold() != "last" or unit.casefold() not in ("day", "days"):
        return None
    if not _COUNT_RE.fullmatch(count):
        # 'last -5 days', 'last 1.5 days': a number, so meant as a range ('last few days' is text).
        if _NUMBERLIKE_RE.fullmatch(count):
            raise RangeError(f"“last {count[:8]} days” needs a whole number of days.")
        return None
    days = int(count) if len(count) <= 6 else MAX_LAST_DAYS + 1
    if not 1 <= days <= MAX_LAST_DAYS:
        raise RangeError(f"“last {count[:8]} days” is out of range.")
    return LastDays(days)


def _one_point(tail: list[str]) -> DateRange | None:
    """'since D', 'from D', 'until D' or 'in D' (D a year, month or day)."""
    keyword, word = tail[0].casefold(), tail[1]
    if keyword not in _POINT_WORDS or not _DATELIKE_RE.match(word):
        return None
    first, last = _period(word)
    match keyword:
        case "since" | "from":
            return DateRange(since=first)
        case "until":
            return DateRange(until=last)
    return DateRange(first, last)


def parse_bound(text: str, *, end: bool) -> dt.date:
    """A --since (start of the period) or --until (end of it) value: YYYY[-MM[-DD]]."""
    first, last = _period(text.strip())
    return last if end else first


@dataclass(frozen=True)
class AdminsChange:
    """`/digest admins [add|remove @person…]`: list (no action) or change the list."""

    action: Literal["list", "add", "remove"]
    user_ids: tuple[str, ...] = ()


def parse_admins(text: str) -> AdminsChange:
    """'', 'add @a @b' or 'remove @a'; ValueError with a one-line hint otherwise."""
    action, _, rest = text.strip().partition(" ")
    if not action:
        return AdminsChange("list")
    action = action.casefold()
    tokens = [m.group(0) for m in _TOKEN_RE.finditer(rest)]
    if action not in ("add", "remove") or not tokens or len(tokens) > MAX_ADMIN_CHANGES:
        raise ValueError(ADMINS_USAGE)
    ids = []
    for token in tokens:
        match = _MENTION_RE.match(token)
        if match is None:
            raise ValueError(f"Mention each person with @ (as in `@name`). {ADMINS_USAGE}")
        ids.append(match.group(1) or match.group(2))
    return AdminsChange("add" if action == "add" else "remove", tuple(ids))


# --- the save emoji: `/digest emoji [NAME|reset]` ------------------------------------------------

EMOJI_USAGE = (
    "Use `/digest emoji` to see the save emoji, `/digest emoji NAME` (e.g. `bookmark` or "
    "`:star:`) to change it, or `/digest emoji reset` to go back to the default."
)
_RESET_WORDS = frozenset({"reset", "default"})


@dataclass(frozen=True)
class EmojiChange:
    """`/digest emoji [NAME|reset]`: show (no action), set NAME, or reset to the default."""

    action: Literal["show", "set", "reset"]
    name: str = ""


def emoji_name(text: str) -> str:
    """A Slack emoji name from ':name:', 'name' or ':name::skin-tone-2:'; ValueError otherwise."""
    name = canonical_name(text)
    if name is None:
        raise ValueError(EMOJI_USAGE)
    return name


def parse_emoji(text: str) -> EmojiChange:
    """'', 'reset' or one emoji name; ValueError with the one-line usage hint otherwise."""
    words = text.split()
    if not words:
        return EmojiChange("show")
    if len(words) > 1:
        raise ValueError(EMOJI_USAGE)
    if words[0].casefold() in _RESET_WORDS:
        return EmojiChange("reset")
    return EmojiChange("set", emoji_name(words[0]))
