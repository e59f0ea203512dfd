"""A labelled development set for publisher attribution: realistic digests, invented publishers.

    python benchmarks/attribution_devset.py OUT_DIR [--part train|heldout] [--issues 120] [--seed 1]

Publishers are made up from word pools at run time, so no name appears in any file of the
repository, and none is in the curated list (checked). Every pool is split in two: the `train`
part draws from one half, the `heldout` part from the other, so held-out names share no word
with training names. Issues come in every seed layout and in Markdown, with and without a
Sources list; the evidence a reader would use (the name in the title, the signal, the patterns,
other deep dives, a feed name in Sources, the URL host, other issues) is present as often as in
real issues, and sometimes absent. OUT_DIR/manifest.jsonl holds every article's truth.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from bot.digest.companies import compact  # noqa: E402
from bot.digest.organisations import curated_keys  # noqa: E402

# Ordinary capitalised words that make up many real names ('Red Hat', 'Two Sigma', 'New Relic').
ORDINARY = """Amber Anchor Apex Arch Arrow Aspen Atlas Autumn Azure Badge Banner Basin Beacon Bell
Birch Blue Bold Bolt Border Bridge Bright Brook Canyon Cargo Cedar Central Chalk Charter Cinder
Circle Citadel Clear Cliff Clover Coast Cobalt Comet Compass Copper Coral Crane Crest Crown
Crystal Current Dawn Delta Desert Drift Eagle Echo Ember Emerald Ever Falcon Fern Field Fir
Flag Flint Forest Forge Fountain Fox Frost Garden Gate Glacier Glen Golden Granite Grove Harbor
Harvest Haven Hawk Hazel Heath Helix Heron Highland Hollow Horizon Iron Island Ivory Jade Keystone
Lake Lantern Lark Ledger Lighthouse Linden Lotus Maple Marble Meadow Mesa Mill Mint Mirror
Monarch Moss North Oak Ocean Olive Onyx Orbit Orchard Otter Palm Paper Pearl Pebble Pine Pioneer
Plain Polar Prairie Prism Quarry Quartz Quiet Rain Raven Reed Ridge River Robin Rock Rose Ruby
Saddle Sage Salt Sand Scarlet Shadow Shore Signal Silver Slate Snow Solar South Spark Spring
Spruce Stone Storm Summit Swift Tide Timber Torch Tower Trail True Tulip Union Valley Vapor
Velvet Violet Vista Wave West Willow Winter Wolf Yard Zenith""".split()
NUMBERS = "Two Three Four Five Six Seven Eight Nine Ten Twelve Hundred Thousand First".split()
TAILS = """One Point Works Street Square Hill Park Bay Line Road Yard Sigma Alpha Vector Loop
Path Port Gate Mark House Labs Systems Robotics Analytics Security Cloud Data Networks Health
Capital Bank Energy Mobility Games Studios Software Research Dynamics Foundation Institute
Digital Media Logistics Insurance Telecom Aerospace Biotech Semiconductor Payments""".split()
SYLLABLES = """zor vex qui tal mer rin bra dok vel sen tar lum pix nor kal fen gro hap jun lex
mox nev oru pel quo ras syl tov ulm vaz wex yor zen bri cal dra eko fio gan hix ily
jor kes""".split()
GIVEN = """Amara Bjorn Chidi Dagny Esme Farid Greta Hamid Ingrid Jovan Kaveh Leona Mirela Nadia
Osric Priya Quentin Rosalind Soren Tamsin Umar Valentina Wendell Xiomara Yusuf Zelda Anouk Bertil
Calla Desmond Elif Florin Gideon Halima Ivo Juno Kasimir Lucinda Marit Nils""".split()
SURNAMES = """Okafor Lindqvist Brandao Kowalczyk Nakagawa Haverford Oyelaran Petrakis Quillfeather
Rasmussen Szabo Thorne Underhill Varga Whitlock Yamazaki Zelenko Abernathy Castellano Delacroix
Eriksen Fontaine Galloway Hargreaves Ivanova Jablonski Kettering Laurent Marchetti Novak
Ostrowski Pemberton Rinaldi Sorensen Tavares Ulrich Vance Wexler Achterberg Bellweather""".split()
ORG_TAILS = "Labs Systems AI Technologies Cloud Data Networks Software Robotics Analytics".split()
FEED_FORMS = ("{} Engineering", "{} Blog", "{} Tech Blog", "{} Engineering Blog", "{}.com")
HOST_FORMS = ("{}.com", "{}.io", "{}.ai", "engineering.{}.com", "blog.{}.com", "{}.dev")

# Summary openings the way real summaries start (the next words are lower-case prose).
NOUN_STARTS = """Kernel Fraud Telemetry Backup Search Storage Billing Payment Latency Caching
Routing Logging Inference Training Compliance Observability Scheduling Indexing Replication
Encryption Streaming Deployment Container Database Network Identity Checkout Pricing Security
Incident Migration Memory Compiler Query Feature Release Model Recommendation Ranking Risk
Capacity Traffic Queue Schema Cluster Batch Warehouse Ledger Vector Translation Speech""".split()
VERB_STARTS = """Backtests Builds Moves Runs Ships Rewrites Replaces Splits Scales Tracks Uses
Explains Describes Measures Tests Migrates Shards Caches Retires Open-sources""".split()
PRODUCTS = """Osprey Radar Lightbulb Snapstone Harbor Pulsar Beacon Keystone Sentinel Atlas
Mosaic Relay Compass Vortex Prism Cascade Nimbus Quill Tessera Lumen Zephyr Falcon""".split()
OPENERS = ("The", "A", "When", "Instead of", "Most", "As", "Because", "Without", "In", "Every")
ACRONYMS = ("LLM", "GPU", "API", "CI", "SQL", "CDN", "TLS", "DNS", "RPC", "ML")


def _halves(words: list[str], part: str) -> list[str]:
    """One half of a pool: train and held-out names never share a word."""
    ordered = sorted(set(words))
    return ordered[0::2] if part == "train" else ordered[1::2]


@dataclass
class Pools:
    """The word pools of one part (train or held-out)."""

    ordinary: list[str]
    numbers: list[str]
    tails: list[str]
    syllables: list[str]
    given: list[str]
    surnames: list[str]

    @classmethod
    def of(cls, part: str) -> Pools:
        """The pools of `part`."""
        from bot.digest.lexicon import GIVEN_NAMES

        unknown = [g for g in GIVEN if g.casefold() not in GIVEN_NAMES]  # people stay unseen
        pools = (ORDINARY, NUMBERS, TAILS, SYLLABLES, unknown, SURNAMES)
        return cls(*(_halves(p, part) for p in pools))


class Names:
    """Invented publisher names of every shape real ones have."""

    def __init__(self, rng: random.Random, pools: Pools) -> None:
        self.rng, self.p = rng, pools

    def brand(self) -> str:
        word = "".join(self.rng.choice(self.p.syllables) for _ in range(self.rng.randint(2, 3)))
        if self.rng.random() < 0.15:  # CamelCase brands: 'DataPlume'
            return word[:3].capitalize() + word[3:].capitalize()
        return word.capitalize()

    def make(self) -> str:
        r, c = self.rng.random(), self.rng.choice
        if r < 0.22:
            return self.brand()
        if r < 0.42:
            return f"{c(self.p.ordinary)} {c(self.p.ordinary + self.p.tails)}"
        if r < 0.50:
            return f"{c(self.p.numbers)} {c(self.p.tails + self.p.ordinary)}"
        if r < 0.62:
            return f"{self.brand()} {c(ORG_TAILS + self.p.tails)}"
        if r < 0.74:
            return f"{c(self.p.given)} {c(self.p.surnames)}"
        if r < 0.82:
            return f"{c(self.p.ordinary)} {c(self.p.ordinary)} {c(ORG_TAILS)}"
        if r < 0.87:
            return f"{c(self.p.ordinary)} of {c(self.p.ordinary)}s"
        if r < 0.92:
            return "".join(self.rng.choice("BCDFGKLMPQRSTVXZ") for _ in range(3))
        if r < 0.96:
            return f"{self.brand()} {c(self.p.ordinary)}"
        return f"{self.brand().lower()} {c(ORG_TAILS)}"

    def pool(self, size: int) -> list[str]:
        """`size` distinct names, none known to the curated list."""
        curated = curated_keys()
        names: list[str] = []
        seen: set[str] = set()
        while len(names) < size:
            name = self.make()
            key = compact(name)
            if key in seen or key in curated or any(w.casefold() == "of" for w in name.split()[:1]):
                continue
            seen.add(key)
            names.append(name)
        return names


def _listed_names() -> list[str]:
    from bot.digest.organisations import CURATED_FILE, read_organisations

    return sorted(org.name for org in read_organisations(CURATED_FILE))


def _seed_prose() -> tuple[list[str], list[str]]:
    from bot.digest.parsing import parse_issue

    sentences: list[str] = []
    titles: list[str] = []
    for path in sorted((REPO / "seeds").glob("*.txt")):
        for article in parse_issue(path.read_text()).articles:
            titles.append(article.title)
            for sentence in re.split(r"(?<=[.!?])\s+", article.summary):
                if len(sentence.split()) >= 8 and sentence[:1].isupper():
                    sentences.append(sentence)
    return sentences, titles


class Digests:
    """Deterministic digests of one part."""

    def __init__(self, part: str, seed: int, publishers: int = 160) -> None:
        self.rng = random.Random(f"{part}-{seed}")
        self.names = Names(self.rng, Pools.of(part)).pool(publishers)
        if part == "train":  # known names too, so the curated list's weight can be fitted
            self.names[::6] = self.rng.sample(_listed_names(), len(self.names[::6]))
        self.weights = [1.0 / (rank + 1) ** 0.9 for rank in range(len(self.names))]
        self.sentences, self.titles = _seed_prose()

    def opening(self, company: str) -> str:
        """The first words of a summary, as real summaries start."""
        r, c = self.rng.random(), self.rng.choice
        lower = c(self.sentences).split()
        tail = " ".join(w for w in lower[1:8])
        if r < 0.30:
            return c(self.sentences)
        if r < 0.50:
            return f"{c(NOUN_STARTS)} {tail}"
        if r < 0.58:
            return f"{c(VERB_STARTS)} that {tail}"
        if r < 0.68:
            return f"{c(PRODUCTS)} {c(['now', 'cut', 'moved', 'replaced', 'handles'])} {tail}"
        if r < 0.76:
            return f"{company} {c(['engineers', 'rebuilt', 'moved', 'found', 'runs'])} {tail}"
        if r < 0.86:
            return f"{c(OPENERS)} {tail}"
        if r < 0.92:
            return f"{c(ACRONYMS)} {c(['inference', 'costs', 'traffic', 'latency'])} {tail}"
        product = f"{c(PRODUCTS)} {c(['Router', 'Engine', 'Store', 'Gateway', 'Studio'])}"
        return f"{product} {c(['now', 'cut', 'moved', 'replaced', 'handles'])} {tail}"

    def summary(self, company: str) -> str:
        parts = [self.opening(company).rstrip(".") + "."]
        parts += self.rng.sample(self.sentences, self.rng.randint(2, 4))
        if self.rng.random() < 0.3:
            parts.insert(2, f"{company} addressed this by rethinking the architecture.")
        return " ".join(parts)

    def title(self, company: str) -> str:
        words = self.rng.choice(self.titles).split()
        for _ in range(self.rng.randint(1, 3)):
            words[self.rng.randrange(len(words))] = self.rng.choice(
                self.rng.choice(self.titles).split()
            )
        text = " ".join(words).replace(" · ", " ")
        r = self.rng.random()
        if r < 0.15:
            return f"{company} {text}"
        if r < 0.25:
            return f"How {company} {text[0].lower()}{text[1:]}"
        if r < 0.30:
            return f"{text} at {company}"
        return text

    def publisher(self) -> list[str]:
        first = self.rng.choices(self.names, self.weights)[0]
        if self.rng.random() < 0.03:
            second = self.rng.choices(self.names, self.weights)[0]
            if second != first:
                return [first, second]
        return [first]

    def mention(self, companies: list[str]) -> str:
        """Signal or patterns prose that names some of the issue's publishers."""
        prose = " ".join(self.rng.sample(self.sentences, 2))
        if not companies or self.rng.random() < 0.3:
            return prose
        named = self.rng.sample(companies, min(len(companies), self.rng.randint(1, 4)))
        lead = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
        return f"{lead} all moved in the same direction. {prose}"

    def host(self, company: str) -> str:
        key = re.sub(r"[^a-z0-9]", "", company.casefold())
        return self.rng.choice(HOST_FORMS).format(key)

    def feed(self, company: str) -> str:
        form = self.rng.choice(FEED_FORMS)
        return form.format(company.replace(" ", "") if form.endswith(".com") else company)

    def issue(self, day: dt.date, layout: int) -> tuple[str, list[dict[str, object]]]:
        """One issue's text and its articles' truth."""
        count = self.rng.randint(8, 24)
        dives = [(self.publisher(), "") for _ in range(count)]
        articles = []
        for companies, _ in dives:
            company = " / ".join(companies)
            articles.append(
                (self.title(companies[0]), companies, self.summary(companies[0]), company)
            )
        everyone = sorted({c for _, cs, _, _ in articles for c in cs})
        with_sources = self.rng.random() < 0.5
        sources = (
            [self.feed(c) for c in everyone if self.rng.random() < 0.8] if with_sources else []
        )
        signal, patterns = self.mention(everyone), self.mention(everyone)
        return self.render(day, layout, sources, signal, patterns, articles)

    def render(self, day, layout, sources, signal, patterns, articles):  # type: ignore[no-untyped-def]
        expected: list[dict[str, object]] = []
        lines: list[str] = []
        md = layout == 4
        head = "## " if md else ""
        mark = "" if md else "#"
        if md:
            lines.append(f"# Engineering @ Scale — {day.isoformat()}")
        if sources or not md:
            lines.append(f"{head}Sources" + "".join(f"\n- {s}" for s in sources))
        if not md:
            lines.append(f"Engineering @ Scale — {day.isoformat()}{mark}")
        lines += [f"{head}Signal of the Day{mark}", signal, f"{head}Deep Dives{mark}"]
        for title, companies, summary, company in articles:
            url = f"https://{self.host(companies[0])}/{self.rng.randint(100, 999)}"
            split = layout in (0, 3, 4)
            if layout == 0:
                line = f"{title} · {company} {summary}"
            elif layout == 1:
                line = f"{title} · {company} · Source {summary}"
            elif layout == 2:
                line = f"[{title}] · {company} · Source {summary}"
            elif layout == 3:
                line = f"{title} · {company} {summary}"
            else:
                linked = f"[{title}]({url})" if self.rng.random() < 0.7 else f"**{title}**"
                line = f"- {linked} · {company} {summary}"
            lines.append(line)
            expected.append(
                {"title": title, "companies": companies, "summary": summary, "split": split}
            )
        lines += [f"{head}Patterns Across Companies{mark}", patterns]
        text = ("\n" if layout in (1, 3) else "\n\n").join(lines)
        if layout == 2:
            text += "\n\n\nCategories: News, Tech"
        return text + "\n", expected


def write(out: Path, part: str, issues: int, seed: int) -> int:
    """Write `issues` digests of `part` and their manifest; the number of articles."""
    out.mkdir(parents=True, exist_ok=True)
    digests = Digests(part, seed)
    start = dt.date(2031, 1, 1) if part == "train" else dt.date(2033, 1, 1)
    total = 0
    with (out / "manifest.jsonl").open("w") as manifest:
        for i in range(issues):
            day = start + dt.timedelta(days=i)
            text, expected = digests.issue(day, i % 5)
            name = f"{day.isoformat()}.{'md' if i % 5 == 4 else 'txt'}"
            (out / name).write_text(text)
            manifest.write(json.dumps({"file": name, "articles": expected}) + "\n")
            total += len(expected)
    return total


def main(argv: list[str] | None = None) -> int:
    """Write one part of the development set."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--part", choices=("train", "heldout"), default="train")
    parser.add_argument("--issues", type=int, default=120)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    total = write(args.out, args.part, args.issues, args.seed)
    print(f"{args.issues} {args.part} issues, {total} articles -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
