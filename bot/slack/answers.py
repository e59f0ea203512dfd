"""What /digest answers: one function per subcommand, archive data in, a rendered Message out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from bot.config import Settings
from bot.schedule import ChannelSchedule, Outlook, outlook
from bot.slack import rendering
from bot.slack.answer_cache import AnswerCache
from bot.slack.grammar import Request, parse_day, parse_schedule
from bot.slack.membership import INVITE_HINT, Membership, not_member_text
from bot.slack.rendering import Message
from bot.store import ledger, saves, subscriptions
from bot.store.archive import archive_version
from bot.store.db import Database
from bot.store.queries import (
    find_by_company,
    get_issue,
    latest_issue_date,
    nearby_dates,
    search_topic,
)

PAGE_SIZE = 10
NOT_IN_CHANNEL = frozenset({"not_in_channel", "channel_not_found"})


@dataclass(frozen=True)
class Asker:
    """Who asked, and where."""

    user_id: str
    channel_id: str


@dataclass
class Answers:
    """Answers /digest requests from the archive; the Slack listeners only translate."""

    database: Database
    settings: Settings
    clock: Callable[[], dt.datetime]
    user_timezone: Callable[[str], str | None] = lambda _user: None
    # Joins a public channel / checks membership (bot.slack.membership); None: not checked.
    membership: Membership | None = None
    cache: AnswerCache = field(init=False)

    def __post_init__(self) -> None:
        self.cache = AnswerCache(self.settings.answer_cache_size)

    def _lookup(self, key: Hashable, build: Callable[[Session], Message]) -> Message:
        """An archive-only answer: from the cache when the archive has not changed since."""
        # The version is read first, on a bare connection (a third of an ORM session's cost):
        # data read after it is at least this new, so an entry is never older than its version.
        with self.database.engine.connect() as connection:
            version = archive_version(connection)
        cached = self.cache.get(key, version)
        if cached is not None:
            return cached
        with self.database.read() as session:
            message = build(session)
        self.cache.put(key, version, message)
        return message

    def answer(self, request: Request, asker: Asker) -> Message:
        """The reply to one /digest request."""
        match request.verb:
            case "company":
                return self.company(request.argument)
            case "topic":
                return self.topic(request.argument)
            case "date":
                return self.date(request.argument)
            case "saved":
                return self.saved(asker.user_id)
            case "subscribe":
                return self.subscribe(request.argument, asker)
            case "unsubscribe":
                return self.unsubscribe(asker)
            case "status":
                return self.status(asker)
            case _:
                return rendering.render_help(self.settings.save_emoji, note=request.note)

    def page(self, kind: str, query: str, offset: int, user_id: str, *, shareable: bool) -> Message:
        """A further page (Show more) or a shared copy of a lookup."""
        match kind:
            case "company":
                return self.company(query, offset, shareable=shareable)
            case "topic":
                return self.topic(query, offset, shareable=shareable)
            case "date":
                return self.date(query, shareable=shareable)
            case "saved":
                return self.saved(user_id, offset)
            case _:
                return rendering.render_text("That button has expired; run the command again.")

    def company(self, name: str, offset: int = 0, *, shareable: bool = True) -> Message:
        """Articles by a company."""
        return self._lookup(
            ("company", name, offset, shareable),
            lambda session: rendering.render_company(
                find_by_company(session, name, PAGE_SIZE, offset), shareable=shareable
            ),
        )

    def topic(self, words: str, offset: int = 0, *, shareable: bool = True) -> Message:
        """Articles about a topic."""
        return self._lookup(
            ("topic", words, offset, shareable),
            lambda session: rendering.render_topic(
                search_topic(session, words, PAGE_SIZE, offset), shareable=shareable
            ),
        )

    def date(self, text: str, *, shareable: bool = True) -> Message:
        """One issue by date (or today/yesterday/latest)."""
        try:
            day = parse_day(text, self.clock().date())
        except ValueError as exc:
            return rendering.render_text(str(exc))

        def build(session: Session) -> Message:
            issue = get_issue(session, day)
            if issue is None:
                return rendering.render_no_issue(day, nearby_dates(session, day) if day else ())
            return rendering.render_issue_overview(issue, shareable=shareable)

        # Keyed by the day itself: "today" means another issue tomorrow.
        return self._lookup(("date", day, shareable), build)

    def saved(self, user_id: str, offset: int = 0) -> Message:
        """The asker's own saved articles."""
        with self.database.read() as session:
            page = saves.saved_articles(session, user_id, PAGE_SIZE, offset)
        hint = (
            f"You have not saved anything yet. React with :{self.settings.save_emoji}: "
            "to a deep dive the bot posted to save it."
        )
        return rendering.render_saved(page, empty_hint=rendering.escape(hint))

    def _may_change(self, user_id: str) -> bool:
        admins = self.settings.admin_ids
        return not admins or user_id in admins

    def subscribe(self, argument: str, asker: Asker) -> Message:
        """Subscribe the channel (or change its schedule)."""
        if not self._may_change(asker.user_id):
            return rendering.render_text(
                "Only the digest admins can change this channel's schedule."
            )
        try:
            wanted = parse_schedule(argument)
        except ValueError as exc:
            return rendering.render_text(str(exc))
        zone = wanted.timezone or self.user_timezone(asker.user_id) or "UTC"
        # After a slow lookup the command is acked first: the write must wait out a busy
        # database rather than fail (write_retrying).
        sub = self.database.write_retrying(
            lambda session: subscriptions.subscribe(
                session,
                asker.channel_id,
                hour=wanted.hour,
                minute=wanted.minute,
                timezone=zone,
                days=wanted.days,
                user_id=asker.user_id,
                now=self.clock(),
            )
        )
        next_at = sub.schedule.next_slot(self.clock()).astimezone(sub.schedule.zone)
        text = (
            f"This channel gets each new issue at {sub.time_text} {sub.timezone} "
            f"({'every day' if sub.days == 'daily' else 'on weekdays'}). "
            f"Next post: {next_at:%a %Y-%m-%d %H:%M %Z}."
        )
        # Join now (public channels): reactions and crash-recovery lookups need membership.
        joined = self.membership.join(asker.channel_id) if self.membership else "unknown"
        if joined == "not_member":
            text += (
                f"\nThis is a private channel the bot is not in: {INVITE_HINT}, "
                "or nothing can be posted here."
            )
        return rendering.render_text(text)

    def unsubscribe(self, asker: Asker) -> Message:
        """Stop posting to the channel."""
        if not self._may_change(asker.user_id):
            return rendering.render_text(
                "Only the digest admins can change this channel's schedule."
            )
        removed = self.database.write_retrying(
            lambda session: subscriptions.unsubscribe(session, asker.channel_id)
        )
        if not removed:
            return rendering.render_text("This channel was not subscribed.")
        return rendering.render_text("This channel will no longer get the digest.")

    def status(self, asker: Asker) -> Message:
        """The channel's schedule, next post, last delivery and any failure."""
        with self.database.read() as session:
            sub = subscriptions.get_subscription(session, asker.channel_id)
            last = ledger.last_delivery(session, asker.channel_id)
            newest = latest_issue_date(session)
            unfinished = ledger.open_deliveries(session, asker.channel_id)
        max_age = dt.timedelta(days=self.settings.max_issue_age_days)
        text = status_text(sub, last, self.clock(), newest, max_age, unfinished)
        if self.membership and self.membership.check(asker.channel_id) == "not_member":
            text = not_member_text() + "\n" + text
        return rendering.render_text(text)


def status_text(
    sub: subscriptions.Subscription | None,
    last: ledger.DeliveryView | None,
    now: dt.datetime,
    newest: dt.date | None = None,
    max_age: dt.timedelta = dt.timedelta(days=2),
    unfinished: Sequence[ledger.OpenDelivery] = (),
) -> str:
    """The /digest status text (also used by the CLI); `newest` is the archive's newest issue."""
    lines: list[str] = []
    if sub is None:
        lines.append("This channel is not subscribed. Use /digest subscribe [HH:MM] [Timezone].")
    else:
        schedule: ChannelSchedule = sub.schedule
        days = "every day" if sub.days == "daily" else "weekdays"
        lines.append(f"Schedule: {sub.time_text} {sub.timezone}, {days}.")
        delivered = last is not None and newest is not None and last.issue_date >= newest
        lines.append(next_post_text(outlook(schedule, now, newest, delivered, max_age=max_age)))
        if sub.failing:
            fix = INVITE_HINT if sub.last_error in NOT_IN_CHANNEL else "fix it"
            lines.append(f"FAILING: {sub.last_error}. To resume, {fix}, then subscribe again.")
        elif sub.last_error:
            lines.append(f"Note: {sub.last_error}")
    if last is None:
        lines.append("Last delivery: none yet.")
    else:
        when = f" at {last.finished_at:%Y-%m-%d %H:%M} UTC" if last.finished_at else ""
        error = f" ({last.last_error})" if last.last_error else ""
        lines.append(
            f"Last delivery: issue {last.issue_date} — {last.state}{when}, "
            f"{last.messages} messages{error}."
        )
    for d in unfinished:
        if d.origin == "manual" and d.started:
            lines.append(
                f"Unfinished: issue {d.issue_date} posted by hand, {d.messages} messages so far; "
                f"finish it with: python -m bot post --channel {d.channel_id} "
                f"--date {d.issue_date}"
            )
    return "\n".join(lines)


def next_post_text(coming: Outlook) -> str:
    """'Next post: …' and what it will carry; says so when nothing is new enough to post."""
    when = f"{coming.slot:%a %Y-%m-%d %H:%M %Z}"
    match coming.state:
        case "post":
            return f"Next post: {when}, issue {coming.issue_date}."
        case "posted":
            return (
                f"Next post: {when}, if a new issue has arrived by then "
                f"(the newest, {coming.issue_date}, was already posted here)."
            )
        case "stale":
            return (
                f"Nothing new to post: the newest issue, {coming.issue_date}, is "
                f"{coming.age_days} days old, older than DIGEST_MAX_ISSUE_AGE_DAYS allows. "
                f"Next post: {when}, if a new issue has arrived by then."
            )
    return f"Nothing to post yet: the archive is empty. Next post: {when}, if an issue arrives."
