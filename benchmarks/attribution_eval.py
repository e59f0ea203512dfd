"""Parsing a development set the way the bot does, scoring it, and recording candidate features."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import bot.digest.parsing as parsing  # noqa: E402
from bot.digest.companies import PublisherKnowledge  # noqa: E402
from bot.digest.features import Line  # noqa: E402
from bot.digest.models import Issue  # noqa: E402
from bot.digest.parsing import add_text_knowledge, parse_issue  # noqa: E402
from bot.digest.publishers import Split, candidate_features  # noqa: E402

Item = tuple[str, str, list[dict[str, object]]]  # file name, text, expected articles


def load(folder: Path) -> list[Item]:
    """Every issue of a development-set folder with its truth."""
    items: list[Item] = []
    for row in (folder / "manifest.jsonl").read_text().splitlines():
        entry = json.loads(row)
        items.append((entry["file"], (folder / entry["file"]).read_text(), entry["articles"]))
    return items


def parse_items(items: list[Item], curated: bool, together: bool) -> list[Issue]:
    """Parse like `ingest FOLDER` (together: knowledge from all issues) or `parse FILE` (alone)."""
    shared = PublisherKnowledge(curated=curated)
    if together:
        for _, text, _ in items:
            add_text_knowledge(shared, text)
    issues = []
    for _, text, _ in items:
        knowledge = shared
        if not together:
            knowledge = PublisherKnowledge(curated=curated)
            add_text_knowledge(knowledge, text)
        issues.append(parse_issue(text, knowledge))
    return issues


@dataclass
class Score:
    """Articles right (companies exactly, summary starting exactly where the publisher ends)."""

    articles: int = 0
    right: int = 0
    split_articles: int = 0
    split_right: int = 0
    confidences: list[tuple[float, bool]] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        """Share of articles right."""
        return self.right / self.articles if self.articles else 0.0

    @property
    def split_accuracy(self) -> float:
        """Share right among articles whose publisher had to be split from the summary."""
        return self.split_right / self.split_articles if self.split_articles else 0.0


def score(items: list[Item], issues: list[Issue]) -> Score:
    """Compare parsed issues with their truth."""
    result = Score()
    for (name, _, expected), issue in zip(items, issues, strict=True):
        got = list(issue.articles)
        for i, truth in enumerate(expected):
            article = got[i] if i < len(got) else None
            ok = (
                article is not None
                and list(article.companies) == truth["companies"]
                and article.summary == truth["summary"]
                and article.title == truth["title"]
            )
            result.articles += 1
            result.right += ok
            if truth["split"]:
                result.split_articles += 1
                result.split_right += ok
                conf = article.confidence if article is not None else 0.0
                result.confidences.append((conf, ok))
            if not ok:
                got_name = article.publisher if article else "-"
                result.misses.append(f"{name}: {truth['companies']} -> {got_name!r}")
    return result


@contextmanager
def recording() -> Iterator[list[Line]]:
    """Every line the parser cuts while this is active, in order."""
    lines: list[Line] = []
    original = parsing.attribute

    def record(line: Line) -> Split:
        lines.append(line)
        return original(line)

    parsing.attribute = record
    try:
        yield lines
    finally:
        parsing.attribute = original


Sample = tuple[list[list[float]], int]  # candidate rows, index of the right one


def samples(items: list[Item], curated: bool, together: bool) -> list[Sample]:
    """Candidate features of every split article, labelled with the right cut."""
    with recording() as lines:
        parse_items(items, curated, together)
    wanted = [
        (str(a["title"]), len(" / ".join(a["companies"]).split()))  # type: ignore[arg-type]
        for _, _, expected in items
        for a in expected
        if a["split"]
    ]
    found: list[Sample] = []
    k = 0
    for line in lines:
        while k < len(wanted) and wanted[k][0] != line.title:
            k += 1
        if k == len(wanted):
            break
        cuts, rows = candidate_features(line)
        if wanted[k][1] in cuts and len(cuts) > 1:
            found.append((rows, cuts.index(wanted[k][1])))
        k += 1
    return found
