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
# Given names of the base mix's writers (the first unseen set: fixed, so it stays comparable).
GIVEN = """Amara Bjorn Chidi Dagny Esme Farid Greta Hamid Ingrid Jovan Kaveh Leona Mirela Osric
Quentin Rosalind Tamsin Umar Valentina Wendell Xiomara Zelda Anouk Bertil Calla Desmond Florin
Gideon Halima Ivo Juno Kasimir Lucinda Marit""".split()
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

# The outside mix (issue 25): publishers seen nowhere, of the shapes outside writers use.
# Real given names of many languages (people's given names are real; their surnames invented).
WRITER_GIVEN = """Mara Pieter Ngozi José Zoë Søren Björn Aurélie Łukasz Oluwaseun Thandiwe Siddharth
Anaïs Ciarán Dörte Giedrė Jean-Luc Kwame Malika Mateus Nnamdi Ewa Tiago Saoirse Yaw Ingeborg
Rahel Bogdana Hiroko Dmitrij Inés Chiamaka Emeka Joaquín Lucía Matthias Noémie Radek Sigrún
Teodora Vasco Wiebke Yannis Zeynep Agathe Bram Candela Dalia Eero Folake Gökhan Hamza Ilse Jiří
Katrien Lorenzo Mehdi Nuno Oddny Paulina Rui Sanne Tuomas Uxue Vilja Wanjiru Ximena Youssef
Zsófia Annelies Benoît Cosmin Dagrun Efua Fjóla Gaspard Hélène Iñaki Jasmijn Koen Lior""".split()
SURNAME_ENDS = """wo ski sen ović ez elli ara ić ou berg ström ová ian escu oglu aki uma eira
ani ensky dóttir""".split()
PARTICLES = """de van von da di le du dos ter bin al- el- van_der van_den de_la""".split()
PROPER = """Rust Kubernetes PostgreSQL Kafka Python TypeScript WebAssembly Linux Terraform React
Redis Envoy GraphQL Spark Flink Kotlin Android Chrome Firefox OpenTelemetry Prometheus Java Elixir
Erlang Haskell Cassandra MySQL SQLite Docker Nginx Ubuntu Debian Windows Azure Deno Zig Clojure
Scala Postgres Vitess ClickHouse Bazel Gradle Jenkins Istio Cilium Unicode Wasm Swift""".split()
UPPER_TAILS = "DB HQ IO XR OS VR DEV LABS CDN ML".split()
PRODUCT_VERBS = ["now", "cut", "moved", "replaced", "handles"]
PASSING = (
    "The team moved the service to {} last year.",
    "It runs on {} in production.",
    "Most of the load now goes through {}.",
    "Benchmarks against {} came out even.",
)
# base: the first dev set (its held-out part is the first unseen set); outside: issue 25's shapes.
MIXES = ("base", "outside")


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
    writers: list[str]
    proper: list[str]
    products: list[str]

    @classmethod
    def of(cls, part: str) -> Pools:
        """The pools of `part`."""
        pools = (ORDINARY, NUMBERS, TAILS, SYLLABLES, GIVEN, SURNAMES, WRITER_GIVEN, PROPER)
        return cls(*(_halves(p, part) for p in pools), products=_halves(PRODUCTS, part))


class Names:
    """Invented publisher names of every shape real ones have."""

    def __init__(self, rng: random.Random, pools: Pools, mix: str = "base") -> None:
        self.rng, self.p, self.mix = rng, pools, mix

    def brand(self) -> str:
        word = "".join(self.rng.choice(self.p.syllables) for _ in range(self.rng.randint(2, 3)))
        if self.rng.random() < 0.15:  # CamelCase brands: 'DataPlume'
            return word[:3].capitalize() + word[3:].capitalize()
        return word.capitalize()

    def surname(self) -> str:
        """An invented surname, sometimes accented or double."""
        r, c = self.rng.random(), self.rng.choice
        stem = "".join(c(self.p.syllables) for _ in range(self.rng.randint(1, 2)))
        word = (stem + c(SURNAME_ENDS)).capitalize()
        if r < 0.3:
            return c(self.p.surnames)
        if r < 0.37:
            return f"{word}-{c(self.p.surnames)}"
        return word

    def writer(self) -> str:
        """A person: 'Given Surname', 'Given de Surname', 'Given al-Surname', 'Given J. Surname'."""
        r, c = self.rng.random(), self.rng.choice
        given = c(self.p.writers)
        if r < 0.5:
            return f"{given} {self.surname()}"
        if r < 0.85:
            particle = c(PARTICLES).replace("_", " ")
            if particle.endswith("-"):
                return f"{given} {particle}{self.surname()}"
            return f"{given} {particle} {self.surname()}"
        if r < 0.93:
            return f"{given} {c('ABCDEFGHJKLMNPRSTVW')}. {self.surname()}"
        return f"{given} {c(self.p.writers)} {self.surname()}"

    def odd(self) -> str:
        """A brand with symbols, digits or odd casing, or an ordinary word on its own."""
        r, c = self.rng.random(), self.rng.choice
        brand = self.brand()
        if r < 0.08:
            return f"{c(self.p.ordinary)} & {c(self.p.ordinary)}"
        if r < 0.16:
            return f"{brand.lower()}.{c(['io', 'ai', 'dev', 'js', 'so'])}"
        if r < 0.22:
            return f"{brand}°"
        if r < 0.28:
            return f"{brand}!"
        if r < 0.33:
            return f"{brand[:3]}*{brand[3:]}" if len(brand) > 4 else f"{brand}*"
        if r < 0.42:
            n = c(["2", "3", "7", "9", "42", "360", "101", "8th"])
            return c([f"{brand}{n}", f"{brand} {n}", f"{c(self.p.ordinary)} {n}"])
        if r < 0.52:
            return brand.lower()
        if r < 0.58:
            return f"{brand.lower()} {c(ORG_TAILS)}"
        if r < 0.72:
            return f"{brand} {c(UPPER_TAILS)}"
        if r < 0.78:
            return brand.upper()
        return c(self.p.ordinary)  # 'Signal', 'Linear', 'Render'

    def make(self) -> str:
        if self.mix == "outside":
            r = self.rng.random()
            if r < 0.14:
                return self.writer()
            if r < 0.36:
                return self.odd()
        return self.base()

    def base(self) -> str:
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
            words = name.casefold().split()
            if self.mix == "outside" and len(set(words)) < len(words):
                continue  # 'Azure Azure': a summary repeating a one-word name reads the same
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

    def __init__(self, part: str, seed: int, publishers: int = 160, mix: str = "base") -> None:
        self.mix = mix
        self.rng = random.Random(f"{part}-{seed}" if mix == "base" else f"{part}-{mix}-{seed}")
        self.pools = Pools.of(part)
        outside = mix == "outside"
        # Outside digests: nearly every publisher new (a few hundred issues, thousands of names).
        publishers = publishers * 10 if outside else publishers
        self.names = Names(self.rng, self.pools, mix).pool(publishers)
        if part == "train":  # known names too, so the curated list's weight can be fitted
            self.names[::6] = self.rng.sample(_listed_names(), len(self.names[::6]))
        exponent = 0.3 if outside else 0.9
        self.weights = [1.0 / (rank + 1) ** exponent for rank in range(len(self.names))]
        self.sentences, self.titles = _seed_prose()
        self.product: str | None = None  # the product the last summary opened with

    def opening(self, company: str) -> str:
        """The first words of a summary, as real summaries start."""
        self.product = None
        if self.mix == "outside" and self.rng.random() < 0.4:
            return self.outside_opening()
        return self.base_opening(company)

    def outside_opening(self) -> str:
        """A summary opening with a proper noun, an acronym or the product the title names."""
        r, c = self.rng.random(), self.rng.choice
        tail = " ".join(c(self.sentences).split()[1:8])
        if r < 0.3:
            verb = c(["is", "has", "now", "makes", "needs", "cut", "scales"])
            return f"{c(self.pools.proper)} {verb} {tail}"
        if r < 0.45:
            return f"{c(self.pools.proper)}'s {tail}"
        if r < 0.6:
            return f"{c(self.pools.proper)} {c(self.pools.proper)} {tail}"
        if r < 0.75:
            return f"{c(ACRONYMS)} {c(['inference', 'costs', 'traffic', 'latency'])} {tail}"
        self.product = c(self.pools.products)
        return f"{self.product} {c(PRODUCT_VERBS)} {tail}"

    def base_opening(self, company: str) -> str:
        """The first words of a summary in the base mix."""
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
        if self.mix == "outside" and self.rng.random() < 0.4:  # technologies named in passing
            tech = self.rng.choice(self.pools.proper)
            parts.insert(1, self.rng.choice(PASSING).format(tech))
        return " ".join(parts)

    def title(self, company: str) -> str:
        words = self.rng.choice(self.titles).split()
        for _ in range(self.rng.randint(1, 3)):
            words[self.rng.randrange(len(words))] = self.rng.choice(
                self.rng.choice(self.titles).split()
            )
        text = " ".join(words).replace(" · ", " ")
        if self.product is not None and self.rng.random() < 0.6:
            return self.rng.choice(
                [f"{self.product}: {text}", f"Introducing {self.product}", f"Inside {self.product}"]
            )
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
            if self.mix == "base":
                title = self.title(companies[0])
                summary = self.summary(companies[0])
            else:  # the summary first: the title may name the product it opens with
                summary = self.summary(companies[0])
                title = self.title(companies[0])
            articles.append((title, companies, summary, company))
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


def write(out: Path, part: str, issues: int, seed: int, mix: str = "base") -> int:
    """Write `issues` digests of `part` and their manifest; the number of articles."""
    out.mkdir(parents=True, exist_ok=True)
    digests = Digests(part, seed, mix=mix)
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
    parser.add_argument("--mix", choices=MIXES, default="base")
    args = parser.parse_args(argv)
    total = write(args.out, args.part, args.issues, args.seed, args.mix)
    print(f"{args.issues} {args.part} {args.mix} issues, {total} articles -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
