"""Generate a synthetic archive in the seed formats: by default ten years of daily issues.

    python benchmarks/generate_corpus.py OUT_DIR [--days 3650] [--seed 7]

Issues rotate through the four layouts of seeds/ (blank-line + 'Title · Company Summary',
compact + Sources list + '· Company · Source', '[Title] · Company · Source' + Categories,
compact + 'Title · Company Summary', with summaries sometimes on the next line). Publishers come
from a pool of ~260 names with Zipf-like popularity, ~3% joint 'A / B'. Prose is resampled from
the seed texts so word frequencies (and so search selectivity) are realistic. OUT_DIR/manifest.jsonl
holds the expected titles and companies of every article, one JSON object per issue.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SEEDS = REPO / "seeds"

SEED_PUBLISHERS = [
    "AWS",
    "Cloudflare",
    "InfoQ",
    "Meta",
    "Google",
    "Microsoft",
    "GitHub",
    "NVIDIA",
    "Vercel",
    "OpenAI",
    "HashiCorp",
    "Airbnb",
    "Spotify",
    "Netflix",
    "Databricks",
    "O’Reilly",
    "General",
    "Datadog",
    "Pinterest",
    "Shopify",
    "Oracle",
    "Confluent",
    "Redpanda",
    "Grafana Labs",
    "Gradient Labs",
    "Brett Terpstra",
    "Pulse AI",
    "FutureSearch",
    "KubeVirt",
    "TanStack",
]
SOURCES_LIST = [
    "Airbnb Engineering",
    "Amazon AWS AI Blog",
    "AWS Architecture Blog",
    "CloudFlare",
    "Facebook Code",
    "GitHub Engineering",
    "Google AI Blog",
    "InfoQ",
    "Netflix Tech Blog",
    "NVIDIA Blog",
    "O'Reilly Radar",
    "OpenAI Blog",
    "Spotify Engineering",
    "Vercel Blog",
]


def _seed_texts() -> tuple[list[str], list[str]]:
    """Sentences of seed summaries and seed titles (read with the bot's own parser)."""
    sys.path.insert(0, str(REPO))
    from bot.digest.parsing import parse_issue

    sentences: list[str] = []
    titles: list[str] = []
    for path in sorted(SEEDS.glob("*.txt")):
        for article in parse_issue(path.read_text()).articles:
            titles.append(article.title)
            for sentence in re.split(r"(?<=[.!?])\s+", article.summary):
                if len(sentence.split()) >= 8 and sentence[:1].isupper():
                    sentences.append(sentence)
    return sentences, titles


def _publishers() -> list[str]:
    extra = [n.strip() for n in (HERE / "publisher_names.txt").read_text().splitlines()]
    pool = SEED_PUBLISHERS + [n for n in extra if n and n not in SEED_PUBLISHERS]
    return pool


class Generator:
    """Deterministic issue generator."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.sentences, self.titles = _seed_texts()
        self.publishers = _publishers()
        self.weights = [1.0 / (rank + 1) ** 1.1 for rank in range(len(self.publishers))]
        self.title_words = [w for t in self.titles for w in t.split()]

    def publisher(self) -> list[str]:
        first = self.rng.choices(self.publishers, self.weights)[0]
        if self.rng.random() < 0.03:
            second = self.rng.choices(self.publishers, self.weights)[0]
            if second != first:
                return [first, second]
        return [first]

    def title(self, companies: list[str]) -> str:
        base = self.rng.choice(self.titles)
        words = base.split()
        for _ in range(self.rng.randint(1, 3)):
            words[self.rng.randrange(len(words))] = self.rng.choice(self.title_words)
        text = " ".join(words)
        if self.rng.random() < 0.35:
            text = f"{companies[0]} {text}"
        if self.rng.random() < 0.05:
            text += " with rate limiting"
        return text.replace(" · ", " ")

    def summary(self, companies: list[str]) -> str:
        count = self.rng.randint(3, 5)
        parts = self.rng.sample(self.sentences, count)
        if self.rng.random() < 0.4:
            parts[1] = f"{companies[0]} addressed this by rethinking the architecture."
        text = " ".join(parts)
        words = text.split()
        if len(words) > 120:
            text = " ".join(words[:120]) + "."
        return text

    def issue(self, day: dt.date, layout: int) -> tuple[str, list[dict[str, object]]]:
        count = round(self.rng.triangular(10, 30, 26))  # mean 22: ~80,000 articles a decade
        lines: list[str] = []
        blank = layout in (0, 2)
        sep = "\n\n" if blank else "\n"
        if layout in (1, 3):
            lines.append("Sources\n" + "\n".join(f"- {s}" for s in SOURCES_LIST))
        else:
            lines.append("Sources")
        lines.append(f"Engineering @ Scale — {day.isoformat()}#")
        lines.append("Signal of the Day#")
        lines.append(self.summary(["Engineering"]))
        lines.append("Deep Dives#")
        expected: list[dict[str, object]] = []
        for _ in range(count):
            companies = self.publisher()
            title = self.title(companies)
            summary = self.summary(companies)
            company = " / ".join(companies)
            next_line = self.rng.random() < 0.08
            if layout == 0:
                line = f"{title} · {company} {summary}"
            elif layout == 1:
                line = f"{title} · {company} · Source" + ("\n" if next_line else " ") + summary
            elif layout == 2:
                line = f"[{title}] · {company} · Source {summary}"
            else:
                line = f"{title} · {company}" + ("\n" if next_line else " ") + summary
            lines.append(line)
            expected.append({"title": title, "companies": companies})
        lines.append("Patterns Across Companies#")
        lines.append(self.summary(["Industry"]))
        text = sep.join(lines)
        if layout == 2:
            text += "\n\n\nCategories: News, Tech"
        return text + "\n", expected


def main(argv: list[str] | None = None) -> int:
    """Write the corpus and its manifest."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--days", type=int, default=3650)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--end", default="2026-05-31")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    generator = Generator(args.seed)
    end = dt.date.fromisoformat(args.end)
    articles = 0
    with (args.out / "manifest.jsonl").open("w") as manifest:
        for offset in range(args.days):
            day = end - dt.timedelta(days=args.days - 1 - offset)
            text, expected = generator.issue(day, offset % 4)
            (args.out / f"{day.isoformat()}.txt").write_text(text)
            manifest.write(json.dumps({"date": day.isoformat(), "articles": expected}) + "\n")
            articles += len(expected)
    seconds = time.perf_counter() - start
    print(f"{args.days} issues, {articles} articles in {seconds:.1f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
