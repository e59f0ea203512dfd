"""Telling the publisher from the summary in 'Title · Company Summary…' lines.

Nothing separates the two, so each way of cutting the leading run of capitalised words is a
candidate described by features (`bot.digest.features`): the evidence the issue, the archive
and the curated list give for the name, and how much the words on either side of the cut read
like a name or like the start of a sentence. Weights fitted by logistic regression
(`scripts/fit_publisher_weights.py`, stored in `data/publisher_weights.json`) score the
candidates; the softmax over an article's candidates is the confidence of the chosen cut.
"""

from __future__ import annotations

import json
import math
import operator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot.digest.companies import PublisherKnowledge
from bot.digest.evidence import EMPTY_CONTEXT, IssueContext
from bot.digest.features import FEATURES, Line, cut_features, explain_away
from bot.digest.lexicon import (
    NAME_JOINERS,
    ORG_WORDS,
    SENTENCE_OPENERS,
    is_acronym,
    is_capitalised,
    is_initial,
)

MAX_PUBLISHER_WORDS = 6
# When no cut is name-shaped ('zorvex rebuilt…') the first word is taken without a model: on
# the development set it was right 87 times in 87, so below certain, above the review threshold.
NO_SHAPE_CONFIDENCE = 0.9
WEIGHTS_FILE = Path(__file__).resolve().parent / "data" / "publisher_weights.json"


@dataclass(frozen=True, slots=True)
class Split:
    """Where the publisher ends, and how likely that is to be right (0..1)."""

    company: str
    summary: str
    confidence: float


@lru_cache(maxsize=1)
def weights() -> tuple[float, ...]:
    """The fitted weights, in FEATURES order (a feature the file lacks weighs nothing)."""
    data = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
    fitted = dict(zip(data["features"], data["weights"], strict=True))
    return tuple(float(fitted.get(name, 0.0)) for name in FEATURES)


def _valid_cut(tokens: list[str], cut: int) -> bool:
    """Whether tokens[:cut] can be a company name and tokens[cut:] a summary."""
    name = tokens[:cut]
    if name[-1] in {"/", "&", "+"} or name[-1].casefold() in NAME_JOINERS:
        return False
    after = tokens[cut : cut + 2]
    if (after and after[0] in {"/", "&", "+"}) or after[1:] == ["/"]:
        return False  # a joint publisher 'A / B' or a name 'Procter & Gamble' goes on
    for i, token in enumerate(name):
        if token in {"/", "&", "+"}:
            continue
        if token.casefold() in NAME_JOINERS and 0 < i < cut - 1:
            continue
        starts_part = i == 0 or name[i - 1] == "/"
        # A lower-case brand: before an org word ('dbt Labs') or as one of joint publishers
        # ('ganganmox / Coast Institute', 'Pearl Bay / zormox'): the '/' says it is a name.
        joint = (i > 0 and name[i - 1] == "/") or (i + 1 < cut and name[i + 1] == "/")
        if not is_capitalised(token) and not (
            starts_part and (joint or (i + 1 < cut and name[i + 1].casefold() in ORG_WORDS))
        ):
            return False
        # Sentence punctuation inside a name means the cut is past the summary's start.
        if token[-1] in ",;:?":
            return False
        # A mark that ends a brand ('Yahoo!', 'Zero°') or a full stop ends the name there,
        # except a middle initial ('Inés J. Yamazaki').
        ends = i < cut - 1 and name[i + 1] != "/"
        if token[-1] in ".!°*" and ends and not is_initial(token):
            return False
    if cut == 1 and tokens[0].casefold() in SENTENCE_OPENERS and not is_acronym(tokens[0]):
        return False  # 'The New Stack', never 'The'
    # 'Airbnb Airbnb faced…', 'Ocean & Onyx Ocean & Onyx…': the summary repeats the publisher
    # (a joiner before the repeat is a name's own: 'Johnson & Johnson').
    first = tokens[0].casefold()
    return not any(
        name[k].casefold() == first and name[k - 1].casefold() not in NAME_JOINERS | {"/"}
        for k in range(1, cut)
    )


def candidate_cuts(tokens: list[str]) -> list[int]:
    """Every cut that leaves a name-shaped publisher, shortest first (none: no name shape)."""
    cuts: list[int] = []
    for cut in range(1, min(MAX_PUBLISHER_WORDS, len(tokens)) + 1):
        if _valid_cut(tokens, cut):
            cuts.append(cut)
            continue
        last = tokens[cut - 1]
        part_start = cut > 1 and tokens[cut - 2] == "/"  # 'A / dbt Labs'
        lower = not is_capitalised(last) and last.casefold() not in NAME_JOINERS | {"/"}
        if cut > 1 and lower and not part_start:
            break  # a lower-case word ends every name that could still follow
    return cuts


def candidate_features(
    line: Line, cuts: list[int] | None = None
) -> tuple[list[int], list[list[float]]]:
    """The candidate cuts of a line and their features (evidence explained away)."""
    cuts = cuts or candidate_cuts(line.tokens)
    rows = [cut_features(line, cut) for cut in cuts]
    explain_away(rows)
    return cuts, rows


def _softmax(scores: list[float]) -> list[float]:
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


def attribute(line: Line) -> Split:
    """The most likely cut of a line, with its probability."""
    if not line.tokens:
        return Split("", "", 0.0)
    cuts = candidate_cuts(line.tokens)
    if not cuts:  # no name shape at all ('zorvex rebuilt…'): the first word, a guess
        return _cut(line.tokens, 1, NO_SHAPE_CONFIDENCE)
    if len(cuts) == 1:  # nothing to choose: 'Company · Source', or one capitalised word
        return _cut(line.tokens, cuts[0], 1.0)
    cuts, rows = candidate_features(line, cuts)
    w = weights()
    scores = [sum(map(operator.mul, w, row)) for row in rows]
    probabilities = _softmax(scores)
    best = max(range(len(cuts)), key=lambda i: scores[i])
    return _cut(line.tokens, cuts[best], probabilities[best])


def _cut(tokens: list[str], cut: int, confidence: float) -> Split:
    return Split(" ".join(tokens[:cut]), " ".join(tokens[cut:]), confidence)


def split_publisher(text: str, title: str, knowledge: PublisherKnowledge) -> tuple[str, str]:
    """Cut a line seen on its own (no issue, no links around it) into (company, summary)."""
    split = attribute(make_line(text, title, knowledge))
    return split.company, split.summary


def make_line(
    text: str,
    title: str,
    knowledge: PublisherKnowledge,
    context: IssueContext = EMPTY_CONTEXT,
    hosts: frozenset[str] = frozenset(),
) -> Line:
    """A line to cut: its words, its title and the evidence around it."""
    return Line(text.split(), title, hosts, context, knowledge)
