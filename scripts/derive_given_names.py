"""Derive bot/digest/data/given_names.tsv.gz from names-dataset (first names by country).

    pip download --no-deps names-dataset==3.3.1 -d /tmp/nd
    .venv/bin/python scripts/derive_given_names.py /tmp/nd/names_dataset-3.3.1-py3-none-any.whl

names-dataset (Philippe Rémy, Apache-2.0; PyPI `names-dataset`) ranks 727,556 first names in
each of 106 countries. The package is 56 MB and takes seconds to load, so the bot ships a compact
derived table: every name written as one word (letters, inner hyphens and apostrophes) that ranks
among the MAX_RANK most common first names of at least one country, case-folded, with its best
rank. The fitted scorer weighs that rank against how common the word is in English prose, so
noise in the source (nicknames such as 'Apple' ranked in a few countries) costs little.
"""

from __future__ import annotations

import argparse
import gzip
import pickle
import re
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bot" / "digest" / "data" / "given_names.tsv.gz"
MAX_RANK = 1000
_WORD_RE = re.compile(r"^[^\W\d_]+(?:[-'’][^\W\d_]+)*$")


def derive(wheel: Path) -> dict[str, int]:
    """Case-folded one-word first names with their best rank in any country (<= MAX_RANK)."""
    with zipfile.ZipFile(wheel) as archive:
        raw = archive.read("names_dataset/v3/first_names.pkl.gz")
    data = pickle.loads(gzip.decompress(raw))  # noqa: S301 - trusted package data
    best: dict[str, int] = {}
    for name, info in data.items():
        ranks = [r for r in (info.get("rank") or {}).values() if r]
        if not ranks or not _WORD_RE.match(name):
            continue
        rank = min(ranks)
        key = name.casefold()
        if rank <= MAX_RANK and rank < best.get(key, MAX_RANK + 1):
            best[key] = rank
    return best


def main(argv: list[str] | None = None) -> int:
    """Write the derived table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="names_dataset-3.3.1-py3-none-any.whl")
    args = parser.parse_args(argv)
    best = derive(args.wheel)
    lines = [f"{name}\t{rank}" for name, rank in sorted(best.items())]
    header = (
        "# derived by scripts/derive_given_names.py from names-dataset 3.3.1 (Apache-2.0):\n"
        f"# one-word first names ranked <= {MAX_RANK} in some country; name<TAB>best rank\n"
    )
    body = header + "\n".join(lines) + "\n"
    OUT.write_bytes(gzip.compress(body.encode("utf-8"), mtime=0))
    print(f"{len(lines)} names -> {OUT.relative_to(REPO)} ({OUT.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
