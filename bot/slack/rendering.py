"""Pure rendering of archive data into Slack messages (Block Kit), escaped and within limits.

No digest or user text can mention anyone: `& < >` are escaped so no `<!channel>`, `<@U…>` or
disguised link survives, mrkdwn objects are `verbatim` (no automatic mention parsing), and the
bot never sends `link_names` or `parse=full`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import quote

from bot.core.lookups import IssueLookup
from bot.core.text import ELLIPSIS, clamp
from bot.dates import ALL_DATES, DateRange
from bot.store.queries import ArticleView, CompanyResult, IssueView, Page, TopicResult

SECTION_LIMIT = 3000
HEADER_LIMIT = 150
BUTTON_VALUE_LIMIT = 2000
# Measured in UTF-8 bytes, which is never fewer than characters or UTF-16 units: the value fits
# Slack's limit however Slack counts.
BUTTON_VALUE_BYTES = 1900
MESSAGE_BLOCK_LIMIT = 50
VIEW_BLOCK_LIMIT = 100
FALLBACK_LIMIT = 3000
SUMMARY_PREVIEW = 280
MAX_URL = 1000
MAX_PUBLISHER = 200
QUERY_ECHO_LIMIT = 200

ACTION_MORE = "digest_more"
ACTION_SHARE = "digest_share"
ACTION_FOLLOW_SAVE = "digest_follow_save"
ACTION_UNFOLLOW = "digest_unfollow"
# "Did you mean …?" on /digest follow company: one button per close name (action ids are unique
# within a block, hence the index) and one to follow the name as typed.
ACTION_FOLLOW_SUGGESTED = "digest_follow_suggested"
ACTION_FOLLOW_AS_TYPED = "digest_follow_as_typed"
BUTTON_TEXT_LIMIT = 75

_BROADCAST_RE = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Message:
    """A Slack message: plain-text fallback plus Block Kit blocks (as dicts)."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


def escape(text: str) -> str:
    """Escape mrkdwn control characters so text can never form a mention or link."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # Belt and braces: a zero-width space keeps '@channel' inert even if a client re-parses it.
    return _BROADCAST_RE.sub(lambda m: "@\u200b" + m.group(1), text)


def clamp_escaped(text: str, limit: int) -> str:
    """Escape then clamp, never cutting an entity such as '&amp;' in half."""
    return clamp_mrkdwn(escape(text), limit)


def clamp_mrkdwn(escaped: str, limit: int) -> str:
    """Clamp text that is already escaped, never cutting an entity such as '&amp;' in half."""
    if len(escaped) <= limit:
        return escaped
    cut = clamp(escaped, limit)
    amp = cut.rfind("&", max(0, len(cut) - 8))
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp].rstrip() + ELLIPSIS
    return cut


def split_text(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Split already-escaped text into chunks of at most `limit`, at paragraph/word boundaries."""
    chunks: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        if cut < limit // 2:
            cut = rest.rfind(" ", 0, limit)
        if cut < limit // 2:
            cut = limit
        amp = rest.rfind("&", max(0, cut - 8), cut)
        if amp != -1 and ";" not in rest[amp:cut]:
            cut = amp
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks


def safe_url(url: str | None) -> str | None:
    """An http(s) URL made safe inside `<url|label>` (no '|', '<', '>' or spaces)."""
    if not url or not re.match(r"^https?://", url, re.IGNORECASE):
        return None
    quoted = quote(url, safe=":/?#[]@!$&'()*+,;=%~-._")
    return quoted if len(quoted) <= MAX_URL else None


def link(url: str | None, label: str, max_label: int = 500) -> str:
    """A mrkdwn link with an escaped label, or just the label when there is no usable URL."""
    target = safe_url(url)
    label = clamp_escaped(label, max_label).replace("|", "¦")
    return f"<{target.replace('&', '&amp;')}|{label}>" if target else label


# Blocks are built as the plain dicts slack_sdk's Block Kit models produce (the tests parse every
# rendered message with those models and require the same dict back). Building them through the
# models at run time costs ~2 ms per message (their to_dict re-validates by reflection), more than
# the archive lookup itself; the limits are enforced here by clamp/split instead.


def _mrkdwn(text: str) -> dict[str, Any]:
    # verbatim: Slack does not auto-link names, channels or URLs in this text.
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text)}


def _divider() -> dict[str, Any]:
    return {"type": "divider"}


def _button(text: str, action_id: str, value: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action_id,
        "value": value,
    }


def _sections(text: str) -> list[dict[str, Any]]:
    return [_section(chunk) for chunk in split_text(text)]


def _header(text: str) -> dict[str, Any]:
    plain = {"type": "plain_text", "text": clamp(text, HEADER_LIMIT), "emoji": False}
    return {"type": "header", "text": plain}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_mrkdwn(clamp(text, SECTION_LIMIT))]}


def _fallback(text: str) -> str:
    # The top-level text is parsed for mentions (notifications), so it is escaped too.
    return clamp_escaped(text, FALLBACK_LIMIT) or " "


def _escaped_fallback(mrkdwn: str) -> str:
    """Fallback text from mrkdwn that is already escaped (so it is not escaped twice)."""
    return clamp_mrkdwn(mrkdwn, FALLBACK_LIMIT) or " "


def _limit_blocks(
    blocks: list[dict[str, Any]], limit: int = MESSAGE_BLOCK_LIMIT
) -> list[dict[str, Any]]:
    if len(blocks) <= limit:
        return blocks
    return [*blocks[: limit - 1], _context("(shortened to fit Slack's message limits)")]


def article_line(
    article: ArticleView, *, with_date: bool = True, preview: int = SUMMARY_PREVIEW
) -> str:
    """One article as mrkdwn: linked title, company, date and a trimmed summary."""
    meta = clamp_escaped(article.publisher, MAX_PUBLISHER)
    if with_date:
        meta += f" · {article.issue_date.isoformat()}"
    text = f"*{link(article.url, article.title, 300)}*\n_{meta}_"
    if preview and article.summary:
        text += "\n" + clamp_escaped(article.summary, preview)
    return clamp(text, SECTION_LIMIT)


@dataclass(frozen=True)
class Repeat:
    """A lookup a Show more / Share button repeats: kind, query, offset and date range."""

    kind: str
    query: str
    offset: int
    dates: DateRange = ALL_DATES


def encode_action(repeat: Repeat) -> str:
    """A button value carrying a lookup to repeat, always valid JSON within Slack's limit.

    The /digest grammar already bounds a query so that it fits whole with its date range (and
    every page repeats the same lookup); only a query from elsewhere is shortened here, never
    cut mid-JSON.
    """
    data: dict[str, object] = {"k": repeat.kind, "q": repeat.query, "o": repeat.offset}
    if repeat.dates.since:
        data["s"] = repeat.dates.since.isoformat()
    if repeat.dates.until:
        data["u"] = repeat.dates.until.isoformat()
    while True:
        value = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        if len(value.encode()) <= BUTTON_VALUE_BYTES:
            return value
        data["q"] = str(data["q"])[: len(str(data["q"])) * 3 // 4]


def decode_action(value: str) -> Repeat | None:
    """The lookup a button carries, or None when it is not ours (or its range is invalid)."""
    try:
        data = json.loads(value)
        since, until = (dt.date.fromisoformat(data[k]) if data.get(k) else None for k in "su")
        dates = DateRange(since, until)
        return Repeat(str(data["k"]), str(data["q"]), max(0, int(data["o"])), dates)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _buttons(repeat: Repeat, page: Page, shareable: bool) -> list[dict[str, Any]]:
    """Show more (the next page) and Share (this page), repeating the same lookup."""
    elements = []
    if page.next_offset is not None:
        more = replace(repeat, offset=page.next_offset)
        elements.append(_button("Show more", ACTION_MORE, encode_action(more)))
    if shareable and page.items:
        this = replace(repeat, offset=page.offset)
        elements.append(_button("Share in channel", ACTION_SHARE, encode_action(this)))
    return [{"type": "actions", "elements": elements}] if elements else []


def _result_message(
    heading: tuple[str, str], repeat: Repeat, page: Page, *, shareable: bool
) -> Message:
    """A page of results under a title; `heading` is (title, what to say when it is empty)."""
    title, empty = heading
    span = repeat.dates.describe()
    if span:
        title += f" · {span}"
    blocks = [_section(title)]
    if not page.items:
        blocks.append(_section(empty))
        return Message(_escaped_fallback(f"{title} {empty}"), blocks)
    blocks.append(_divider())
    blocks.extend(_section(article_line(a)) for a in page.items)
    first, last = page.offset + 1, page.offset + len(page.items)
    more = " · more available" if page.has_more else ""
    blocks.append(_context(f"Results {first}–{last}{more}"))
    blocks.extend(_buttons(repeat, page, shareable))
    # The title is mrkdwn, escaped already: the article lines are escaped here, and the whole
    # is not escaped again (which would show '&amp;lt;' for a '<').
    lines = [f"• {escape(a.title)} ({escape(a.publisher)}, {a.issue_date})" for a in page.items]
    return Message(_escaped_fallback(title + "\n" + "\n".join(lines)), _limit_blocks(blocks))


def render_company(
    result: CompanyResult, *, shareable: bool = True, dates: DateRange = ALL_DATES
) -> Message:
    """/digest company NAME [RANGE]: the company's articles, or 'did you mean …?'."""
    if result.company is None:
        return render_unknown_company(result.query, result.suggestions)
    name = clamp_escaped(result.company, MAX_PUBLISHER)
    where = "on this page" if dates.is_open else "in these dates"
    heading = (f"*Articles by {name}* (newest first)", f"No articles by {name} {where}.")
    repeat = Repeat("company", result.query, result.page.offset, dates)
    return _result_message(heading, repeat, result.page, shareable=shareable)


def render_unknown_company(query: str, suggestions: Sequence[str]) -> Message:
    """No company by that name: 'did you mean …?' with the closest known names."""
    shown = clamp_escaped(query, QUERY_ECHO_LIMIT)
    text = f"No company called “{shown}” in the archive."
    if suggestions:
        names = " or ".join(f"*{clamp_escaped(s, MAX_PUBLISHER)}*" for s in suggestions)
        text = f"No company called “{shown}” in the archive. Did you mean {names}?"
    return Message(_escaped_fallback(text), [_section(text)])


def render_topic(
    result: TopicResult, *, shareable: bool = True, dates: DateRange = ALL_DATES
) -> Message:
    """/digest topic WORDS [RANGE]: the most relevant articles."""
    if not result.terms:
        text = "Give some words to search for, e.g. `/digest topic rate limiting`."
        return Message(_escaped_fallback(text), [_section(text)])
    query = clamp_escaped(result.query, QUERY_ECHO_LIMIT)
    heading = (
        f"*Articles about “{query}”* (most relevant first)",
        f"Nothing in the archive matches “{query}”{'' if dates.is_open else ' in these dates'}.",
    )
    repeat = Repeat("topic", result.query, result.page.offset, dates)
    return _result_message(heading, repeat, result.page, shareable=shareable)


def render_saved(page: Page, *, empty_hint: str, dates: DateRange = ALL_DATES) -> Message:
    """/digest saved [RANGE]: the person's own saved articles, newest first (never shared)."""
    heading = ("*Your saved articles* (newest first)", empty_hint)
    return _result_message(heading, Repeat("saved", "", page.offset, dates), page, shareable=False)


def render_issue_overview(issue: IssueView, *, shareable: bool = True) -> Message:
    """/digest date …: the issue's signal and the list of its deep dives."""
    blocks = [
        _header(f"Engineering @ Scale — {issue.date.isoformat()}"),
        *_sections("*Signal of the Day*\n" + escape(issue.signal)),
        _divider(),
    ]
    lines = [
        f"{i}. {link(a.url, a.title, 200)} — _{clamp_escaped(a.publisher, MAX_PUBLISHER)}_"
        for i, a in enumerate(issue.articles, start=1)
    ]
    blocks.extend(_sections(f"*Deep Dives ({len(issue.articles)})*\n" + "\n".join(lines)))
    if shareable:
        page = Page(issue.articles, 0, len(issue.articles), False)
        blocks.extend(_buttons(Repeat("date", issue.date.isoformat(), 0), page, True))
    fallback = f"Engineering @ Scale — {issue.date}: {issue.signal}"
    return Message(_fallback(fallback), _limit_blocks(blocks))


def render_no_issue(found: IssueLookup) -> Message:
    """No issue on that day (or none at all): say which dates exist nearby."""
    text = found.missing_text(quote="`")
    return Message(text, [_section(text)])


def render_text(text: str) -> Message:
    """A plain short reply (errors, confirmations), escaped."""
    escaped = clamp_escaped(text, SECTION_LIMIT)
    return Message(_fallback(text), [_section(escaped)])


_USER_ID_RE = re.compile(r"^[UW][A-Z0-9]{2,30}$")


def _mention(user_id: str) -> str:
    """<@U123> for a well-formed user id (shows the name, notifies nobody in an ephemeral)."""
    return f"<@{user_id}>" if _USER_ID_RE.match(user_id) else escape(user_id)


def render_admins(
    listed: Sequence[str], installer: str | None, env_admins: Sequence[str], *, multi: bool
) -> Message:
    """Who may change this workspace's channel schedules."""
    people = [*env_admins, *listed]
    if multi:
        lines = ["Slack workspace admins and owners may change channel schedules here."]
        if installer:
            lines.append(f"So may {_mention(installer)}, who installed the app.")
    elif not people:
        lines = ["No digest admins are set: anyone in a channel may change its schedule."]
    else:
        lines = []
    if people:
        lines.append(
            "Digest admins: " + ", ".join(_mention(p) for p in dict.fromkeys(people)) + "."
        )
    elif multi:
        lines.append("No other digest admins yet.")
    lines.append("Change the list with `/digest admins add @person` or `remove @person`.")
    text = "\n".join(lines)
    return Message(_escaped_fallback(text), [_section(text)])


def render_admins_changed(action: str, wanted: Sequence[str], changed: Sequence[str]) -> Message:
    """What `/digest admins add|remove` did."""
    done = ", ".join(_mention(u) for u in changed)
    unchanged = ", ".join(_mention(u) for u in wanted if u not in changed)
    lines = []
    if action == "add":
        lines += [f"Added as digest admins: {done}."] if done else []
        lines += [f"Already digest admins: {unchanged}."] if unchanged else []
    else:
        lines += [f"No longer digest admins: {done}."] if done else []
        lines += [f"Not on the admin list: {unchanged}."] if unchanged else []
    text = "\n".join(lines)
    return Message(_escaped_fallback(text), [_section(text)])


HELP_LINES = [
    "*Engineering @ Scale* — look things up in the digest archive:",
    "• `/digest company Cloudflare` — articles by a company, newest first",
    "• `/digest topic rate limiting` — articles about a topic, most relevant first",
    "• `/digest date 2026-05-13` (or `today`, `yesterday`, `latest`) — one issue",
    "• `/digest saved` — articles you saved by reacting with :{emoji}:; "
    "`/digest saved export` sends them to you as CSV and Markdown files",
    "• `/digest trend company AWS vs Google` · `/digest trend topic kafka` — articles per "
    "week or month as a chart (up to 5 names; the last 12 months unless a range is given)",
    "• End company, topic, saved or trend with a date range: `since 2026-04-01`, "
    "`from 2026-01-01 to 2026-03-31`, `in 2026-05`, `last 30 days`",
    "• `/digest subscribe [HH:MM] [Timezone] [weekdays|daily]` — post each new issue here",
    "• `/digest unsubscribe` · `/digest status` — stop posting here · this channel's schedule",
    "• `/digest rollup weekly [DAY] [HH:MM] [Timezone]` · `rollup monthly [HH:MM] [Timezone]` "
    "· `rollup off` · `rollup` — a weekly or monthly roll-up thread here",
    "• `/digest admins` · `admins add @person` · `admins remove @person` — who may change "
    "schedules",
    "• `/digest emoji` · `emoji NAME` · `emoji reset` — this workspace's save emoji "
    "(now :{emoji}:)",
    "• `/digest follow company Cloudflare` · `/digest follow topic rate limiting` — new "
    "articles come to you by direct message; `/digest following` · "
    "`/digest unfollow company NAME | topic WORDS | all`",
    "• `/digest filter include|exclude company NAME|topic WORDS` · `/digest filter clear` — "
    "post only matching deep dives here",
]
HELP_TEXT = "\n".join(HELP_LINES)


def render_help(save_emoji: str, *, note: str | None = None, about: str = "") -> Message:
    """Usage of /digest (also the answer to empty or unknown subcommands); `about` a verb: only
    the lines of that verb, and where to find the rest."""
    lines = [line for line in HELP_LINES[1:] if about and f"/digest {about}" in line]
    help_text = "\n".join([*lines, "• `/digest help` — everything else"]) if lines else HELP_TEXT
    text = help_text.format(emoji=clamp_escaped(save_emoji, 100))
    if note:
        text = clamp_escaped(note, 300) + "\n\n" + text
    return Message(_escaped_fallback(text), [_section(text)])


def render_save_emoji(
    name: str, *, default: bool, action: Literal["show", "set", "reset"] = "show"
) -> Message:
    """The answer to `/digest emoji`: the workspace's save emoji, or that it changed."""
    shown = f":{clamp_escaped(name, 100)}: (`{clamp_escaped(name, 100)}`" + (
        ", the default)" if default else ")"
    )
    match action:
        case "set":
            text = f"Articles in this workspace are now saved by reacting with {shown}."
        case "reset":
            text = f"Back to the default: articles are saved by reacting with {shown}."
        case _:
            text = (
                f"Articles in this workspace are saved by reacting with {shown}. "
                "Change it with `/digest emoji NAME`."
            )
    return Message(_escaped_fallback(text), [_section(text)])


# --- posting an issue to a channel ------------------------------------------------------------


def render_issue_parent(
    issue: IssueView,
    save_emoji: str = "bookmark",
    *,
    in_thread: int | None = None,
    filter_text: str | None = None,
) -> Message:
    """The parent message of a posted issue: title, date and the Signal of the Day.

    `in_thread` deep dives are in the thread (default: all); with `filter_text` the thread holds
    the ones matching the channel's filter, and the parent says how many of the issue's.
    """
    total = len(issue.articles)
    count = total if in_thread is None else in_thread
    if filter_text is None:
        holds = f"{count} deep dives in the thread"
    else:
        holds = (
            f"The thread holds the {count} of {total} deep dives matching this channel's "
            f"filter ({clamp_escaped(filter_text, 300)})"
        )
    blocks = [
        _header(f"Engineering @ Scale — {issue.date.isoformat()}"),
        *_sections("*Signal of the Day*\n" + escape(issue.signal)),
        _context(f"{holds} · react with :{clamp_escaped(save_emoji, 100)}: to save one"),
    ]
    text = f"Engineering @ Scale — {issue.date.isoformat()}\nSignal of the Day: {issue.signal}"
    return Message(_fallback(text), _limit_blocks(blocks))


def render_article_reply(article: ArticleView) -> Message:
    """One deep dive as a thread reply: linked title, company and the whole summary."""
    head = (
        f"*{link(article.url, article.title)}*\n_{clamp_escaped(article.publisher, MAX_PUBLISHER)}_"
    )
    body = escape(article.summary)
    blocks = [_section(head), *_sections(body)] if body else [_section(head)]
    text = f"{article.title} — {article.publisher}"
    return Message(_fallback(text), _limit_blocks(blocks))


def render_patterns(patterns: str) -> Message:
    """The Patterns Across Companies reply that closes the thread."""
    blocks = _sections("*Patterns Across Companies*\n" + escape(patterns))
    return Message(_fallback("Patterns Across Companies: " + patterns), _limit_blocks(blocks))


REMOVED_ARTICLE = "_This deep dive was removed from the issue._"
REMOVED_PATTERNS = "_The Patterns Across Companies section was removed from the issue._"


def render_removed(text: str) -> Message:
    """What a posted message is edited to when its part left the issue (a correction)."""
    return Message(_escaped_fallback(text), [_section(text)])


def issue_messages(issue: IssueView, save_emoji: str = "bookmark") -> list[Message]:
    """Every message of a posted issue in order: parent, one per deep dive, then patterns."""
    messages = [render_issue_parent(issue, save_emoji)]
    messages.extend(render_article_reply(a) for a in issue.articles)
    if issue.patterns:
        messages.append(render_patterns(issue.patterns))
    return messages


# --- App Home ---------------------------------------------------------------------------------


def render_home(
    latest: IssueView | None,
    saved: Page,
    save_emoji: str,
    follows: Sequence[FollowItem] = (),
    this_week: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The Home tab: latest signal, this week so far (blocks rendered by the caller), the
    person's follows (Unfollow each), saves, short help."""
    blocks: list[dict[str, Any]] = [_header("Engineering @ Scale")]
    if latest is None:
        blocks.append(_section("No issue has been archived yet."))
    else:
        blocks.append(_section(f"*Latest issue — {latest.date.isoformat()}*"))
        blocks.extend(_sections("*Signal of the Day*\n" + escape(latest.signal)))
    blocks.append(_divider())
    blocks.extend(this_week)
    blocks.extend(_home_follows(follows))
    blocks.append(_divider())
    blocks.append(_section("*Your saved articles*"))
    if saved.items:
        blocks.extend(_section(article_line(a, preview=140)) for a in saved.items)
        if saved.has_more:
            blocks.append(_context("More in `/digest saved`."))
    else:
        blocks.append(
            _section(
                f"Nothing saved yet. React with :{clamp_escaped(save_emoji, 100)}: "
                "to a deep dive to save it."
            )
        )
    blocks.append(_divider())
    blocks.append(_section(HELP_TEXT.format(emoji=clamp_escaped(save_emoji, 100))))
    return {"type": "home", "blocks": _limit_blocks(blocks, VIEW_BLOCK_LIMIT)}


@dataclass(frozen=True)
class FollowItem:
    """A follow as rendered: its id (for Unfollow), kind, what it follows, and whether it is a
    company still waiting for its first article in the archive."""

    id: int
    kind: str
    label: str
    waiting: bool = False


WAITING_NOTE = "waiting for a first article"


def _follow_text(follow: FollowItem) -> str:
    label = clamp_escaped(follow.label, MAX_PUBLISHER)
    if follow.kind != "company":
        return f"Topic “{label}”"
    return f"Company *{label}* ({WAITING_NOTE})" if follow.waiting else f"Company *{label}*"


def _home_follows(follows: Sequence[FollowItem]) -> list[dict[str, Any]]:
    blocks = [_section("*You follow*")]
    if not follows:
        blocks.append(
            _section(
                "Nothing yet. `/digest follow company Cloudflare` or "
                "`/digest follow topic rate limiting` sends you new articles by direct message."
            )
        )
        return blocks
    for follow in follows:
        block = _section(_follow_text(follow))
        block["accessory"] = _button("Unfollow", ACTION_UNFOLLOW, str(follow.id))
        blocks.append(block)
    return blocks


def render_following(follows: Sequence[FollowItem], limit: int) -> Message:
    """/digest following: the person's follows."""
    if not follows:
        text = (
            "You follow nothing yet. `/digest follow company Cloudflare` or "
            "`/digest follow topic rate limiting` sends you new articles by direct message."
        )
        return Message(_escaped_fallback(text), [_section(text)])
    lines = "\n".join(f"• {_follow_text(f)}" for f in follows)
    text = (
        f"*You follow* ({len(follows)} of at most {limit}; new articles come by direct message)"
        f"\n{lines}\n`/digest unfollow company NAME | topic WORDS | all` to stop."
    )
    return Message(_escaped_fallback(text), _sections(text))


def _label(text: str, limit: int) -> str:
    """A button's plain_text from user text: Slack does not parse it, and it is not shown as
    markup either (no '<…>' that looks like a mention), within the limit."""
    inert = _BROADCAST_RE.sub(lambda m: "@\u200b" + m.group(1), text)
    return clamp(inert.replace("<", "‹").replace(">", "›"), limit)


def render_follow_choice(name: str, suggestions: Sequence[str]) -> Message:
    """/digest follow company NAME with close names known: 'did you mean …?', a button to
    follow each close name, and one to follow NAME as typed (until it first appears)."""
    query = clamp_escaped(name, 60)
    names = " or ".join(f"*{clamp_escaped(s, MAX_PUBLISHER)}*" for s in suggestions)
    text = (
        f"No company called “{query}” in the archive yet. Did you mean {names}? Follow the "
        f"name as typed and you will hear when “{query}” first appears."
    )
    # The values are the names, which the click handler checks again as if typed.
    buttons = [
        _button(
            _label(f"Follow {suggestion}", BUTTON_TEXT_LIMIT),
            f"{ACTION_FOLLOW_SUGGESTED}_{i}",
            suggestion,
        )
        for i, suggestion in enumerate(suggestions[:3])
        if len(suggestion.encode()) <= BUTTON_VALUE_BYTES
    ]
    if len(name.encode()) <= BUTTON_VALUE_BYTES:
        label = _label(f"Follow “{clamp(name, 50)}” anyway", BUTTON_TEXT_LIMIT)
        buttons.append(_button(label, ACTION_FOLLOW_AS_TYPED, name))
    if not buttons:
        return Message(_escaped_fallback(text), [_section(clamp_mrkdwn(text, SECTION_LIMIT))])
    blocks = [_section(clamp_mrkdwn(text, SECTION_LIMIT)), {"type": "actions", "elements": buttons}]
    return Message(_escaped_fallback(text), blocks)


@dataclass(frozen=True)
class DmArticle:
    """An article in a follower's DM, with the permalink of its reply in a channel thread."""

    article: ArticleView
    thread_link: str | None = None
    channel_name: str | None = None


DM_ARTICLE_LIMIT = MESSAGE_BLOCK_LIMIT - 3


def render_follow_dm(issue_date: dt.date, items: Sequence[DmArticle]) -> Message:
    """A follower's DM: the new articles of one issue matching their follows, each with Save."""
    shown = list(items[:DM_ARTICLE_LIMIT])
    count = len(items)
    noun = "article" if count == 1 else "articles"
    head = f"*{count} new {noun} you follow* — Engineering @ Scale, {issue_date.isoformat()}"
    blocks = [_section(head)]
    for item in shown:
        text = article_line(item.article, preview=SUMMARY_PREVIEW)
        if item.thread_link and safe_url(item.thread_link):
            where = f" in #{clamp_escaped(item.channel_name, 80)}" if item.channel_name else ""
            text = clamp(
                text + "\n" + link(item.thread_link, f"Reply in the thread{where}"), SECTION_LIMIT
            )
        block = _section(text)
        block["accessory"] = _button("Save", ACTION_FOLLOW_SAVE, str(item.article.id))
        blocks.append(block)
    if count > len(shown):
        blocks.append(_context(f"…and {count - len(shown)} more: `/digest date {issue_date}`"))
    blocks.append(
        _context("`/digest following` shows what you follow · `/digest unfollow …` stops it")
    )
    lines = [f"• {escape(i.article.title)} ({escape(i.article.publisher)})" for i in shown]
    return Message(
        _escaped_fallback(f"{count} new {noun} you follow:\n" + "\n".join(lines)), blocks
    )
