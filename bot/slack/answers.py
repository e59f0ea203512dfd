"""What /digest answers: one function per subcommand, archive data in, a rendered Message out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.clock import Clock
from bot.config import Settings
from bot.core import filters as channel_filters
from bot.core import follows, lookups, rollups, settings, trends, workspaces
from bot.core import subscriptions as subscribing
from bot.core.grammar import (
    RangeSpec,
    Request,
    parse_admins,
    parse_day,
    parse_emoji,
    parse_schedule,
)
from bot.core.status import INVITE_HINT, channel_status
from bot.core.workspaces import AdminPolicy, SlackAdminCheck
from bot.dates import ALL_DATES, DateRange
from bot.slack import rendering
from bot.slack.answer_cache import AnswerCache
from bot.slack.membership import Membership, not_member_text
from bot.slack.rendering import Message, Repeat
from bot.slack.trend_rendering import render_trend
from bot.store.db import Database
from bot.workspace import UNASSIGNED, Workspace

Conversation = Literal["channel", "im", "mpim"]
NOT_IN_A_DM = (
    "The digest posts in channels, not in direct messages: run `/digest subscribe` in the "
    "channel that should get it."
)


@dataclass(frozen=True)
class Asker:
    """Who asked, where, and in which workspace (from Bolt's context, never from text)."""

    user_id: str
    channel_id: str
    workspace: Workspace = UNASSIGNED
    # users.info through the asking workspace's own token: is the person a Slack admin/owner.
    slack_admin: SlackAdminCheck | None = None
    # Where the command was typed: a channel, a direct message (im) or a group DM (mpim).
    conversation: Conversation = "channel"


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
        if request.hint is not None:
            return rendering.render_text(request.hint)
        dates = self._dates(request.dates, asker.user_id)
        match request.verb:
            case "company":
                return self.company(request.argument, dates=dates)
            case "topic":
                return self.topic(request.argument, dates=dates)
            case "date":
                return self.date(request.argument)
            case "saved":
                return self.saved(asker.workspace, asker.user_id, dates=dates)
            case "admins":
                return self.admins(request.argument, asker)
            case "subscribe":
                return self.subscribe(request.argument, asker)
            case "unsubscribe":
                return self.unsubscribe(asker)
            case "status":
                return self.status(asker)
            case "emoji":
                return self.emoji(request.argument, asker)
            case "follow":
                return self.follow(request.argument, asker)
            case "following":
                return self.following(asker)
            case "unfollow":
                return self.unfollow(request.argument, asker)
            case "filter":
                return self.filter(request.argument, asker)
            case "trend":
                return self.trend(request.argument, dates=dates, today=self._today(asker.user_id))
            case "rollup":
                return self.rollup(request.argument, asker)
            case _:
                return rendering.render_help(
                    self.save_emoji(asker.workspace), note=request.note, about=request.argument
                )

    def _dates(self, spec: RangeSpec | None, user_id: str) -> DateRange:
        """A request's date range as dates: 'last N days' ends today where the asker is."""
        if spec is None:
            return ALL_DATES
        if isinstance(spec, DateRange):
            return spec
        return spec.resolve(self._today(user_id))

    def _today(self, user_id: str) -> dt.date:
        """Today where the asker is (UTC when Slack cannot tell)."""
        try:
            zone = ZoneInfo(self.user_timezone(user_id) or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        return self.clock().astimezone(zone).date()

    def page(self, repeat: Repeat, asker: Asker, *, shareable: bool) -> Message:
        """A further page (Show more) or a shared copy of a lookup, with its date range."""
        offset, dates = repeat.offset, repeat.dates
        match repeat.kind:
            case "company":
                return self.company(repeat.query, offset, dates=dates, shareable=shareable)
            case "topic":
                return self.topic(repeat.query, offset, dates=dates, shareable=shareable)
            case "date":
                return self.date(repeat.query, shareable=shareable)
            case "saved":
                return self.saved(asker.workspace, asker.user_id, offset, dates=dates)
            case "trend":
                # The shared copy keeps the asker's dates (resolved when first answered).
                return self.trend(repeat.query, dates=dates, shareable=shareable)
            case _:
                return rendering.render_text("That button has expired; run the command again.")

    def company(
        self, name: str, offset: int = 0, *, dates: DateRange = ALL_DATES, shareable: bool = True
    ) -> Message:
        """Articles by a company."""
        return self._lookup(
            ("company", name, offset, dates, shareable),
            lambda: rendering.render_company(
                lookups.company(self.database, name, offset, dates),
                shareable=shareable,
                dates=dates,
            ),
        )

    def topic(
        self, words: str, offset: int = 0, *, dates: DateRange = ALL_DATES, shareable: bool = True
    ) -> Message:
        """Articles about a topic."""
        return self._lookup(
            ("topic", words, offset, dates, shareable),
            lambda: rendering.render_topic(
                lookups.topic(self.database, words, offset, dates),
                shareable=shareable,
                dates=dates,
            ),
        )

    def trend(
        self,
        argument: str,
        *,
        dates: DateRange = ALL_DATES,
        today: dt.date | None = None,
        shareable: bool = True,
    ) -> Message:
        """Articles per week or month for up to five companies or topics, as a chart and a
        table (a date range given whole is answered alike on any day)."""
        try:
            query = trends.parse_trend(argument)
        except trends.TrendError as exc:
            return rendering.render_text(str(exc))
        day = today or self.clock().date()

        def build() -> Message:
            try:
                found = trends.trend(self.database, query, dates, today=day)
            except trends.TrendError as exc:
                return rendering.render_text(str(exc))
            if isinstance(found, trends.UnknownCompany):
                return rendering.render_unknown_company(found.query, found.suggestions)
            return render_trend(found, shareable=shareable)

        return self._lookup(("trend", query, dates, day, shareable), build)

    def date(self, text: str, *, shareable: bool = True) -> Message:
        """One issue by date (or today/yesterday/latest)."""
        try:
            day = parse_day(text, self.clock().date())
        except ValueError as exc:
            return rendering.render_text(str(exc))

        def build() -> Message:
            found = lookups.issue(self.database, day)
            if found.issue is None:
                return rendering.render_no_issue(found)
            return rendering.render_issue_overview(found.issue, shareable=shareable)

        # Keyed by the day itself: "today" means another issue tomorrow.
        return self._lookup(("date", day, shareable), build)

    def saved(
        self,
        workspace: Workspace,
        user_id: str,
        offset: int = 0,
        *,
        dates: DateRange = ALL_DATES,
    ) -> Message:
        """The asker's own saved articles (in the asking workspace)."""
        page = lookups.saved(self.database, workspace, user_id, offset, dates)
        hint = (
            f"You have not saved anything yet. React with :{self.save_emoji(workspace)}: "
            "to a deep dive the bot posted to save it."
        )
        if not dates.is_open:
            hint = "None of your saved articles is from these dates."
        return rendering.render_saved(page, empty_hint=rendering.escape(hint), dates=dates)

    def save_emoji(self, workspace: Workspace) -> str:
        """The reaction that saves an article in the workspace."""
        return settings.save_emoji(self.database, workspace, self.settings.save_emoji)

    def emoji(self, argument: str, asker: Asker) -> Message:
        """Show the workspace's save emoji, or set or reset it (schedule managers only)."""
        try:
            change = parse_emoji(argument)
        except ValueError as exc:
            return rendering.render_text(str(exc))
        default = self.settings.save_emoji
        if change.action == "show":
            found = settings.save_emoji_setting(self.database, asker.workspace, default)
            return rendering.render_save_emoji(found.name, default=found.default)
        refusal = self._refusal(asker, workspaces.NOT_ALLOWED_SETTINGS)
        if refusal is not None:
            return refusal
        name = change.name if change.action == "set" else None
        now = self.clock()
        chosen = settings.set_save_emoji(self.database, asker.workspace, name, default, now)
        return rendering.render_save_emoji(
            chosen.name, default=chosen.default, action=change.action
        )

    @property
    def policy(self) -> AdminPolicy:
        """Who may manage schedules: DIGEST_ADMINS, or per workspace with many workspaces."""
        return AdminPolicy(self.settings.multi_workspace, self.settings.admin_ids)

    def _refusal(self, asker: Asker, denied: str = workspaces.NOT_ALLOWED) -> Message | None:
        """Why the asker may not manage schedules here (None: they may)."""
        allowed = workspaces.may_manage(
            self.database, asker.workspace, asker.user_id, self.policy, asker.slack_admin
        )
        if allowed is None:
            return rendering.render_text(workspaces.COULD_NOT_TELL)
        return None if allowed else rendering.render_text(denied)

    def admins(self, argument: str, asker: Asker) -> Message:
        """List the workspace's digest admins, or add/remove people (admins only)."""
        try:
            change = parse_admins(argument)
        except ValueError as exc:
            return rendering.render_text(str(exc))
        if change.action != "list":
            refusal = self._refusal(asker)
            if refusal is not None:
                return refusal
            changed = workspaces.change_admins(
                self.database,
                asker.workspace,
                change.user_ids,
                add=change.action == "add",
                by=asker.user_id,
                now=self.clock(),
            )
            return rendering.render_admins_changed(change.action, change.user_ids, changed)
        found = workspaces.admins(self.database, asker.workspace, self.policy)
        return rendering.render_admins(
            found.listed, found.installer, found.env_admins, multi=self.policy.multi_workspace
        )

    def subscribe(self, argument: str, asker: Asker) -> Message:
        """Subscribe the channel (or change its schedule)."""
        if asker.conversation != "channel":
            return rendering.render_text(NOT_IN_A_DM)
        refusal = self._refusal(asker)
        if refusal is not None:
            return refusal
        try:
            wanted = parse_schedule(argument)
        except ValueError as exc:
            return rendering.render_text(str(exc))
        zone = wanted.timezone or self.user_timezone(asker.user_id) or "UTC"
        sub = subscribing.subscribe(
            self.database,
            asker.workspace,
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
        refusal = self._refusal(asker)
        if refusal is not None:
            return refusal
        if not subscribing.unsubscribe(self.database, asker.workspace, asker.channel_id):
            return rendering.render_text("This channel was not subscribed.")
        return rendering.render_text("This channel will no longer get the digest.")

    def filter(self, argument: str, asker: Asker) -> Message:
        """Show the channel's filter, or change it (those who may change schedules only)."""
        command = channel_filters.parse_filter(argument)
        if command.action in ("add", "clear"):
            refusal = self._refusal(asker)
            if refusal is not None:
                return refusal
        text = channel_filters.run(
            self.database, asker.workspace, asker.channel_id, command, asker.user_id
        )
        return rendering.render_text(text)

    def rollup(self, argument: str, asker: Asker) -> Message:
        """Show the channel's roll-up, or set or stop it (those who may subscribe only)."""
        if asker.conversation != "channel":
            return rendering.render_text(NOT_IN_A_DM)
        try:
            change = rollups.parse_rollup(argument)
        except ValueError as exc:
            return rendering.render_text(str(exc))
        now = self.clock()
        if change.action == "show":
            found = rollups.get_rollup(self.database, asker.workspace, asker.channel_id)
            if found is None:
                return rendering.render_text(f"This channel gets no roll-up. {rollups.USAGE}")
            return rendering.render_text(rollups.describe(found, now))
        refusal = self._refusal(asker)
        if refusal is not None:
            return refusal
        if change.action == "off":
            if not rollups.stop_rollup(self.database, asker.workspace, asker.channel_id):
                return rendering.render_text("This channel had no roll-up.")
            return rendering.render_text("This channel will no longer get roll-ups.")
        zone = self.user_timezone(asker.user_id) or "UTC"
        chosen = rollups.set_rollup(
            self.database,
            asker.workspace,
            asker.channel_id,
            change,
            timezone=zone,
            user_id=asker.user_id,
            now=now,
        )
        return rendering.render_text(rollups.describe(chosen, now))

    def status(self, asker: Asker) -> Message:
        """The channel's schedule, next post, last delivery and any failure."""
        max_age = dt.timedelta(days=self.settings.max_issue_age_days)
        text = channel_status(
            self.database, asker.workspace, asker.channel_id, self.clock(), max_age
        ).text
        found = channel_filters.rules(self.database, asker.workspace, asker.channel_id)
        if found:
            text += f"\nFilter: {channel_filters.describe(found)} (see `/digest filter`)."
        if self.membership and self.membership.check(asker.channel_id) == "not_member":
            text = not_member_text() + "\n" + text
        return rendering.render_text(text)

    def follow(self, argument: str, asker: Asker) -> Message:
        """Follow a company or a topic."""
        done = follows.follow(self.database, asker.workspace, asker.user_id, argument, self.clock())
        return _follow_answer(done)

    def follow_company(self, name: str, asker: Asker, *, as_typed: bool) -> Message:
        """Follow a company chosen by button: a close name offered, or the name as typed."""
        done = follows.follow_company(
            self.database, asker.workspace, asker.user_id, name, self.clock(), as_typed=as_typed
        )
        return _follow_answer(done)

    def unfollow(self, argument: str, asker: Asker) -> Message:
        """Stop following a company, a topic or everything."""
        done = follows.unfollow(self.database, asker.workspace, asker.user_id, argument)
        return rendering.render_text(done.text)

    def following(self, asker: Asker) -> Message:
        """The asker's follows."""
        mine = follows.following(self.database, asker.workspace, asker.user_id)
        items = [rendering.FollowItem(f.id, f.kind, f.label, f.waiting) for f in mine]
        return rendering.render_following(items, follows.MAX_FOLLOWS)


def _follow_answer(done: follows.Outcome) -> Message:
    """What a follow did; 'did you mean …?' with a button per choice when the name was close."""
    if done.suggestions:
        return rendering.render_follow_choice(done.name, done.suggestions)
    return rendering.render_text(done.text)
