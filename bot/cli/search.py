"""`python -m bot search company|topic|date`: the /digest lookups, printed with rich."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.text import Text

from bot.cli.common import date_range, load_settings, open_db, out, parse_day_option
from bot.core.text import clamp

if TYPE_CHECKING:
    from bot.core.lookups import IssueLookup
    from bot.dates import DateRange
    from bot.store.db import Database
    from bot.store.queries import ArticleView, CompanyResult, Page, TopicResult

# What /digest shows of a summary in a list of results.
SUMMARY_PREVIEW = 280
RULE = "─" * 40

search_app = typer.Typer(help="Look up the archive as /digest does.", no_args_is_help=True)

Offset = Annotated[int, typer.Option(help="Skip this many results.", metavar="N")]
CompanyName = Annotated[
    list[str], typer.Argument(help="Company name, e.g. Cloudflare.", metavar="NAME")
]
TopicWords = Annotated[list[str], typer.Argument(help="Words to search for.", metavar="WORDS")]
Since = Annotated[
    str | None,
    typer.Option(help="Only issues from this day on: YYYY-MM-DD (YYYY-MM, YYYY).", metavar="DATE"),
]
Until = Annotated[
    str | None,
    typer.Option(help="Only issues up to this day: YYYY-MM-DD (YYYY-MM, YYYY).", metavar="DATE"),
]


def _run(show: Callable[[Database], None]) -> None:
    """Open the configured database, print one lookup, close it."""
    database = open_db(load_settings())
    try:
        show(database)
    finally:
        database.dispose()


def _print(text: str, style: str = "") -> None:
    out.print(Text(text, style=style))


@search_app.command("company")
def search_company(
    name: CompanyName, offset: Offset = 0, since: Since = None, until: Until = None
) -> None:
    """Articles by a company, newest first (what `/digest company` shows)."""
    _articles("company", " ".join(name), offset, date_range(since, until))


@search_app.command("topic")
def search_topic(
    words: TopicWords, offset: Offset = 0, since: Since = None, until: Until = None
) -> None:
    """Articles about a topic, most relevant first (what `/digest topic` shows)."""
    _articles("topic", " ".join(words), offset, date_range(since, until))


def _articles(kind: Literal["company", "topic"], query: str, offset: int, dates: DateRange) -> None:
    """Run a company or topic lookup and print its page."""
    from bot.core import lookups

    def show(database: Database) -> None:
        if kind == "company":
            _print_company(lookups.company(database, query, offset, dates), dates)
        else:
            _print_topic(lookups.topic(database, query, offset, dates), dates)

    _run(show)


@search_app.command("date")
def search_date(
    day: Annotated[
        str, typer.Argument(help="YYYY-MM-DD, today, yesterday or latest.", metavar="DAY")
    ],
) -> None:
    """One issue (what `/digest date` shows)."""
    from bot.core import lookups

    wanted = parse_day_option(day)  # a bad day: one line, exit 2
    _run(lambda database: _print_issue(lookups.issue(database, wanted)))


def _print_company(result: CompanyResult, dates: DateRange) -> None:
    """A company's articles, or the names it may have meant."""
    if result.company is None:
        miss = f"No company called “{result.query}” in the archive."
        if result.suggestions:
            miss += f" Did you mean {' or '.join(result.suggestions)}?"
        _print(miss)
        return
    title = f"Articles by {result.company} (newest first)"
    where = "on this page" if dates.is_open else "in these dates"
    _print_page(title, dates, result.page, f"No articles by {result.company} {where}.")


def _print_topic(result: TopicResult, dates: DateRange) -> None:
    """The articles matching a topic (nothing to search for: say how)."""
    if result.terms:
        title = f"Articles about “{result.query}” (most relevant first)"
        where = "" if dates.is_open else " in these dates"
        empty = f"Nothing in the archive matches “{result.query}”{where}."
        _print_page(title, dates, result.page, empty)
    else:
        _print("Give some words to search for, e.g. `search topic rate limiting`.")


def _print_page(title: str, dates: DateRange, page: Page, empty: str) -> None:
    """A lookup's title (with its date range), its articles and where the next page starts."""
    span = dates.describe()
    _print(f"{title} · {span}" if span else title, "bold")
    if not page.items:
        _print(empty)
        return
    _print(RULE, "dim")
    for article in page.items:
        _print_article(article)
    first, last = page.offset + 1, page.offset + len(page.items)
    more = f" · more available (--offset {page.next_offset})" if page.has_more else ""
    _print(f"Results {first}–{last}{more}", "dim")


def _print_article(article: ArticleView) -> None:
    title = f"{article.title} ({article.url})" if article.url else article.title
    _print(title, "bold")
    _print(f"{article.publisher} · {article.issue_date.isoformat()}", "italic")
    if article.summary:
        _print(clamp(article.summary, SUMMARY_PREVIEW))


def _print_issue(found: IssueLookup) -> None:
    """One issue: the signal and the list of its deep dives."""
    issue = found.issue
    if issue is None:
        _print(found.missing_text())
        return
    _print(f"Engineering @ Scale — {issue.date.isoformat()}", "bold")
    _print("Signal of the Day", "bold")
    _print(issue.signal)
    _print(RULE, "dim")
    _print(f"Deep Dives ({len(issue.articles)})", "bold")
    for number, article in enumerate(issue.articles, start=1):
        link = f" ({article.url})" if article.url else ""
        _print(f"{number}. {article.title}{link} — {article.publisher}")
