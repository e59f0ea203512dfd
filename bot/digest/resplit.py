"""Moving the cut between publisher and summary to where a known name says it belongs.

A deep dive's line was 'Publisher Summary…' with nothing between the two, so the words of the
publisher plus the summary are the line. Corrections and taught names re-cut that line; they
never rename: a name the line does not start with is not applied.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from bot.digest.companies import (
    PublisherKnowledge,
    Words,
    company_key,
    name_words,
    split_joint,
)
from bot.digest.models import Article

# Splits the parser was less sure of than this count as low-confidence (`companies list`), and
# only they may be cut short by a taught or learned name.
LOW_CONFIDENCE = 0.8


def resplit(publisher: str, summary: str, target: str) -> tuple[str, str] | None:
    """The line 'publisher summary' cut after `target`; None if it does not start so or stays.

    `target` is the whole publisher wanted (joint names as 'A / B'); the result keeps the line's
    own spelling of it.
    """
    line = f"{publisher} {summary}".split()
    wanted = name_words(target)
    if not wanted or len(wanted) > len(line):
        return None
    if name_words(" ".join(line[: len(wanted)])) != wanted:
        return None
    cut = len(wanted)
    if cut == len(publisher.split()):
        return None  # the same cut: nothing to move
    return " ".join(line[:cut]), " ".join(line[cut:])


def replace_company(publisher: str, wrong_key: str, right: str) -> str | None:
    """The publisher with each company keyed `wrong_key` written as `right`; None if none is."""
    parts = split_joint(publisher)
    replaced = [right if company_key(p) == wrong_key else p for p in parts]
    return " / ".join(replaced) if replaced != parts else None


def _longest(forms: Sequence[Words], fits: Callable[[Words], bool]) -> Words:
    best: Words = ()
    for form in forms:
        if len(form) > len(best) and fits(form):
            best = form
    return best


def extend_split(
    publisher: str,
    summary: str,
    forms: Mapping[str, Sequence[Words]],
    may_shorten: Callable[[str], bool] | None = None,
) -> tuple[str, str] | None:
    """Re-cut where a known name says the last publisher ends: longer, or (rarely) shorter.

    `forms` holds known names as folded words, indexed by their first word. A line continuing
    the publisher into a longer name takes it. A shorter name cuts the publisher short only
    when `may_shorten(publisher)` says so (an uncertain split of an unknown name): 'Acme' must
    not turn a real 'Acme Robotics' into 'Acme'. Either way the name must be another company
    ('Acme Engineering' is Acme's feed, not a new name).
    """
    parts = split_joint(publisher)
    if not parts:
        return None
    last = name_words(parts[-1])
    candidates = forms.get(last[0], ())
    if not candidates:
        return None
    # Only as many summary words as the longest candidate could take (summaries are long).
    wanted = max(len(f) for f in candidates) - len(last)
    line = last + (
        name_words(" ".join(summary.split(maxsplit=wanted)[:wanted])) if wanted > 0 else ()
    )
    best = _longest(candidates, lambda f: len(last) < len(f) <= len(line) and line[: len(f)] == f)
    if not best and may_shorten is not None and may_shorten(parts[-1]):
        best = _longest(candidates, lambda f: len(f) < len(last) and last[: len(f)] == f)
    if not best or company_key(" ".join(best)) == company_key(parts[-1]):
        return None
    written = f"{parts[-1]} {summary}".split()[: len(best)]
    return resplit(publisher, summary, " / ".join([*parts[:-1], " ".join(written)]))


# A correction's result may itself be corrected ('A' -> 'A B' -> 'A B C'); a cycle stops here.
MAX_CORRECTION_STEPS = 4


def _correct_once(
    publisher: str, summary: str, corrections: Mapping[str, str]
) -> tuple[str, str] | None:
    for part in split_joint(publisher):
        right = corrections.get(company_key(part))
        target = replace_company(publisher, company_key(part), right) if right else None
        moved = resplit(publisher, summary, target) if target else None
        if moved is not None:
            return moved
    return None


def revise(
    knowledge: PublisherKnowledge, publisher: str, summary: str, confidence: float = 1.0
) -> tuple[str, str] | None:
    """The split known names and corrections ask for instead of this one, or None.

    A known name (stated by an issue or taught) lengthens a publisher the line continues into
    it; it shortens one only when the split was uncertain and the publisher is not known.
    """

    def unknown(name: str) -> bool:
        return not knowledge.knows(name)

    may_shorten = unknown if confidence < LOW_CONFIDENCE else None
    current = extend_split(publisher, summary, knowledge.name_forms, may_shorten)
    current = current or (publisher, summary)
    for _ in range(MAX_CORRECTION_STEPS if knowledge.corrections else 0):
        step = _correct_once(*current, knowledge.corrections)
        if step is None:
            break
        current = step
    return current if current != (publisher, summary) else None


def _may_change(article: Article, knowledge: PublisherKnowledge) -> bool:
    """Whether knowledge could re-split this article at all (most articles: one set lookup)."""
    if knowledge.corrections:
        return True
    last = name_words(article.companies[-1]) if article.companies else ()
    if not last:
        return False
    if len(last) > 1 and article.confidence < LOW_CONFIDENCE:
        return True  # an uncertain split may be cut short
    following = article.summary.split(maxsplit=1)[:1]
    return bool(following) and (last, name_words(following[0])[0]) in knowledge.continuations


def apply_operator_knowledge(article: Article, knowledge: PublisherKnowledge) -> Article:
    """The article re-split as known names and corrections say, else unchanged.

    A split onto a name the operator taught or corrected to is certain; others keep the
    parser's confidence.
    """
    if not _may_change(article, knowledge):
        return article
    revised = revise(knowledge, article.publisher, article.summary, article.confidence)
    if revised is None:
        return article
    publisher, summary = revised
    companies = tuple(split_joint(publisher))
    settled = any(company_key(c) in knowledge.settled for c in companies)
    confidence = 1.0 if settled else article.confidence
    return replace(article, companies=companies, summary=summary, confidence=confidence)
