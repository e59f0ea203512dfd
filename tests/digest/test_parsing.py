"""Reading every digest layout: the seeds, Markdown, and hostile input."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.digest.companies import PublisherKnowledge
from bot.digest.parsing import DigestParseError, add_text_knowledge, parse_issue

REPO = Path(__file__).resolve().parents[2]
SEEDS = sorted((REPO / "seeds").glob("*.txt"))
EXPECTED = json.loads((Path(__file__).parents[1] / "fixtures" / "seed_articles.json").read_text())


def seed(name: str) -> str:
    return (REPO / "seeds" / name).read_text()


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
@pytest.mark.parametrize("knowledge", ["none", "all-seeds"])
def test_every_seed_article_title_and_companies(path: Path, knowledge: str) -> None:
    known = PublisherKnowledge()
    if knowledge == "all-seeds":
        for other in SEEDS:
            add_text_knowledge(known, other.read_text())
    issue = parse_issue(path.read_text(), known)
    assert issue.date == dt.date.fromisoformat(path.stem)
    got = [[a.title, list(a.companies)] for a in issue.articles]
    assert got == EXPECTED[path.name]


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
def test_seed_sections_and_summaries(path: Path) -> None:
    issue = parse_issue(path.read_text())
    assert len(issue.signal) > 100 and "#" not in issue.signal
    assert issue.patterns and issue.patterns.split()[0][0].isupper()
    assert "Categories" not in issue.patterns
    for article in issue.articles:
        assert article.summary, article.title
        first = article.summary.split()[0]
        assert first != "Source"
        assert not article.title.startswith("[") and not article.title.endswith("]")
        assert not article.summary.startswith(article.companies[0] + " " + article.companies[0])
        assert " · " not in article.title + article.summary


def test_sources_lists_and_categories() -> None:
    with_list = parse_issue(seed("2026-04-01.txt"))
    assert len(with_list.sources) == 31 and with_list.sources[0] == "Airbnb Engineering"
    assert parse_issue(seed("2026-03-31.txt")).sources == ()
    assert parse_issue(seed("2026-05-13.txt")).categories == ("News", "Tech")


def test_summary_on_the_next_line() -> None:
    issue = parse_issue(seed("2026-04-01.txt"))
    fleet = next(a for a in issue.articles if "/fleet" in a.title)
    assert fleet.companies == ("GitHub",) and fleet.summary.startswith("Sequential code generation")
    issue = parse_issue(seed("2026-04-08.txt"))
    bpf = next(a for a in issue.articles if a.title.startswith("From bytecode"))
    assert bpf.companies == ("Cloudflare",) and bpf.summary.startswith("Reverse-engineering")


MARKDOWN = """# Engineering @ Scale — 2026-06-02

## Sources
- Grafana Labs Blog
- The Netflix Tech Blog

## Signal of the Day

Small *signals* matter.

## Deep Dives

- [Scaling Loki Ingesters](https://grafana.com/blog/loki) · Grafana Labs · [Source](https://grafana.com/src) Loki now shards ingesters by tenant.
- **Routing at Netflix** · Netflix · Source Netflix split routing from payloads.
[Bracketed Title] · Acme Corp / Globex · [Source](https://acme.example/post) Joint work on queues.
Plain Title · Initech Teams shipped faster with smaller PRs.

## Patterns Across Companies

Everyone shards.

Categories: News, Tech
"""


def test_markdown_variant_with_links() -> None:
    issue = parse_issue(MARKDOWN)
    assert issue.date == dt.date(2026, 6, 2)
    assert issue.signal == "Small *signals* matter."
    assert issue.sources == ("Grafana Labs Blog", "The Netflix Tech Blog")
    first, second, third, fourth = issue.articles
    assert (first.title, first.companies, first.url) == (
        "Scaling Loki Ingesters",
        ("Grafana Labs",),
        "https://grafana.com/blog/loki",
    )
    assert first.summary == "Loki now shards ingesters by tenant."
    assert (second.title, second.companies, second.url) == (
        "Routing at Netflix",
        ("Netflix",),
        None,
    )
    assert (third.title, third.companies, third.url) == (
        "Bracketed Title",
        ("Acme Corp", "Globex"),
        "https://acme.example/post",
    )
    assert (fourth.title, fourth.companies) == ("Plain Title", ("Initech",))
    assert fourth.summary.startswith("Teams shipped")
    assert issue.patterns == "Everyone shards."
    assert issue.categories == ("News", "Tech")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no 'Engineering @ Scale"),
        ("hello world\nthis is not a digest", "no 'Engineering @ Scale"),
        (
            "Engineering @ Scale — 2026-02-30#\nSignal of the Day#\nx\nDeep Dives#\nA · B c",
            "line 1",
        ),
        ("Engineering @ Scale — 2026-05-01#\nSignal of the Day#\nx\n", "no deep dives"),
        ("Engineering @ Scale — 2026-05-01#\nDeep Dives#\nA · B Summary.", "Signal of the Day"),
        ("Engineering @ Scale — 2026-05-01\x00", "binary"),
    ],
)
def test_bad_input_gets_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(DigestParseError) as info:
        parse_issue(text)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_no_text_crashes_the_parser(text: str) -> None:
    with contextlib.suppress(DigestParseError):
        parse_issue(text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=200), max_size=5), st.integers(min_value=0, max_value=70))
def test_noise_injected_into_a_real_issue_never_crashes(noise: list[str], at: int) -> None:
    lines = seed("2026-05-13.txt").splitlines()
    lines[at:at] = noise
    with contextlib.suppress(DigestParseError):
        parse_issue("\n".join(lines))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=60), max_size=20))
def test_extra_blank_lines_lose_nothing(positions: list[int]) -> None:
    lines = seed("2026-04-01.txt").splitlines()
    for pos in sorted(positions, reverse=True):
        lines.insert(min(pos, len(lines)), "")
    issue = parse_issue("\n".join(lines))
    assert [[a.title, list(a.companies)] for a in issue.articles] == EXPECTED["2026-04-01.txt"]
