"""A roll-up as a Slack thread, and the App Home's "This week" section (pure, within limits).

The parent has the headline, a bar chart of the top companies and the same figures as text
(notifications, screen readers and clients without charts lose nothing); the replies are the
period's Signals of the Day, its Patterns Across Companies and, when anyone saved anything, the
most-saved articles. Text from issues is escaped before it is clamped, like every message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bot.core import rollups
from bot.core.rollups import Period, Rollup, ThisWeek
from bot.slack import charts
from bot.slack.rendering import (
    MAX_PUBLISHER,
    SECTION_LIMIT,
    Message,
    _context,
    _divider,
    _escaped_fallback,
    _header,
    _label,
    _section,
    clamp_escaped,
    escape,
    link,
    split_text,
)
from bot.store.db import Database
from bot.workspace import Workspace

# Sections per reply: a long month's signals continue in a further reply rather than being cut
# (Slack allows 50 blocks per message; 20 sections of up to 3,000 characters stay far below
# what a client shows comfortably in one message).
SECTIONS_PER_MESSAGE = 20
SIGNAL_LIMIT = 1500
PATTERNS_LIMIT = 2500
CHART_TITLE = "Top companies by articles"
# A thread link: the ts of a channel's daily thread made a URL (chat.getPermalink), or None.
Permalink = Callable[[str], str | None]


def period_title(period: Period) -> str:
    """'the week 2026-W14' or 'the month 2026-04'."""
    return f"the {period.kind} {period.label}"


def period_span(period: Period) -> str:
    """'Mon 2026-03-30 – Sun 2026-04-05'."""
    return f"{_dated(period.start)} – {_dated(period.end)}"


def _dated(day: dt.date) -> str:
    """'Mon 2026-03-30' (English day names, whatever the locale)."""
    return f"{rollups.WEEKDAYS[day.weekday()][:3].capitalize()} {day.isoformat()}"


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _day(day: dt.date, links: Mapping[dt.date, str]) -> str:
    """The issue's date, linked to the channel's thread of that day when it has one."""
    label = _dated(day)
    url = links.get(day)
    return link(url, label) if url else label


def render_rollup_parent(rollup: Rollup) -> Message:
    """The roll-up's parent: headline, the top-companies chart and the same figures as text."""
    period = rollup.period
    issues, dives = len(rollup.issues), rollup.deep_dives
    headline = f"*{_count(issues, 'issue')} · {_count(dives, 'deep dive')}* · {period_span(period)}"
    blocks: list[dict[str, Any]] = [
        _header(f"Engineering @ Scale — {period_title(period)}"),
        _section(headline),
    ]
    fallback = f"Engineering @ Scale — {period_title(period)} ({period_span(period)}): "
    fallback += f"{_count(issues, 'issue')}, {_count(dives, 'deep dive')}."
    top = list(rollup.top_companies)
    if top:
        # Chart labels are plain text Slack does not parse, made inert anyway (as button labels
        # are): a company called "<!channel>" shows, and pings nobody, wherever it is copied.
        names = [_label(name, MAX_PUBLISHER) for name, _ in top]
        counts = [float(n) for _, n in top]
        blocks.append(
            charts.series_chart(
                "bar",
                CHART_TITLE,
                names,
                [charts.Series("Articles", counts)],
                y_label="Articles",
                block_id="rollup_top_companies",
            )
        )
        bars = escape(charts.text_bars([(name, n) for name, n in top]))
        blocks.append(_section(f"*{CHART_TITLE}*\n```\n{bars}\n```"))
        listed = ", ".join(f"{escape(name)} {n}" for name, n in top)
        fallback = escape(fallback) + f" Top companies: {listed}."
    else:
        fallback = escape(fallback)
        blocks.append(_section("No articles in this period."))
    if issues:
        blocks.append(
            _context("Signals of the Day, Patterns Across Companies and most saved in the thread.")
        )
    return Message(_escaped_fallback(fallback), blocks)


def _paged(title: str, entries: Sequence[str], fallback: str) -> list[Message]:
    """Entries (escaped mrkdwn) under a title, as one message, or more when too long."""
    sections = [s for entry in entries for s in split_text(entry, SECTION_LIMIT)]
    messages = []
    for first in range(0, len(sections), SECTIONS_PER_MESSAGE):
        part = sections[first : first + SECTIONS_PER_MESSAGE]
        heading = title if first == 0 else f"{title} (continued)"
        blocks = [_section(f"*{heading}*"), *(_section(s) for s in part)]
        messages.append(Message(_escaped_fallback(f"{heading}: {fallback}"), blocks))
    return messages


def render_signals(rollup: Rollup, links: Mapping[dt.date, str]) -> list[Message]:
    """The period's Signals of the Day, one entry per issue (usually one message)."""
    entries = [
        f"*{_day(issue.date, links)}* — {clamp_escaped(issue.signal, SIGNAL_LIMIT)}"
        for issue in rollup.issues
    ]
    if not entries:
        return []
    return _paged("Signals of the Day", entries, f"{len(entries)} signals")


def render_patterns(rollup: Rollup, links: Mapping[dt.date, str]) -> list[Message]:
    """The period's Patterns Across Companies, one entry per issue that has them."""
    entries = [
        f"*{_day(issue.date, links)}* — {clamp_escaped(issue.patterns, PATTERNS_LIMIT)}"
        for issue in rollup.issues
        if issue.patterns and issue.patterns.strip()
    ]
    if not entries:
        return []
    return _paged("Patterns Across Companies", entries, f"{len(entries)} issues")


def render_most_saved(rollup: Rollup, links: Mapping[dt.date, str]) -> list[Message]:
    """The most-saved articles in this workspace, with how many saved each (none: no message)."""
    if not rollup.most_saved:
        return []
    lines = []
    for i, (article, saves) in enumerate(rollup.most_saved, start=1):
        publisher = clamp_escaped(article.publisher, MAX_PUBLISHER)
        lines.append(
            f"{i}. *{link(article.url, article.title, 300)}* — _{publisher}_ · "
            f"{_count(saves, 'save')} · {_day(article.issue_date, links)}"
        )
    text = "*Most saved in this workspace*\n" + "\n".join(lines)
    titles = "; ".join(f"{escape(a.title)} ({n})" for a, n in rollup.most_saved)
    return [
        Message(
            _escaped_fallback(f"Most saved: {titles}"),
            [_section(chunk) for chunk in split_text(text, SECTION_LIMIT)],
        )
    ]


def render_rollup(rollup: Rollup, links: Mapping[dt.date, str] | None = None) -> list[Message]:
    """Every message of a roll-up in order: the parent, then its replies. `links` are the
    channel's daily threads by issue date (a date without one is shown as text)."""
    links = links or {}
    return [
        render_rollup_parent(rollup),
        *render_signals(rollup, links),
        *render_patterns(rollup, links),
        *render_most_saved(rollup, links),
    ]


def rollup_messages(
    database: Database,
    workspace: Workspace,
    channel_id: str,
    period: Period,
    *,
    permalink: Permalink | None = None,
) -> list[Message]:
    """The roll-up a channel gets for a period: parent first, then the replies.

    `permalink` turns the ts of one of the channel's daily threads into a URL (e.g. through
    chat.getPermalink); without it, or where it gives None, the day is shown as text.
    """
    found = rollups.rollup(database, workspace, channel_id, period)
    links: dict[dt.date, str] = {}
    if permalink is not None:
        for day, ts in found.threads.items():
            url = permalink(ts)
            if url:
                links[day] = url
    return render_rollup(found, links)


# --- App Home ---------------------------------------------------------------------------------


def home_this_week(week: ThisWeek) -> list[dict[str, Any]]:
    """The Home tab's "This week" blocks: deep dives so far, top companies as text bars (Home
    views take no charts: Slack documents the chart block for messages), the person's saves."""
    span = f"{_dated(week.period.start)} to today"
    saves = _count(week.your_saves, "article")
    lines = [
        f"*This week* ({span})",
        f"{_count(week.deep_dives, 'deep dive')} so far · you saved {saves}",
    ]
    blocks = [_section("\n".join(lines))]
    if week.top_companies:
        bars = escape(charts.text_bars(list(week.top_companies), width=10))
        blocks.append(_section(f"*Top companies*\n```\n{bars}\n```"))
    return [*blocks, _divider()]
