"""`python -m bot companies …`: company attribution for the operator (list, review, fix, add)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.common import fail, load_settings, open_db, out, table

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot.core.companies import Outcome
    from bot.store.db import Database

companies_app = typer.Typer(
    help="Company attribution: list, review, fix splits and teach names.", no_args_is_help=True
)


def _write(change: Callable[[Database], Outcome]) -> Outcome:
    """Run one change (one transaction); bad input is one line on stderr and exit 1."""
    from bot.core.companies import CompanyInputError

    database = open_db(load_settings())
    try:
        return change(database)
    except CompanyInputError as exc:
        fail(str(exc))
    finally:
        database.dispose()


def _changed(count: int) -> str:
    return f"{count} article{'' if count == 1 else 's'} changed"


@companies_app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """Every company with its article count and how many of its splits are low-confidence."""
    from bot.core.companies import listing
    from bot.digest.resplit import LOW_CONFIDENCE

    database = open_db(load_settings())
    stats = listing(database)
    database.dispose()
    if as_json:
        rows = [
            {"company": s.name, "articles": s.articles, "low_confidence": s.low_confidence}
            for s in stats
        ]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    low = f"low (<{LOW_CONFIDENCE:g})"
    lines = ((s.name, str(s.articles), str(s.low_confidence)) for s in stats)
    out.print(table(("company", "articles", low), lines, numeric=("articles", low)))


@companies_app.command("review")
def review_command(
    limit: Annotated[int, typer.Option(help="How many splits to show.", metavar="N")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """The least certain splits, to check in a minute: confidence, company | summary, title."""
    from bot.core.companies import review

    database = open_db(load_settings())
    splits = review(database, limit)
    database.dispose()
    if as_json:
        rows = [
            {
                "article_id": s.article_id,
                "date": s.issue_date.isoformat(),
                "title": s.title,
                "company": s.publisher,
                "summary": s.summary,
                "confidence": round(s.confidence, 3),
            }
            for s in splits
        ]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    if not splits:
        out.print("no uncertain splits")
        return
    for s in splits:
        start = s.summary if len(s.summary) <= 60 else s.summary[:59] + "…"
        title = s.title if len(s.title) <= 50 else s.title[:49] + "…"
        where = f"({title}; {s.issue_date}, #{s.article_id})"
        out.print(f"{s.confidence:.2f}  {s.publisher} | {start}   {where}", markup=False)
    out.print('fix one with: python -m bot companies fix "WRONG" "RIGHT"', markup=False)


@companies_app.command("fix")
def fix_command(
    wrong: Annotated[
        str, typer.Argument(help="The company as wrongly split, e.g. Acme.", metavar="WRONG")
    ],
    right: Annotated[
        str, typer.Argument(help="The right publisher, e.g. 'Acme Robotics'.", metavar="RIGHT")
    ],
) -> None:
    """Re-split WRONG's articles whose line starts with RIGHT (longer or shorter); remembered."""
    from bot.core.companies import fix

    outcome = _write(lambda database: fix(database, wrong, right))
    out.print(_changed(outcome.changed), markup=False)
    left = outcome.considered - outcome.changed
    if left:
        note = f"unchanged: {left} more by {wrong} (the line does not start with {right!r})"
        out.print(note, markup=False)


@companies_app.command("add")
def add_command(
    name: Annotated[
        str, typer.Argument(help="The company's name, e.g. 'Acme Robotics'.", metavar="NAME")
    ],
    alias: Annotated[
        list[str] | None,
        typer.Option("--alias", help="Another name for it (repeatable).", metavar="NAME"),
    ] = None,
) -> None:
    """Teach a company name (and aliases); re-splits stored articles it now explains."""
    from bot.core.companies import add

    outcome = _write(lambda database: add(database, name, alias or []))
    out.print(_changed(outcome.changed), markup=False)
    if outcome.merged:
        note = f"{outcome.merged} more filed under an alias now count for {name}"
        out.print(note, markup=False)
