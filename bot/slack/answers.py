"""What /digest answers: one function per subcommand, archive data in, a rendered Message out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from bot.clock import Clock
from bot.config import Settings
from bot.core import filters as channel_filters
from bot.core import lookups
from bot.core import subscriptions as subscribing
from bot.core.grammar import Request, parse_day, parse_schedule
from bot.core.status import INVITE_HINT, channel_status
from bot.core.workspace import Workspace
from bot.slack import rendering
from bot.slack.answer_cache import AnswerCache
from bot.slack.membership import Membership, not_member_text
from bot.slack.rendering import Message
from bot.store.db import Database


@dataclass(frozen=True)
class Asker:
    """Who asked, and where."""

    user_id: str
    channel_id: str
    workspace: Workspace = field(default_factory=lambda: Workspace(""))


@dataclass
class Answers:
    """Answers /digest requests from the archive; the Slack listeners only translate."""

    database: Database
    settings: Settings
    clock: Clock
    user_timezone: Callable[[str], str | None] = lambda _user: None
    # Joins a public channel / checks membership (bot.slack.membership); None: not checked.
    membership: Membership | None = None
    cache: AnswerCache = field(init=False)

    def __post_init__(self) -> None:
        self.cache = AnswerCache(self.settings.answer_cache_size)

    def _lookup(self, key: Hashable, build: Callable[[], Message]) -> Message:
        """An archive-only answer: from the cache when the archive has not changed since."""
        # The version is read first: data read after it is at least this new, so an entry is
        # never older than its version.
        version = lookups.archive_version(self.database)
        cached = self.cache.get(key, version)
        if cached is not None:
            return cached
        message = build()
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
            case "filter":
                return self.filter(request.argument, asker)
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
            lambda: rendering.render_company(
                lookups.company(self.database, name, offset), shareable=shareable
            ),
        )

    def topic(self, words: str, offset: int = 0, *, shareable: bool = True) -> Message:
        """Articles about a topic."""
        return self._lookup(
            ("topic", words, offset, shareable),
            lambda: rendering.render_topic(
                lookups.topic(self.database, words, offset), shareable=shareable
            ),
        )

    def date(self, text: str, *, shareable: bool = True) -> Message:
        """One issue by date (or today/yesterday/latest)."""
        try:
            day = parse_day(text, self.clock().date())
        except ValueError as exc:
            return rendering.render_text(str(exc))

        def build() -> Message:
            found = lookups.issue(self.database, day)
            if found.issue is None:
                return rendering.render_no_issue(day, found.nearby)
            return rendering.render_issue_overview(found.issue, shareable=shareable)

        # Keyed by the day itself: "today" means another issue tomorrow.
        return self._lookup(("date", day, shareable), build)

    def saved(self, user_id: str, offset: int = 0) -> Message:
        """The asker's own saved articles."""
        page = lookups.saved(self.database, user_id, offset)
        hint = (
            f"You have not saved anything yet. React with :{self.settings.save_emoji}: "
            "to a deep dive the bot posted to save it."
        )
        return rendering.render_saved(page, empty_hint=rendering.escape(hint))

    def subscribe(self, argument: str, asker: Asker) -> Message:
        """Subscribe the channel (or change its schedule)."""
        if not subscribing.may_change(self.settings.admin_ids, asker.user_id):
            return rendering.render_text(subscribing.NOT_ALLOWED)
        try:
            wanted = parse_schedule(argument)
        except ValueError as exc:
            return rendering.render_text(str(exc))
        zone = wanted.timezone or self.user_timezone(asker.user_id) or "UTC"
        sub = subscribing.subscribe(
            self.database,
            asker.channel_id,
            wanted,
            timezone=zone,
            user_id=asker.user_id,
            now=self.clock(),
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
        if not subscribing.may_change(self.settings.admin_ids, asker.user_id):
            return rendering.render_text(subscribing.NOT_ALLOWED)
        if not subscribing.unsubscribe(self.database, asker.channel_id):
            return rendering.render_text("This channel was not subscribed.")
        return rendering.render_text("This channel will no longer get the digest.")

    def filter(self, argument: str, asker: Asker) -> Message:
        """Show or change the channel's filter."""
        text = channel_filters.change(
            self.database,
            asker.workspace,
            asker.channel_id,
            argument,
            user_id=asker.user_id,
            admin_ids=self.settings.admin_ids,
        )
        return rendering.render_text(text)

    def status(self, asker: Asker) -> Message:
        """The channel's schedule, next post, last delivery and any failure."""
        max_age = dt.timedelta(days=self.settings.max_issue_age_days)
        text = channel_status(self.database, asker.channel_id, self.clock(), max_age).text
        found = channel_filters.rules(self.database, asker.workspace, asker.channel_id)
        if found:
            text += f"\nFilter: {channel_filters.describe(found)} (see `/digest filter`)."
        if self.membership and self.membership.check(asker.channel_id) == "not_member":
            text = not_member_text() + "\n" + text
        return rendering.render_text(text)
