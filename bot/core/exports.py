"""A person's saved articles as files to keep: CSV for spreadsheets, a Markdown reading list."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from typing import Literal, get_args
from urllib.parse import quote

from bot.core.text import clean
from bot.store import saves
from bot.store.db import Database
from bot.store.saves import SavedArticle
from bot.workspace import Workspace

Format = Literal["csv", "md"]
FORMATS: tuple[Format, ...] = get_args(Format)
CSV_COLUMNS = ("title", "company", "date", "url", "summary", "saved_at")
EXPORT_USAGE = (
    "Use `/digest saved export` for both files, or `/digest saved export csv` or "
    "`/digest saved export md` for one."
)
# OWASP "CSV Injection": a cell starting with one of these is a formula in Excel, LibreOffice
# and Google Sheets (tab and CR too: some strip them and then read what follows); titles and
# summaries come from newsletters, so such a cell is prefixed with a quote and stays text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Characters that start inline Markdown anywhere: emphasis, code, links and images (`]` closes a
# link text), tables and strikethrough; backslash-escaped.
_MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]!|~])")
# Autolinks, HTML and Slack's own syntax (`<!channel>`, `<@U…>`) as entities: Markdown shows
# `<` and Slack, should the text be pasted there, shows it too and pings nobody.
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# ...and what starts a block at the beginning of a line: a heading, a list item, a quote.
_MARKDOWN_LINE_START = re.compile(r"^(?:([#+\-=])|(\d+)([.)]))")
# Characters a URL keeps as they are inside `<…>` (anything else, `<`, `>`, spaces, is
# percent-encoded, so the URL cannot end the link early).
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~-._"


@dataclass(frozen=True)
class ExportFile:
    """One file of an export: its name, title in Slack, and content."""

    filename: str
    title: str
    content: str


def saved_articles(database: Database, workspace: Workspace, user_id: str) -> list[SavedArticle]:
    """Every article the person has saved in the workspace, latest save first."""
    with database.read() as session:
        return saves.all_saved_articles(session, workspace, user_id)


def count_saved(database: Database, workspace: Workspace, user_id: str) -> int:
    """How many articles the person has saved in the workspace."""
    with database.read() as session:
        return saves.count_saved(session, workspace, user_id)


def parse_formats(argument: str) -> tuple[Format, ...]:
    """'export', 'export csv' or 'export md' as the formats wanted; ValueError otherwise."""
    words = argument.casefold().split()
    if not words or words[0] != "export":
        raise ValueError(EXPORT_USAGE)
    if len(words) == 1:
        return FORMATS
    if len(words) == 2 and words[1] in ("csv", "md", "markdown"):
        return ("csv",) if words[1] == "csv" else ("md",)
    raise ValueError(EXPORT_USAGE)


def guard_cell(text: str) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def render_csv(articles: list[SavedArticle]) -> str:
    """CSV with a header row: title, company, date, url, summary, saved_at (UTC, ISO 8601)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for article in articles:
        writer.writerow(
            (
                guard_cell(article.title),
                guard_cell(article.publisher),
                article.issue_date.isoformat(),
                guard_cell(article.url or ""),
                guard_cell(article.summary),
                _utc(article.saved_at),
            )
        )
    return buffer.getvalue()


def markdown_text(text: str) -> str:
    """Text on one line that Markdown shows as it is: nothing in it starts markup."""
    escaped = _MARKDOWN_INLINE.sub(r"\\\1", clean(text))
    escaped = re.sub(r"[&<>]", lambda m: _ENTITIES[m[0]], escaped)
    return _MARKDOWN_LINE_START.sub(
        lambda m: "\\" + m[1] if m[1] else f"{m[2]}\\{m[3]}", escaped, count=1
    )


def markdown_url(url: str | None) -> str | None:
    """An http(s) URL fit for `[text](<url>)`, or None for any other (or no) URL."""
    if not url or not re.match(r"^https?://", url, re.IGNORECASE):
        return None
    return quote(clean(url), safe=_URL_SAFE)


def render_markdown(articles: list[SavedArticle]) -> str:
    """A reading list: one item per article (linked title, company, date, summary)."""
    lines = [
        "# Saved articles",
        "",
        f"{_count(len(articles))} from Engineering @ Scale, latest save first.",
        "",
    ]
    for article in articles:
        title = markdown_text(article.title) or "(untitled)"
        url = markdown_url(article.url)
        shown = f"[{title}](<{url}>)" if url else title
        meta = f"{markdown_text(article.publisher)} · {article.issue_date.isoformat()}"
        lines.append(f"- {shown}  ")
        lines.append(f"  {meta} · saved {article.saved_at.astimezone(dt.UTC):%Y-%m-%d}")
        summary = markdown_text(article.summary)
        if summary:
            lines.append("")
            lines.append(f"  {summary}")
        lines.append("")
    return "\n".join(lines)


def _count(n: int) -> str:
    return f"{n} saved article" + ("" if n == 1 else "s")


def render(articles: list[SavedArticle], fmt: Format) -> str:
    """The export in one format."""
    return render_csv(articles) if fmt == "csv" else render_markdown(articles)


_FILES: dict[Format, tuple[str, str]] = {
    "csv": ("saved-articles.csv", "Saved articles (CSV)"),
    "md": ("saved-articles.md", "Saved articles (reading list)"),
}


def export_files(articles: list[SavedArticle], formats: tuple[Format, ...]) -> list[ExportFile]:
    """The files of an export: the CSV and/or the Markdown reading list."""
    return [ExportFile(*_FILES[fmt], render(articles, fmt)) for fmt in formats]


def sending_text(count: int) -> str:
    """What the person is told at once: the export is on its way."""
    return f"Sending your {_count(count)} in a DM…"


def uploaded_comment(count: int, formats: tuple[Format, ...]) -> str:
    """The DM's text above the files (the bot's own words only: no digest text, no mention)."""
    kinds = {"csv": "a CSV for spreadsheets", "md": "a Markdown reading list"}
    return f"Your {_count(count)}: " + " and ".join(kinds[f] for f in formats) + "."


NOTHING_SAVED = (
    "You have no saved articles in this workspace, so there is nothing to export. React to a "
    "deep dive the bot posted to save it."
)
