"""Word knowledge for publisher splits: words that end names, words that open sentences."""

from __future__ import annotations

from functools import lru_cache

# Words that end company names far more often than they start a summary sentence.
ORG_WORDS = frozenset(
    [
        "labs",
        "lab",
        "ai",
        "inc",
        "inc.",
        "ltd",
        "llc",
        "corp",
        "corp.",
        "corporation",
        "company",
        "co",
        "co.",
        "technologies",
        "technology",
        "tech",
        "systems",
        "software",
        "security",
        "research",
        "cloud",
        "data",
        "networks",
        "network",
        "group",
        "studio",
        "studios",
        "institute",
        "university",
        "foundation",
        "capital",
        "ventures",
        "health",
        "robotics",
        "dynamics",
        "digital",
        "media",
        "press",
        "io",
        "hq",
        "analytics",
        "intelligence",
        "computing",
        "semiconductor",
        "engineering",
        "partners",
        "consulting",
        "solutions",
        "services",
        "platforms",
        "interactive",
        "games",
        "mobility",
        "energy",
        "bank",
        "financial",
        "labs.",
        "academy",
        "alliance",
        "entertainment",
        "works",
        "industries",
        "holdings",
        "international",
        "global",
    ]
)

# Lower-case words allowed inside a company name ("Bank of America", "Procter & Gamble").
NAME_JOINERS = frozenset({"of", "and", "&", "de", "du", "la", "von", "van", "der", "for", "+"})

# Words that open a summary sentence; never the last word of a company name.
SENTENCE_OPENERS = frozenset(
    [
        "a",
        "an",
        "the",
        "as",
        "at",
        "by",
        "for",
        "from",
        "in",
        "into",
        "on",
        "to",
        "with",
        "without",
        "when",
        "while",
        "whereas",
        "where",
        "why",
        "how",
        "what",
        "which",
        "who",
        "although",
        "though",
        "because",
        "since",
        "after",
        "before",
        "during",
        "despite",
        "unlike",
        "like",
        "instead",
        "rather",
        "most",
        "many",
        "much",
        "more",
        "some",
        "several",
        "few",
        "all",
        "every",
        "each",
        "both",
        "this",
        "that",
        "these",
        "those",
        "its",
        "their",
        "our",
        "his",
        "her",
        "it",
        "they",
        "we",
        "you",
        "there",
        "here",
        "once",
        "if",
        "until",
        "over",
        "under",
        "amid",
        "among",
        "across",
        "along",
        "beyond",
        "behind",
        "between",
        "through",
        "throughout",
        "today",
        "now",
        "no",
        "not",
    ]
)

# Adjectives that open summaries ("Traditional OCR fails…") and never end a company name.
DESCRIPTIVE = frozenset(
    [
        "traditional",
        "massive",
        "standard",
        "modern",
        "classic",
        "autonomous",
        "aggressive",
        "legacy",
        "large",
        "small",
        "high",
        "low",
        "new",
        "old",
        "early",
        "late",
        "real",
        "complex",
        "critical",
        "rapid",
        "public",
        "private",
        "global",
        "manual",
        "automated",
        "distributed",
        "dynamic",
        "static",
        "major",
        "minor",
        "secure",
        "safe",
        "heavy",
        "multi",
        "many",
        "most",
        "several",
        "long",
        "short",
        "fast",
        "slow",
        "simple",
        "hard",
        "cheap",
        "expensive",
        "sensitive",
        "sophisticated",
        "severe",
        "current",
        "recent",
        "typical",
        "common",
        "unified",
    ]
)


# Number words that start names ('Two Sigma', 'Seven Bridges') but are rarely a whole name.
NUMBER_WORDS = frozenset(
    """one two three four five six seven eight nine ten eleven twelve twenty hundred thousand
    million first second third""".split()
)

# Common given names: a publisher that starts with one is a person ("Julia Evans"), and a
# summary never starts with the surname, so the name is not cut after the given name.
GIVEN_NAMES = frozenset(
    """aaron adam adrian alan alex alexander alice amanda amy andrea andrew andy anna anne
    anthony ben benjamin beth bill bob brad brandon brendan brett brian bruce bryan carl carlos
    carol caroline charity charles charlie chris christian christina christine christopher
    claire colin craig dan daniel danny dave david dean diana diane dominic don donald doug
    douglas dylan ed eddie edward elena elizabeth ellen emily emma eric erica erik ethan eva
    evan frank fred gabriel gary george grace greg gregory hannah harry heather helen henry
    hillel ian isaac jack jacob jake james jamie jane janet jason jeff jeffrey jennifer jenny
    jeremy jessica jim joe joel john jon jonathan jordan jose joseph josh joshua julia julian
    julie justin karen kate katie keith kelly kelsey ken kevin kim kyle laura lauren lee leo
    lisa liz lorin lucas luke marc marcus maria mark martin mary matt matthew max megan melissa
    michael michelle mike mitchell molly nathan neil nick nicole noah oliver olivia omar pat
    patrick paul peter phil philip rachel ralph ray rebecca richard rick rob robert robin ron
    ross ruby russ ryan sam samantha sandra sarah scott sean seth shawn simon sophie stephanie
    stephen steve steven sue susan tanya ted thomas tim timothy tina todd tom tony tyler
    vanessa victor vincent walter wendy werner will william yan zach zoe
    abdul abhishek adebayo adil agnieszka ahmed aiko aisha akira alberto aleksandr alessandro
    alexei alexis alicia alina alison allison alvaro amir amit ana anand anders andre andreas
    andrei angela angelo anil anita anja ankit annika antoine anton antonio anya arjun armin arnav
    arturo asha ashley ashok astrid audrey aurelien axel ayesha barbara bart bas bastian beatriz
    benedikt bernard bernardo bettina bianca birgit bjarne blake bogdan boris brigitte bruno
    camila camille carla carmen carolina catalina catherine cecile cedric celine cesar chad chandra
    chen cheng chiara chloe christoph cindy claudia clement connor constantin cristina curtis
    damian damien dana daniela dario darius darren deborah deepak denis denise derek diego dimitri
    dmitri dmitry dong dorothy duncan eduardo elias elif eliza elliot emil emilia emilio emmanuel
    enrico enrique erin esther eugene evelyn fabian fabio fatima felipe felix fernando filip
    fiona florian francesca francesco francisco francois franz frederik gabriela gareth gaurav
    gavin gerald gerhard gianluca gilles giovanni giulia giuseppe glenn gloria gordon guillaume
    gunnar gustavo hans harald hari harsh hassan heidi heinrich hector helena hemant henrik hiroshi
    hugo ibrahim igor ilya ines irene irina isabel isabella ivan jakob jan janek javier jayesh
    jens jesse jesus joanna joao joaquin johan johannes jonas jorge jose josef juan judith jun
    jurgen kai kamil karan karin karl karthik kasper katarzyna katharina kathryn kenji kenneth kiran
    klaus krishna kristin krzysztof kumar lars laszlo leah leila leon leonardo leslie lin linda
    lionel lorenzo louis lucia luigi luis luisa lukas maciej magnus mahmoud malik manuel marco
    marek margaret mariana marie marina mario marta marten martina mateo mathias matteo mattias
    maurice maxim maximilian mehmet mei mia miguel mikhail milan min ming mirko mohamed mohammed
    monica nadia naveen neha niall nicholas nicolas niklas nikolai nikhil nils nina nora olga
    oscar pablo pamela paolo pascal patricia pavel pedro petr philipp pierre piotr pooja pradeep
    pranav prashant priya rafael rahul raj rajesh ramon randy raquel rasmus raul ravi reza
    ricardo rita roberto rodrigo roger roland roman rosa ruben rui sabine sabrina sachin sahil
    salma samir sandeep sanjay santiago sara sasha satoshi sebastian sergei sergey sergio shreya
    sibylle silvia sofia sonia soren stefan stefano sven svetlana takeshi tamara tanvi tarek
    teresa thiago thierry thorsten tobias tomas tomasz torsten udi ulrich valentin valeria vera
    veronica viktor vikram vinod vivek vladimir wei wojciech xavier yannick yasmin yiannis yuki
    yusuf yves zainab zhang zhao""".split()
)


@lru_cache(maxsize=65536)
def looks_descriptive(word: str) -> bool:
    """Gerunds, participles, adverbs and common adjectives: sentence words, not name parts."""
    word = word.strip(_LEADING_PUNCT).rstrip(_TRAILING_PUNCT)
    if word in DESCRIPTIVE:
        return True
    return len(word) > 4 and word.endswith(("ing", "ed", "ly")) and zipf(word) > 2.5


_LEADING_PUNCT = "\"'“‘([{"
_TRAILING_PUNCT = "\"'”’)]},;:.!?"


@lru_cache(maxsize=65536)
def zipf(word: str) -> float:
    """English word frequency on the Zipf scale (0 = unknown, 7 = 'the')."""
    from wordfreq import zipf_frequency  # imported on first use: it is heavy to load

    return float(zipf_frequency(word, "en"))


def bare(token: str) -> str:
    """A token without surrounding quotes, brackets and punctuation."""
    return token.strip(_LEADING_PUNCT).rstrip(_TRAILING_PUNCT)


def is_capitalised(token: str) -> bool:
    """Whether a token starts with a capital letter or a digit."""
    bare = token.lstrip(_LEADING_PUNCT)
    return bool(bare) and (bare[0].isupper() or bare[0].isdigit())


@lru_cache(maxsize=65536)
def is_acronym(token: str) -> bool:
    """Whether a token is (nearly) all capitals: AWS, NVIDIA."""
    letters = [c for c in bare(token) if c.isalpha()]
    return len(letters) >= 2 and sum(c.isupper() for c in letters) >= len(letters) - 1


@lru_cache(maxsize=65536)
def commonness(token: str) -> float:
    """How much a capitalised token reads as an ordinary English word (about -1 to 3)."""
    word = bare(token)
    if not word or is_acronym(word) or any(c.isdigit() for c in word):
        return -1.0
    inner_caps = any(c.isupper() for c in word[1:])
    if inner_caps:  # CamelCase names: GitHub, HashiCorp, QCon
        return -1.0
    lower = word.casefold()
    freq = zipf(lower)
    if freq == 0.0 and "-" in lower:  # 'Full-stack', 'Real-time': judge by the parts
        freq = min(zipf(part) for part in lower.split("-") if part) if lower.strip("-") else 0.0
    score = freq - 3.5
    if lower.endswith("ing") or lower.endswith("ed") or lower.endswith("ly"):
        score += 0.7
    return max(-1.5, min(3.0, score))


@lru_cache(maxsize=65536)
def is_rare(token: str) -> bool:
    """A plain word English hardly uses: a surname or a brand ('Kowalczyk'), not a sentence word."""
    word = bare(token)
    if not word.isalpha() or is_acronym(word) or any(c.isupper() for c in word[1:]):
        return False
    return zipf(word.casefold()) < 2.3
