"""Company attribution: each kind of evidence on its own, explaining away, confidence, the list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.digest.companies import PublisherKnowledge, compact
from bot.digest.evidence import host_keys, host_names, mentions
from bot.digest.organisations import CURATED_FILE, curated_keys, read_organisations
from bot.digest.parsing import add_text_knowledge, parse_issue
from bot.digest.publishers import WEIGHTS_FILE, attribute, make_line

# Read alone, 'Tovren Harbor Payments' looks like a three-word company; the issue, the archive
# or the list can say that the publisher is 'Tovren Harbor' (in no list, no other file).
LINE = "Tovren Harbor Payments Fraud checks moved to the edge."
RIGHT = ("Tovren Harbor", "Payments Fraud checks moved to the edge.")


def digest(
    line: str = LINE,
    *,
    title: str = "Fraud at scale",
    signal: str = "Small signals matter.",
    patterns: str = "Everyone shards.",
    sources: tuple[str, ...] = (),
    markdown_url: str | None = None,
    day: str = "2031-05-05",
) -> str:
    """A small issue whose first deep dive is `title · line`."""
    dive = f"- [{title}]({markdown_url}) · {line}" if markdown_url else f"{title} · {line}"
    listed = "".join(f"\n- {s}" for s in sources)
    return (
        f"Sources{listed}\nEngineering @ Scale — {day}#\nSignal of the Day#\n{signal}\n"
        f"Deep Dives#\n{dive}\nQueues · Zebulon Freight Moving to Rust paid off.\n"
        f"Patterns Across Companies#\n{patterns}\n"
    )


def first(text: str, knowledge: PublisherKnowledge | None = None) -> tuple[str, str]:
    known = knowledge if knowledge is not None else PublisherKnowledge(curated=False)
    article = parse_issue(text, known).articles[0]
    return article.publisher, article.summary


def test_without_evidence_the_words_alone_decide() -> None:
    assert first(digest())[0] == "Tovren Harbor Payments"


@pytest.mark.parametrize(
    "evidence",
    [
        {"title": "Tovren Harbor Open Sources Its Rules Engine"},
        {"signal": "Tovren Harbor and Zebulon Freight both moved rules to the edge."},
        {"patterns": "Like Tovren Harbor, teams pushed checks closer to payments."},
        {"sources": ("Tovren Harbor Engineering",)},
        {"sources": ("Tovren Harbor Tech Blog",)},
        {"sources": ("TovrenHarbor.com",)},
        {"markdown_url": "https://tovrenharbor.com/blog/fraud"},
        {"markdown_url": "https://engineering.tovrenharbor.io/fraud"},
    ],
    ids=[
        "title",
        "signal",
        "patterns",
        "feed-engineering",
        "feed-tech-blog",
        "feed-site",
        "host",
        "host-sub",
    ],
)
def test_each_kind_of_issue_evidence_alone_names_the_publisher(evidence: dict[str, object]) -> None:
    assert first(digest(**evidence)) == RIGHT  # type: ignore[arg-type]


def test_another_deep_dive_of_the_issue_is_evidence() -> None:
    other = "Queues · Tovren Harbor Engineers moved queues to Rust."
    text = digest().replace("Queues · Zebulon Freight Moving to Rust paid off.", other)
    assert first(text) == RIGHT


def test_archive_stated_publisher_alone() -> None:
    known = PublisherKnowledge(curated=False)
    add_text_knowledge(known, digest("Tovren Harbor · Source It ships.", day="2031-05-01"))
    assert first(digest(), known) == RIGHT


def test_archive_recurrence_a_publisher_recurs_with_varied_continuations() -> None:
    known = PublisherKnowledge(curated=False)
    openings = ["Checkout latency fell.", "Ledger writes sped up.", "Search moved to Rust."]
    for i, opening in enumerate(openings):
        add_text_knowledge(known, digest(f"Tovren Harbor {opening}", day=f"2031-04-0{i + 1}"))
    text = digest()
    add_text_knowledge(known, text)
    assert first(text, known) == RIGHT


def test_archive_recurrence_a_fixed_continuation_belongs_to_the_name() -> None:
    # 'Orla' is always followed by 'Finch': the cut after 'Orla' is never right.
    known = PublisherKnowledge(curated=False)
    for i, rest in enumerate(
        ["Storage costs fell.", "Search moved to Rust.", "Ledger writes sped up."]
    ):
        add_text_knowledge(known, digest(f"Orla Finch {rest}", day=f"2031-04-0{i + 1}"))
    assert known.recurrence("Orla")[0] == 3 and known.recurrence("Orla")[1] == {"finch"}
    assert len(known.recurrence("Orla Finch")[1]) == 3
    line = "Orla Finch Storage costs fell by half."
    assert first(digest(line), known)[0] == "Orla Finch"


def test_curated_list_alone_through_the_operator_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = tmp_path / "ours.txt"
    extra.write_text("# our own\nTovren | Tovren Inc\n")
    monkeypatch.setenv("DIGEST_KNOWN_PUBLISHERS_FILE", str(extra))
    curated_keys.cache_clear()
    line = "Tovren Mesa Storage costs fell by half."
    try:
        assert first(digest(line), PublisherKnowledge(curated=True))[0] == "Tovren"
        assert first(digest(line), PublisherKnowledge(curated=False))[0] == "Tovren Mesa"
    finally:
        curated_keys.cache_clear()


def test_packaged_list_names_known_organisations() -> None:
    line = "Red Hat Kernel security fixes now ship weekly."
    assert first(digest(line), PublisherKnowledge())[0] == "Red Hat"


def test_longer_name_explains_away_its_prefix_in_the_title() -> None:
    # 'Two' and 'Two Sigma' both occur in the title; only the longer name is evidence.
    text = digest(
        "Quorra Sigma Backtests Cover ten years of ticks.",
        title="Quorra Sigma Open Sources Its Time-Series Join Library",
    )
    assert first(text)[0] == "Quorra Sigma"
    assert mentions("Quorra Sigma Open Sources", "Quorra", "sigma") == 0
    assert mentions("Quorra Sigma Open Sources", "Quorra Sigma", "backtests") == 1


def test_issue_examples_split_right_without_the_list() -> None:
    cases = {
        "Hugging Face Loading pickled weights runs arbitrary code.": "Hugging Face",
        "Two Sigma Backtests that run nightly now finish in minutes.": "Two Sigma",
        "Capital One Fraud models retrain every hour.": "Capital One",
        "New Relic Telemetry pipelines drop samples under load.": "New Relic",
    }
    for line, publisher in cases.items():
        got, summary = first(digest(line))
        assert got == publisher
        assert line == f"{got} {summary}"


def test_confidence_is_a_probability_that_evidence_raises() -> None:
    line = "Tovren Harbor Kubernetes upgrades broke DNS."
    plain = parse_issue(digest(line)).articles[0]
    sure = parse_issue(digest(line, title="Tovren Harbor At Scale")).articles[0]
    assert plain.publisher == sure.publisher == "Tovren Harbor"
    assert 0.5 < plain.confidence < sure.confidence < 1.0
    explicit = parse_issue(digest("Tovren · Source It ships.")).articles[0]
    assert explicit.confidence == 1.0


def test_host_keys() -> None:
    hosts = host_keys(["https://huggingface.co/blog/x", "https://www.mistral.ai/news"])
    assert host_names(compact("Hugging Face"), hosts)
    assert host_names(compact("Mistral AI"), hosts)
    assert not host_names(compact("Hugging"), hosts)
    assert host_keys(["not a url", "https://[::1"]) <= {""} | set()


def test_attribute_keeps_every_word() -> None:
    split = attribute(make_line(LINE, "t", PublisherKnowledge()))
    assert f"{split.company} {split.summary}" == LINE


def test_curated_list_format_and_size() -> None:
    organisations = read_organisations(CURATED_FILE)
    assert len(organisations) >= 1500
    names = [o.name for o in organisations]
    assert names == sorted(names, key=lambda n: (n.casefold(), n)), "keep the list sorted"
    keys = [compact(n) for n in names]
    assert len(keys) == len(set(keys)), "no organisation twice"
    for line in CURATED_FILE.read_text().splitlines():
        assert line == line.strip() and ("|" not in line or " | " in line), line
    assert {"redhat", "twosigma", "huggingface", "capitalone", "newrelic"} <= curated_keys()


def test_weights_file_names_every_feature() -> None:
    from bot.digest.features import FEATURES

    data = json.loads(WEIGHTS_FILE.read_text())
    assert data["features"] == list(FEATURES)
    assert data["fitted_by"] == "scripts/fit_publisher_weights.py"


def test_heldout_publishers_are_not_in_the_curated_list() -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from attribution_devset import Digests

    names = Digests("heldout", 2).names
    train = set(Digests("train", 1).names)
    assert not {compact(n) for n in names} & curated_keys()
    assert not set(names) & train


def test_organisation_lines_and_a_missing_operator_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.digest.organisations import parse_organisations

    parsed = parse_organisations(["# comment", "", "  Acme Rockets | Acme  ", "Globex|"])
    assert [(o.name, o.aliases) for o in parsed] == [
        ("Acme Rockets", ("Acme",)),
        ("Globex", ()),
    ]
    monkeypatch.setenv("DIGEST_KNOWN_PUBLISHERS_FILE", str(tmp_path / "missing.txt"))
    curated_keys.cache_clear()
    try:
        assert "redhat" in curated_keys()
        assert "DIGEST_KNOWN_PUBLISHERS_FILE" in caplog.text
    finally:
        curated_keys.cache_clear()
