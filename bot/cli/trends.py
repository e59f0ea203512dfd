"""`python -m bot trend company|topic`: articles per week or month, as /digest trend counts them."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.common import date_range, fail, load_settings, open_db, out, table

if TYPE_CHECKING:
    from bot.core.trends import Kind, Trend

BAR_WIDTH = 12

trend_app = typer.Typer(
    help="Articles per week or month for up to 5 companies or topics.", no_args_is_help=True
)

Versus = Annotated[
    list[str] | None,
    typer.Option("--vs", help="Another one to compare (up to 4 times).", metavar="NAME"),
]
By = Annotated[
    str | None,
    typer.Option(
        help="week or month (default: per week up to 26 weeks, else per month).",
        metavar="week|month",
    ),
]
Since = Annotated[
    str | None,
    typer.Option(help="From this day: YYYY-MM-DD (YYYY-MM, YYYY).", metavar="DATE"),
]
Until = Annotated[
    str | None,
    typer.Option(help="Up to this day: YYYY-MM-DD (YYYY-MM, YYYY).", metavar="DATE"),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")]


@trend_app.command("company")
def trend_company(
    name: Annotated[list[str], typer.Argument(help="Company, e.g. Cloudflare.", metavar="NAME")],
    vs: Versus = None,
    by: By = None,
    since: Since = None,
    until: Until = None,
    as_json: AsJson = False,
) -> None:
    """A company's articles per week or month (the default range: the last 12 months)."""
    _trend("company", [" ".join(name), *(vs or [])], by, since, until, as_json=as_json)


@trend_app.command("topic")
def trend_topic(
    words: Annotated[list[str], typer.Argument(help="Words, e.g. kafka.", metavar="WORDS")],
    vs: Versus = None,
    by: By = None,
    since: Since = None,
    until: Until = None,
    as_json: AsJson = False,
) -> None:
    """Articles about a topic per week or month (what `/digest topic` finds in each)."""
    _trend("topic", [" ".join(words), *(vs or [])], by, since, until, as_json=as_json)


def _trend(
    kind: Kind,
    names: list[str],
    by: str | None,
    since: str | None,
    until: str | None,
    *,
    as_json: bool,
) -> None:
    """Count, then print a table with bars or the JSON; bad input is one line and exit 2."""
    from bot.clock import utc_now
    from bot.core import trends

    if by is not None and by not in ("week", "month"):
        fail(f"--by takes week or month, not {by[:20]!r}", 2)
    dates = date_range(since, until)
    try:
        query = trends.make_query(kind, names)
    except trends.TrendError as exc:
        fail(str(exc).replace("/digest trend", "trend"), 2)
    database = open_db(load_settings())
    try:
        found = trends.trend(database, query, dates, today=utc_now().date(), by=by)  # type: ignore[arg-type]
    except trends.EmptyArchiveError as exc:
        fail(str(exc))
    except trends.TrendError as exc:
        fail(str(exc).replace("/digest trend", "trend"), 2)
    finally:
        database.dispose()
    if isinstance(found, trends.UnknownCompany):
        miss = f"no company called “{found.query}” in the archive."
        if found.suggestions:
            miss += f" Did you mean {' or '.join(found.suggestions)}?"
        fail(miss, 2)
    if as_json:
        sys.stdout.write(json.dumps(trend_json(found), ensure_ascii=False) + "\n")
        return
    _print_table(found)


def trend_json(found: Trend) -> dict[str, object]:
    """{"by": …, "series": [{"name": …, "points": [{"period": …, "count": N}, …]}, …]}."""
    return {
        "by": found.by,
        "series": [
            {
                "name": line.name,
                "points": [
                    {"period": p.key, "count": n}
                    for p, n in zip(found.periods, line.counts, strict=True)
                ],
            }
            for line in found.lines
        ],
    }


def _print_table(found: Trend) -> None:
    """One row per period: each name's count and a bar (scaled to the largest count)."""
    from bot.slack.charts import bar

    top = max((n for line in found.lines for n in line.counts), default=0)
    rows = []
    for i, period in enumerate(found.periods):
        cells = [period.key]
        for line in found.lines:
            count = line.counts[i]
            cells.append(f"{count:>5} {bar(count, top, BAR_WIDTH):<{BAR_WIDTH}}")
        rows.append(cells)
    rows.append(["total", *(f"{line.total:>5}" + " " * (BAR_WIDTH + 1) for line in found.lines)])
    noun = "Articles" if found.query.kind == "company" else "Articles about"
    out.print(
        f"{noun} {' vs '.join(line.name for line in found.lines)} per {found.by} · "
        f"{found.dates.describe()}",
        markup=False,
        highlight=False,
    )
    out.print(table([found.by, *(line.name for line in found.lines)], rows))
