"""/digest trend as a Slack message: a line chart and a table of the same counts (pure).

The table is the chart's text twin (notifications, screen readers and clients without charts
lose nothing) and keeps every period, where the chart sums runs of periods to stay within
Slack's 20 categories and says so in its title.
"""

from __future__ import annotations

import re
from typing import Any

from bot.core.trends import Trend
from bot.slack import charts
from bot.slack.charts import Series
from bot.slack.rendering import (
    ACTION_SHARE,
    FALLBACK_LIMIT,
    SECTION_LIMIT,
    Message,
    Repeat,
    clamp_mrkdwn,
    encode_action,
    escape,
)

_BROADCAST_RE = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
NAME_COLUMN = 12  # characters of a name in the table's header
CODE_FENCE = "```"


def trend_heading(found: Trend) -> str:
    """'Articles by AWS vs Google per month · from … to …' as plain text."""
    names = " vs ".join(line.name for line in found.lines)
    what = "Articles by" if found.query.kind == "company" else "Articles about"
    return f"{what} {names} per {found.by} · {found.dates.describe()}"


def trend_table(found: Trend) -> list[str]:
    """The counts as monospaced rows (plain text): a header, one row per period, the totals."""
    names = [charts.shorten(line.name, NAME_COLUMN) for line in found.lines]
    widths = [
        max(len(name), *(len(str(n)) for n in line.counts), len(str(line.total)))
        for name, line in zip(names, found.lines, strict=True)
    ]
    first = max(len("total"), *(len(p.key) for p in found.periods))

    def row(label: str, cells: list[str]) -> str:
        shown = "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))
        return f"{label:<{first}}  {shown}".rstrip()

    rows = [row(found.by, names)]
    for i, period in enumerate(found.periods):
        rows.append(row(period.key, [str(line.counts[i]) for line in found.lines]))
    rows.append(row("total", [str(line.total) for line in found.lines]))
    return rows


def trend_chart(found: Trend) -> dict[str, Any]:
    """The line chart: every period, or runs of periods summed when there are more than 20."""
    categories = [p.key for p in found.periods]
    series = [Series(_inert(line.name), line.counts) for line in found.lines]
    shown, summed, run = charts.condense(categories, series)
    title = f"Articles per {found.by}"
    if run > 1:
        title += f" ({run}-{found.by} sums, by first)"
    return charts.series_chart(
        "line", title, shown, summed, x_label=found.by.capitalize(), y_label="Articles"
    )


def _inert(name: str) -> str:
    """A name as chart text: no '<…>' that reads like a mention, no @channel (plain text, but
    a client may show it anywhere)."""
    text = name.replace("<", "‹").replace(">", "›")
    return _BROADCAST_RE.sub(lambda m: "@\u200b" + m.group(1), text)


def _code_sections(rows: list[str]) -> list[dict[str, Any]]:
    """Rows in code blocks, as many sections as Slack's 3,000 characters each need."""
    sections: list[dict[str, Any]] = []
    chunk: list[str] = []
    size = 2 * len(CODE_FENCE) + 2
    for escaped in (escape(r) for r in rows):
        if chunk and size + len(escaped) + 1 > SECTION_LIMIT:
            sections.append(_section(CODE_FENCE + "\n".join(chunk) + CODE_FENCE))
            chunk, size = [], 2 * len(CODE_FENCE) + 2
        chunk.append(escaped)
        size += len(escaped) + 1
    if chunk:
        sections.append(_section(CODE_FENCE + "\n".join(chunk) + CODE_FENCE))
    return sections


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}


def render_trend(found: Trend, *, shareable: bool = True) -> Message:
    """/digest trend: heading, line chart, the table of the same counts, and Share."""
    heading = escape(trend_heading(found))
    rows = trend_table(found)
    blocks: list[dict[str, Any]] = [_section(f"*{heading}*"), trend_chart(found)]
    blocks.extend(_code_sections(rows))
    note = (
        "Articles per period, as `/digest company` lists them"
        if found.query.kind == "company"
        else "Articles per period that `/digest topic` finds"
    )
    blocks.append({"type": "context", "elements": [_mrkdwn(note)]})
    if shareable:
        value = encode_action(Repeat("trend", found.query.text, 0, found.dates))
        button = {
            "type": "button",
            "text": {"type": "plain_text", "text": "Share in channel", "emoji": True},
            "action_id": ACTION_SHARE,
            "value": value,
        }
        blocks.append({"type": "actions", "elements": [button]})
    text = clamp_mrkdwn(heading + "\n" + escape("\n".join(rows)), FALLBACK_LIMIT)
    return Message(text, blocks)


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}
