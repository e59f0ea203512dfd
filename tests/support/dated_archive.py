"""An archive of the seed issues re-dated to chosen days (trends need issues spread over time)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bot.core import lookups
from bot.core.ingestion import ingest_texts
from bot.dates import DateRange
from bot.store.db import Database

SEEDS = sorted((Path(__file__).resolve().parents[2] / "seeds").glob("*.txt"))


def dated_archive(database: Database, days: list[dt.date]) -> Database:
    """The seed issues again and again, each re-dated to one of `days`."""
    texts = []
    for n, day in enumerate(days):
        seed = SEEDS[n % len(SEEDS)]
        texts.append((day.isoformat(), seed.read_text().replace(seed.stem, day.isoformat()), None))
    report = ingest_texts(database, texts)
    assert report.new == len(days) and not report.failed
    return database


def listed(database: Database, kind: str, name: str, dates: DateRange) -> int:
    """How many articles /digest company or /digest topic lists for these dates (every page)."""
    count, offset = 0, 0
    while True:
        if kind == "company":
            page = lookups.company(database, name, offset, dates).page
        else:
            page = lookups.topic(database, name, offset, dates).page
        count += len(page.items)
        if page.next_offset is None:
            return count
        offset = page.next_offset
