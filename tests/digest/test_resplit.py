"""Re-cutting 'Publisher Summary…' where a correction or a taught name says it belongs."""

from __future__ import annotations

from bot.digest.companies import PublisherKnowledge, name_words, organisation_forms
from bot.digest.models import Article
from bot.digest.parsing import parse_issue
from bot.digest.resplit import (
    apply_operator_knowledge,
    extend_split,
    replace_company,
    resplit,
    revise,
)


def forms(*names: str) -> dict[str, list[tuple[str, ...]]]:
    index: dict[str, list[tuple[str, ...]]] = {}
    for name in names:
        words = name_words(name)
        index.setdefault(words[0], []).append(words)
    return index


def test_resplit_takes_words_from_the_summary_or_gives_them_back() -> None:
    assert resplit("Acme", "Robotics builds arms.", "Acme Robotics") == (
        "Acme Robotics",
        "builds arms.",
    )
    assert resplit("Two Sigma Backtests", "that held up.", "Two Sigma") == (
        "Two Sigma",
        "Backtests that held up.",
    )


def test_resplit_keeps_the_lines_spelling_and_handles_joint_publishers() -> None:
    assert resplit("Acme", "Robotics’ arms", "ACME robotics’") == ("Acme Robotics’", "arms")
    assert resplit("Red / Acme", "Robotics ships.", "red / acme robotics") == (
        "Red / Acme Robotics",
        "ships.",
    )


def test_resplit_refuses_what_the_line_does_not_allow() -> None:
    assert resplit("Acme", "builds robots.", "Acme Robotics") is None
    assert resplit("Acme", "Robotics", "Acme Robotics Labs") is None  # longer than the line
    assert resplit("Acme", "Robotics", "acme") is None  # the same cut: nothing moves
    assert resplit("Acme", "Robotics", "") is None
    assert resplit("Red / Acme", "Robotics ships.", "Red Acme Robotics") is None


def test_replace_company_rewrites_only_the_company_named() -> None:
    assert replace_company("Red / Acme", "acme", "Acme Robotics") == "Red / Acme Robotics"
    assert replace_company("Acme / Red", "acme", "Acme Robotics") == "Acme Robotics / Red"
    assert replace_company("Red", "acme", "Acme Robotics") is None


def test_extend_split_prefers_the_longest_name_and_never_shortens() -> None:
    index = forms("Acme Robotics", "Acme Robotics Labs", "Two Sigma")
    assert extend_split("Acme", "Robotics Labs ships arms.", index) == (
        "Acme Robotics Labs",
        "ships arms.",
    )
    assert extend_split("Acme", "Robotics ships arms.", index) == ("Acme Robotics", "ships arms.")
    assert extend_split("Plimbo / Acme", "Robotics ships.", index) == (
        "Plimbo / Acme Robotics",
        "ships.",
    )
    assert extend_split("Two Sigma Backtests", "that held.", index) is None
    assert extend_split("Acme", "builds arms.", index) is None
    assert extend_split("Globex", "Robotics ships.", index) is None


def test_extend_split_cuts_short_only_when_allowed() -> None:
    index = forms("Two Sigma", "Acme Robotics")
    assert extend_split("Two Sigma Backtests", "that held.", index) is None
    assert extend_split("Two Sigma Backtests", "that held.", index, lambda _p: True) == (
        "Two Sigma",
        "Backtests that held.",
    )
    assert extend_split("Two Sigma Backtests", "that held.", index, lambda _p: False) is None
    # A longer name still wins over a shorter one when both would fit.
    assert extend_split("Acme", "Robotics ships.", index, lambda _p: True) == (
        "Acme Robotics",
        "ships.",
    )


def test_revise_cuts_short_an_uncertain_split_of_an_unknown_name() -> None:
    knowledge = PublisherKnowledge()
    knowledge.teach("Two Sigma")
    assert revise(knowledge, "Two Sigma Backtests", "that held.", confidence=1.0) is None
    assert revise(knowledge, "Two Sigma Backtests", "that held.", confidence=0.4) == (
        "Two Sigma",
        "Backtests that held.",
    )
    knowledge.add("Two Sigma Backtests")  # stated somewhere: a real name, left alone
    assert revise(knowledge, "Two Sigma Backtests", "that held.", confidence=0.4) is None


def test_extend_split_ignores_a_feed_name_of_the_same_company() -> None:
    # 'Acme Engineering' is Acme's blog, not another company: the summary keeps 'Engineering'.
    assert (
        extend_split("Acme", "Engineering teams sharded queues.", forms("Acme Engineering")) is None
    )


def test_revise_applies_taught_names_then_corrections_with_chains_and_cycles() -> None:
    knowledge = PublisherKnowledge()
    knowledge.teach("Acme Robotics", ["AcmeBot"])
    assert revise(knowledge, "Acme", "Robotics ships.") == ("Acme Robotics", "ships.")
    knowledge.add_correction("Acme Robotics", "Acme")  # the operator changed their mind
    assert revise(knowledge, "Acme", "Robotics ships.") is None
    knowledge.add_correction("Globex", "Globex Corp")
    knowledge.add_correction("Globex Corp", "Globex Corp Labs")
    assert revise(knowledge, "Globex", "Corp Labs ships.") == ("Globex Corp Labs", "ships.")
    knowledge.add_correction("Cyc", "Cyc Lic")
    knowledge.add_correction("Cyc Lic", "Cyc")
    assert revise(knowledge, "Cyc", "Lic ships.") in {
        ("Cyc", "Lic ships."),
        None,
        ("Cyc Lic", "ships."),
    }


def test_apply_operator_knowledge_marks_the_split_certain() -> None:
    knowledge = PublisherKnowledge()
    article = Article("T", ("Two", "Sigma"), "Backtests held.", confidence=0.3)
    assert apply_operator_knowledge(article, knowledge) is article  # nothing taught
    knowledge.add_correction("Sigma", "Sigma Backtests")
    fixed = apply_operator_knowledge(article, knowledge)
    assert (fixed.companies, fixed.summary, fixed.confidence) == (
        ("Two", "Sigma Backtests"),
        "held.",
        1.0,
    )


def test_parsing_applies_corrections_after_the_split() -> None:
    text = (
        "Engineering @ Scale — 2026-06-01#\nSignal of the Day#\nS.\nDeep Dives#\n"
        "Arms · Zorblax · Source\nRobotics builds arms.\n"
        "Edges · Zorblax · Source\nOpened its code.\n"
    )
    knowledge = PublisherKnowledge()
    knowledge.add_correction("zorblax", "Zorblax Robotics")
    arms, edges = parse_issue(text, knowledge).articles
    assert (arms.companies, arms.summary) == (("Zorblax Robotics",), "builds arms.")
    assert (edges.companies, edges.summary) == (("Zorblax",), "Opened its code.")
    assert knowledge.knows("Zorblax Robotics")


def test_organisation_forms_of_stated_names() -> None:
    assert organisation_forms("Acme Robotics Engineering Blog", True) == ["acme robotics"]
    assert organisation_forms("The Globex Tech Blog", True) == ["globex"]
    assert organisation_forms("Acme  Robotics", False) == ["Acme Robotics"]


def test_a_stated_name_keeps_the_parsers_confidence_a_taught_one_settles_it() -> None:
    article = Article("T", ("Plimbo", "Zorblax"), "Robotics share a cache.", confidence=0.6)
    stated = PublisherKnowledge()
    stated.add_source("Zorblax Robotics Engineering Blog")
    resplit_by_stated = apply_operator_knowledge(article, stated)
    assert resplit_by_stated.companies == ("Plimbo", "Zorblax Robotics")
    assert resplit_by_stated.summary == "share a cache."
    assert resplit_by_stated.confidence == 0.6
    taught = PublisherKnowledge()
    taught.teach("Zorblax Robotics")
    assert apply_operator_knowledge(article, taught).confidence == 1.0
