"""`python -m bot trend company|topic`: the JSON's exact shape, the table with bars, bad input."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from support.dated_archive import dated_archive, listed
from support.helpers import run_cli

from bot.dates import DateRange
from bot.store.db import Database

D = dt.date
DAYS = [D(2025, 12, 22), D(2025, 12, 30), D(2026, 1, 2), D(2026, 1, 13), D(2026, 2, 20)]


def trend(url: str, tmp: Path, *args: str):  # type: ignore[no-untyped-def]
    return run_cli("trend", *args, cwd=tmp, env={"DATABASE_URL": url})


def test_json_has_every_period_and_the_lookups_counts(database_url: str, tmp_path: Path) -> None:
    database = dated_archive(Database(database_url), DAYS)
    try:
        args = ["company", "aws", "--vs", "Cloudflare", "--vs", "GitHub"]
        shown = trend(database_url, tmp_path, *args, "--since", "2025-12-22", "--until",
                      "2026-01-25", "--json")  # fmt: skip
        assert shown.returncode == 0, shown.stderr
        found = json.loads(shown.stdout)
        assert list(found) == ["by", "series"] and found["by"] == "week"
        assert [s["name"] for s in found["series"]] == ["AWS", "Cloudflare", "GitHub"]
        weeks = ["2025-W52", "2026-W01", "2026-W02", "2026-W03", "2026-W04"]
        for series in found["series"]:
            assert list(series) == ["name", "points"]
            assert [list(p) for p in series["points"]] == [["period", "count"]] * len(weeks)
            assert [p["period"] for p in series["points"]] == weeks
            mondays = [D.fromisocalendar(int(w[:4]), int(w[6:]), 1) for w in weeks]
            expected = [
                listed(database, "company", series["name"], DateRange(m, m + dt.timedelta(6)))
                for m in mondays
            ]
            assert [p["count"] for p in series["points"]] == expected
        aws = [p["count"] for p in found["series"][0]["points"]]
        assert aws[4] == 0 and aws[1] > 0  # 2026-W04 has no issue; 2026-W01 has two

        months = json.loads(
            trend(database_url, tmp_path, "topic", "kafka", "--vs", "rate limiting", "--since",
                  "2025-12", "--until", "2026-03", "--by", "month", "--json").stdout
        )  # fmt: skip
        assert months["by"] == "month"
        assert [p["period"] for p in months["series"][0]["points"]] == [
            "2025-12", "2026-01", "2026-02", "2026-03",
        ]  # fmt: skip
        for series in months["series"]:
            counts = [p["count"] for p in series["points"]]
            assert counts[-1] == 0
            assert sum(counts) == listed(
                database, "topic", series["name"], DateRange(D(2025, 12, 1), D(2026, 3, 31))
            )
    finally:
        database.dispose()


def test_table_with_bars(database_url: str, tmp_path: Path) -> None:
    database = dated_archive(Database(database_url), DAYS)
    database.dispose()
    shown = trend(database_url, tmp_path, "topic", "AI", "--vs", "kafka", "--since", "2025-12-22",
                  "--until", "2026-01-25")  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "Articles about AI vs kafka per week · from 2025-12-22 to 2026-01-25" in shown.stdout
    rows = {m[0]: m[1] for m in re.findall(r"(\d{4}-W\d\d)\s*│(.*)│", shown.stdout)}
    assert list(rows) == ["2025-W52", "2026-W01", "2026-W02", "2026-W03", "2026-W04"]
    counts = {week: [int(n) for n in re.findall(r"(\d+) ", row)] for week, row in rows.items()}
    top = max(n for row in counts.values() for n in row)
    assert top > 0 and counts["2026-W04"] == [0, 0]  # no issue that week: zeros, no bars
    assert "█" not in rows["2026-W04"]
    for week, row in rows.items():  # the largest count fills the bar, the others are shorter
        assert ("████████████" in row) == (top in counts[week])
    assert re.search(r"total\s*│\s*\d+", shown.stdout)


def test_bad_input_is_one_line_and_exit_2(database_url: str, tmp_path: Path) -> None:
    dated_archive(Database(database_url), DAYS).dispose()
    cases = {
        ("company", "Cloudflar"): "Did you mean Cloudflare",
        ("company", "AWS", "--since", "2026-02-01", "--until", "2026-01-01"): "before it starts",
        ("company", "AWS", "--since", "2026-13-01"): "is not a date",
        ("company", "AWS", "--by", "day"): "--by takes week or month",
        (
            "topic",
            "a",
            "--vs",
            "b",
            "--vs",
            "c",
            "--vs",
            "d",
            "--vs",
            "e",
            "--vs",
            "f",
        ): "at most 5",
        ("topic", "&&"): "no words to search for",
    }
    for args, said in cases.items():
        refused = trend(database_url, tmp_path, *args)
        assert refused.returncode == 2, (args, refused.stdout, refused.stderr)
        assert refused.stdout == "" and len(refused.stderr.splitlines()) == 1
        assert refused.stderr.startswith("error: ") and said in refused.stderr, refused.stderr
