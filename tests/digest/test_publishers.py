"""Splitting 'Company Summary…' for publishers never seen before."""

from __future__ import annotations

import pytest

from bot.digest.companies import PublisherKnowledge, company_key
from bot.digest.publishers import split_publisher

UNSEEN = PublisherKnowledge()


@pytest.mark.parametrize(
    ("text", "title", "publisher"),
    [
        ("Julia Evans Debugging DNS is mostly about caches.", "How DNS works", "Julia Evans"),
        ("Hugging Face Serving open models needs batching.", "TGI v3", "Hugging Face"),
        (
            "Palo Alto Networks Traditional firewalls miss lateral movement.",
            "Zero trust",
            "Palo Alto Networks",
        ),
        (
            "Mistral AI / AWS Deploying small models on Bedrock is cheap.",
            "Mistral on Bedrock",
            "Mistral AI / AWS",
        ),
        ("Stripe APIs evolve through versioned changes.", "API versioning at Stripe", "Stripe"),
        ("Linear The issue tracker syncs offline edits.", "Sync engine", "Linear"),
        ("Uber Uber rebuilt its dispatch system.", "Dispatch", "Uber"),
        (
            "Cockroach Labs Massive AI workloads stress distributed SQL.",
            "AI and SQL",
            "Cockroach Labs",
        ),
        ("Trail of Bits Auditing Rust crates finds unsafe code.", "Audits", "Trail of Bits"),
        (
            "Zalando Managing thousands of Postgres clusters is hard.",
            "Postgres operator",
            "Zalando",
        ),
        ("DuckDB Labs Analytical queries run in process.", "DuckDB 1.2", "DuckDB Labs"),
    ],
)
def test_unseen_publishers(text: str, title: str, publisher: str) -> None:
    got, summary = split_publisher(text, title, UNSEEN)
    assert got == publisher
    assert text == f"{got} {summary}"


def test_knowledge_resolves_an_otherwise_ambiguous_name() -> None:
    text = "Acme Widgets Engineering shipped a new queue."
    assert (
        split_publisher(text, "Queues", PublisherKnowledge(["Acme Widgets"]))[0] == "Acme Widgets"
    )


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("CloudFlare", "cloudflare"),
        ("Facebook", "meta"),
        ("Amazon AWS AI Blog", "aws"),
        ("The Netflix Tech Blog", "netflix"),
        ("O’Reilly", "oreilly"),
        ("O'Reilly Radar", "oreilly"),
        ("Airbnb Engineering", "airbnb"),
        ("BrettTerpstra.com", "brettterpstra"),
    ],
)
def test_company_keys_normalise_aliases(name: str, canonical: str) -> None:
    assert company_key(name) == canonical
