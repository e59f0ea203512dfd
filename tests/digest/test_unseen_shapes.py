"""Publishers never seen before, of the shapes outside writers use: people, marks, products."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bot.cli import app
from bot.digest.companies import PublisherKnowledge
from bot.digest.lexicon import NAME_PARTICLES, given_name, surname_like
from bot.digest.parsing import parse_issue
from bot.digest.resplit import LOW_CONFIDENCE

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

from attribution_devset import write  # noqa: E402
from attribution_eval import load, parse_items, score  # noqa: E402

# Given names of several languages (each in the names-dataset table the parser reads).
GIVEN = ["Mara", "Pieter", "Ngozi", "José", "Søren", "Zoë", "Łukasz", "Aurélie", "Kwame", "Hiroko"]
# What summaries open with right after the name: proper nouns, possessives, acronyms.
OPENINGS = [
    "Rust's borrow checker caught the race before release.",
    "Kubernetes operators restart the pods when the leases expire.",
    "PostgreSQL logical replication moved the tables without downtime.",
    "LLM inference costs fell once the batches grew.",
    "WebAssembly modules now run the plugins in a sandbox.",
    "Kafka consumers lag when partitions grow unevenly.",
]
# Invented surnames ('Okanewo', 'Tavesen'): in no list, so only the name's shape tells.
SURNAMES = st.from_regex(
    r"\A[A-Z][aeiou][bdgklmnrstvz][aeiou][bdgklmnrstvz][aeiou]?(wo|ski|sen|ez)?\Z"
)


def issue(title: str, line: str) -> str:
    """A one-article digest whose deep dive is `title · line`, with nothing else naming it."""
    return (
        "Engineering @ Scale — 2034-02-02#\nSignal of the Day#\nSmall teams ship.\n"
        f"Deep Dives#\n{title} · {line}\nPatterns Across Companies#\nEveryone shards.\n"
    )


def publisher_of(title: str, line: str) -> tuple[str, float]:
    article = parse_issue(issue(title, line), PublisherKnowledge(curated=False)).articles[0]
    return article.publisher, article.confidence


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=st.sampled_from(GIVEN),
    surname=SURNAMES.filter(surname_like),
    particle=st.sampled_from(["", *sorted(NAME_PARTICLES - {"la", "der", "den"})]),
    opening=st.sampled_from(OPENINGS),
)
def test_a_writer_is_not_cut_after_the_given_name_nor_one_word_late(
    first: str, surname: str, particle: str, opening: str
) -> None:
    name = f"{first} {particle} {surname}" if particle else f"{first} {surname}"
    assert given_name(first) > 0.0
    got, _ = publisher_of("Notes from the field", f"{name} {opening}")
    assert got == name


@settings(max_examples=60, deadline=None)
@given(
    brand=st.from_regex(r"\A[A-Z][a-z]{3,8}\Z"),
    mark=st.sampled_from(["!", "°", "*"]),
    opening=st.sampled_from(OPENINGS),
)
def test_a_mark_that_ends_a_brand_ends_the_publisher(brand: str, mark: str, opening: str) -> None:
    got, confidence = publisher_of("Shipping it", f"{brand}{mark} {opening}")
    assert (got, confidence) == (f"{brand}{mark}", 1.0)


def test_middle_initials_and_prefixed_surnames_stay_in_a_writers_name() -> None:
    for name in ["Inés J. Quarlez", "Radek al-Benhassi", "Gökhan bin Talovic", "Pieter de Vries"]:
        assert publisher_of("A talk", f"{name} Kafka consumers lag behind.")[0] == name


@pytest.fixture(scope="module")
def outside_digests(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Digests of the development set's outside mix (dev part, a seed the fit never used)."""
    folder = tmp_path_factory.mktemp("outside")
    write(folder, "train", 40, seed=11, mix="outside")
    return folder


def test_outside_publishers_parse_right_and_guesses_carry_low_confidence(
    outside_digests: Path,
) -> None:
    items = load(outside_digests)
    result = score(items, parse_items(items, curated=False, together=False))
    assert result.articles > 500
    assert result.accuracy >= 0.97, result.misses
    wrong = [conf for conf, ok in result.confidences if not ok]
    right = [conf for conf, ok in result.confidences if ok]
    # A wrong split is a guess: most of them are below the review threshold, few right ones are.
    assert sum(c < LOW_CONFIDENCE for c in wrong) >= 0.6 * len(wrong)
    assert sum(c < LOW_CONFIDENCE for c in right) <= 0.2 * len(right)


def test_companies_review_lists_the_guesses_first(
    outside_digests: Path, database_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "issues"
    folder.mkdir()
    truth: dict[tuple[str, str], str] = {}
    for name, text, expected in load(outside_digests)[:12]:
        (folder / name).write_text(text)
        day = name.split(".")[0]
        for article in expected:
            truth[(day, str(article["title"]))] = " / ".join(article["companies"])  # type: ignore[arg-type]
    runner = CliRunner()
    env = {"DATABASE_URL": database_url}
    assert runner.invoke(app, ["ingest", str(folder)], env=env).exit_code == 0
    result = runner.invoke(app, ["companies", "review", "--json", "--limit", "1000"], env=env)
    listed = json.loads(result.stdout)
    right = [truth[(r["date"], r["title"])] == r["company"] for r in listed]
    wrong_at = [i for i, ok in enumerate(right) if not ok]
    assert wrong_at, "the set has guesses to review"
    # The operator reads from the top: the wrong splits come before almost all right ones.
    assert max(wrong_at) < len(listed) // 10
