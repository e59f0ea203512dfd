"""Exports of saved articles: exactly the person's saves in one workspace, as CSV a spreadsheet
cannot run and Markdown that nothing in a title can break out of (both backends)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from markdown_it import MarkdownIt
from support.saved import HOME, HOSTILE_TITLES, OTHER, Saved, seed_saves

from bot.core import exports
from bot.store.db import Database

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def unguarded(cell: str) -> str:
    """A CSV cell as written before the formula guard."""
    return cell[1:] if cell[:2] in ("'=", "'+", "'-", "'@", "'\t", "'\r") else cell


def parse_csv(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert tuple(reader.fieldnames or ()) == exports.CSV_COLUMNS
    return list(reader)


def as_rows(expected: list[Saved]) -> list[dict[str, str]]:
    return [
        {
            "title": s.title,
            "company": s.company,
            "date": s.date,
            "url": s.url,
            "summary": s.summary,
            "saved_at": s.saved_at.isoformat(timespec="seconds"),
        }
        for s in expected
    ]


def test_an_export_is_exactly_the_persons_saves_in_that_workspace(database: Database) -> None:
    expected = seed_saves(database, NOW)
    mine = exports.saved_articles(database, HOME, "U1")
    assert [a.title for a in mine] == [s.title for s in expected]
    assert exports.count_saved(database, HOME, "U1") == len(expected) == 5
    assert [a.saved_at for a in mine] == sorted((a.saved_at for a in mine), reverse=True)
    assert exports.count_saved(database, HOME, "U2") == 1
    assert exports.count_saved(database, OTHER, "U1") == 2
    assert exports.saved_articles(database, OTHER, "U2") == []
    assert not {a.title for a in exports.saved_articles(database, OTHER, "U1")} & {
        s.title for s in expected
    }


def test_csv_parses_back_to_the_saves_with_formulas_disarmed(database: Database) -> None:
    expected = seed_saves(database, NOW)
    rows = parse_csv(exports.render_csv(exports.saved_articles(database, HOME, "U1")))
    assert [{k: unguarded(v) for k, v in row.items()} for row in rows] == as_rows(expected)
    by_title = {unguarded(r["title"]): r for r in rows}
    # Each cell a spreadsheet would evaluate starts with a quote; the rest is left as written.
    assert by_title[HOSTILE_TITLES[0]]["title"] == "'" + HOSTILE_TITLES[0]
    assert by_title[HOSTILE_TITLES[2]]["title"] == "'" + HOSTILE_TITLES[2]
    assert by_title[HOSTILE_TITLES[1]]["title"] == HOSTILE_TITLES[1]
    assert by_title[HOSTILE_TITLES[0]]["summary"].startswith("'@SUM(A1)")
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("a=1", "a=1"),
        ("", ""),
    ],
)
def test_formula_guard(cell: str, shown: str) -> None:
    assert exports.guard_cell(cell) == shown


def _items(markdown: str) -> list[list[dict[str, str]]]:
    """Each top-level list item's inline pieces: links (href, text) and plain text."""
    tokens = MarkdownIt("commonmark").parse(markdown)
    items: list[list[dict[str, str]]] = []
    depth = 0
    for token in tokens:
        if token.type == "list_item_open":
            depth += 1
            if depth == 1:
                items.append([])
        elif token.type == "list_item_close":
            depth -= 1
        elif token.type == "inline" and depth:
            href: str | None = None
            for child in token.children or []:
                if child.type == "link_open":
                    href, text = str(child.attrs["href"]), ""
                elif child.type == "link_close":
                    items[-1].append({"href": href or "", "text": text})
                    href = None
                elif href is not None:
                    text += child.content
                elif child.type in ("text", "code_inline"):
                    items[-1].append({"text": child.content})
                elif child.type == "html_inline":
                    items[-1].append({"html": child.content})
    return items


def test_markdown_is_one_item_per_save_whatever_the_titles_hold(database: Database) -> None:
    expected = seed_saves(database, NOW)
    markdown = exports.render_markdown(exports.saved_articles(database, HOME, "U1"))
    items = _items(markdown)
    assert len(items) == len(expected)
    for item, saved in zip(items, expected, strict=True):
        links = [piece for piece in item if "href" in piece]
        title = " ".join(saved.title.split())
        if saved.url:
            assert links == [{"href": saved.url, "text": title}]
        else:
            assert links == [] and item[0] == {"text": title}
        assert not any("html" in piece for piece in item)
        shown = "".join(piece.get("text", "") for piece in item)
        assert " ".join(saved.summary.split()) in shown
    # Slack syntax stays text: escaped, it cannot be sent on as a mention.
    assert "<!" not in markdown and "<@" not in markdown
    tokens = MarkdownIt("commonmark").parse(markdown)
    assert [t.tag for t in tokens if t.type == "heading_open"] == ["h1"]


def test_markdown_links_only_web_urls() -> None:
    assert exports.markdown_url("javascript:alert(1)") is None
    assert exports.markdown_url(None) is None
    assert exports.markdown_url("https://x.example/a b>c<d") == "https://x.example/a%20b%3Ec%3Cd"


def test_formats() -> None:
    assert exports.parse_formats("export") == ("csv", "md")
    assert exports.parse_formats("EXPORT csv") == ("csv",)
    assert exports.parse_formats("export md") == ("md",)
    assert exports.parse_formats("export markdown") == ("md",)
    for bad in ("export pdf", "export csv md", "exports", ""):
        with pytest.raises(ValueError, match="saved export"):
            exports.parse_formats(bad)
