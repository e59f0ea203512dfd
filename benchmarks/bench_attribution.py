"""Publisher attribution: held-out accuracy with and without the curated list, and ingest speed.

    python benchmarks/bench_attribution.py [--issues 200] [--baseline COMMIT] [--days 300]

1. Generates the held-out part of the development set (benchmarks/attribution_devset.py, part
   `heldout`: invented publishers sharing no word with the training part, none in the curated
   list), in the base mix (the first unseen set) and the outside mix (writers, marks, odd
   casing, proper-noun openings; nearly every publisher new), and parses it as `parse FILE`
   does (each issue alone) and as `ingest FOLDER` does (all issues' knowledge together), with
   the curated list on and off. An article is right when its
   companies are exactly right and its summary starts exactly where the publisher ends.
2. Checks every seed article against tests/fixtures/seed_articles.json.
3. With --baseline, measures parsing alone (CPU time, alternating, --parse-runs each) and
   `ingest` (parse + store into a fresh SQLite file, as bench_archive.py) of the same synthetic
   corpus with the baseline commit's code and with this tree's, alternating, twice each.
Results go to benchmarks/results/attribution.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

from attribution_devset import write  # noqa: E402
from attribution_eval import Score, load, parse_items, score  # noqa: E402

from bot.digest.companies import PublisherKnowledge  # noqa: E402
from bot.digest.parsing import add_text_knowledge, parse_issue  # noqa: E402

INGEST_SNIPPET = """
import resource, sys, time
from pathlib import Path
from bot.core.ingestion import expand_paths, ingest_files
from bot.store.db import open_database
database = open_database(sys.argv[2], upgrade=True)
files = expand_paths([Path(sys.argv[1])])
start = time.perf_counter()
report = ingest_files(database, files)
seconds = time.perf_counter() - start
usage = [resource.getrusage(r) for r in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
peak = max(u.ru_maxrss for u in usage)
print(report.articles, seconds, peak / 1024)
"""


def calibration(result: Score) -> list[dict[str, float]]:
    """Accuracy of split articles by confidence band: is the confidence a probability?"""
    bands = [(0.0, 0.5), (0.5, 0.8), (0.8, 0.95), (0.95, 0.99), (0.99, 1.01)]
    rows = []
    for low, high in bands:
        inside = [ok for conf, ok in result.confidences if low <= conf < high]
        if inside:
            rows.append(
                {
                    "band": f"{low:.2f}-{min(high, 1.0):.2f}",
                    "articles": len(inside),
                    "accuracy": round(sum(inside) / len(inside), 4),
                }
            )
    return rows


def heldout(issues: int, seed: int, show: bool, mix: str = "base") -> dict[str, object]:
    """Accuracy on the held-out part, list on/off, each issue alone or all together."""
    with tempfile.TemporaryDirectory() as tmp:
        write(Path(tmp), "heldout", issues, seed, mix)
        items = load(Path(tmp))
    out: dict[str, object] = {"issues": issues, "seed": seed, "mix": mix}
    print(f"held-out part, {mix} mix:")
    for curated in (True, False):
        for together in (False, True):
            result = score(items, parse_items(items, curated, together))
            mode = "ingest_together" if together else "each_alone"
            key = f"list_{'on' if curated else 'off'}_{mode}"
            out[key] = {
                "articles": result.articles,
                "accuracy": round(result.accuracy, 4),
                "split_articles": result.split_articles,
                "split_accuracy": round(result.split_accuracy, 4),
                "calibration": calibration(result),
            }
            print(
                f"{key:32} {result.right}/{result.articles} = {100 * result.accuracy:.2f} %"
                f"   (publisher split from summary: {100 * result.split_accuracy:.2f} %"
                f" of {result.split_articles})"
            )
            if show:
                print("\n".join("   " + m for m in result.misses))
    return out


def seeds() -> dict[str, object]:
    """Every seed article right, alone and with all seeds' knowledge."""
    expected = json.loads((REPO / "tests" / "fixtures" / "seed_articles.json").read_text())
    paths = sorted((REPO / "seeds").glob("*.txt"))
    right = total = 0
    for together in (False, True):
        known = PublisherKnowledge()
        if together:
            for path in paths:
                add_text_knowledge(known, path.read_text())
        for path in paths:
            issue = parse_issue(path.read_text(), known)
            got = [[a.title, list(a.companies)] for a in issue.articles]
            want = expected[path.name]
            total += len(want)
            right += sum(g == w for g, w in zip(got, want, strict=False))
    print(f"seed articles right: {right}/{total}")
    return {"right": right, "articles": total}


def _tree(commit: str, into: Path) -> Path:
    data = subprocess.run(
        ["git", "-C", str(REPO), "archive", commit], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into


def _ingest_rate(code: Path, corpus: Path, work: Path) -> tuple[float, float]:
    """Articles/s and peak RSS (MB) of one `ingest` of the corpus into a fresh SQLite file."""
    db = work / f"bench-{time.monotonic_ns()}.db"
    env = {**os.environ, "PYTHONPATH": str(code)}
    out = subprocess.run(
        [sys.executable, "-c", INGEST_SNIPPET, str(corpus), f"sqlite:///{db}"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=str(code),
    ).stdout.split()
    db.unlink(missing_ok=True)
    return int(out[0]) / float(out[1]), float(out[2])


PARSE_SNIPPET = """
import sys, time
from pathlib import Path
from bot.digest.companies import PublisherKnowledge
from bot.digest.parsing import add_text_knowledge, parse_issue
texts = [p.read_text() for p in sorted(Path(sys.argv[1]).iterdir()) if p.suffix in (".txt", ".md")]
start = time.process_time()
known = PublisherKnowledge()
for text in texts:
    add_text_knowledge(known, text)
articles = sum(len(parse_issue(text, known).articles) for text in texts)
print(articles, time.process_time() - start)
"""


def _parse_rate(code: Path, corpus: Path) -> float:
    """Articles parsed per CPU second (archive knowledge first, as `ingest FOLDER` parses)."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    out = subprocess.run(
        [sys.executable, "-c", PARSE_SNIPPET, str(corpus)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=str(code),
    ).stdout.split()
    return int(out[0]) / float(out[1])


def parse_speed(baseline: str, days: int, runs: int) -> dict[str, object]:
    """Parsing alone, the baseline commit's and this tree's, alternating; the median of each."""
    # CPU seconds, not wall: on a shared machine the wait for a core is not the parser's.
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        corpus = work / "corpus"
        subprocess.run(
            [sys.executable, str(HERE / "generate_corpus.py"), str(corpus), "--days", str(days)],
            check=True,
            capture_output=True,
        )
        old = _tree(baseline, work / "baseline")
        rates: dict[str, list[float]] = {"baseline": [], "this": []}
        for _ in range(runs):
            for name, code in (("baseline", old), ("this", REPO)):
                rates[name].append(round(_parse_rate(code, corpus)))
    median = {k: statistics.median(v) for k, v in rates.items()}
    ratio = median["this"] / median["baseline"]
    print(
        f"parse of {days} issues: baseline {median['baseline']:.0f} articles/CPU-s,"
        f" this tree {median['this']:.0f} ({100 * ratio:.1f} % of baseline, median of {runs})"
    )
    return {
        "baseline_commit": baseline,
        "days": days,
        "runs": rates,
        "median": median,
        "ratio": round(ratio, 4),
    }


def ingest_speed(baseline: str, days: int) -> dict[str, object]:
    """Ingest articles/s of the baseline commit and of this tree, same corpus, alternating."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        corpus = work / "corpus"
        subprocess.run(
            [sys.executable, str(HERE / "generate_corpus.py"), str(corpus), "--days", str(days)],
            check=True,
            capture_output=True,
        )
        old = _tree(baseline, work / "baseline")
        rates: dict[str, list[float]] = {"baseline": [], "this": []}
        peaks: dict[str, float] = {"baseline": 0.0, "this": 0.0}
        for _ in range(2):
            for name, code in (("baseline", old), ("this", REPO)):
                rate, peak = _ingest_rate(code, corpus, work)
                rates[name].append(round(rate))
                peaks[name] = max(peaks[name], round(peak, 1))
    best = {k: max(v) for k, v in rates.items()}
    ratio = best["this"] / best["baseline"]
    print(
        f"ingest of {days} issues (SQLite): baseline {best['baseline']:.0f} articles/s,"
        f" this tree {best['this']:.0f} articles/s ({100 * ratio:.1f} % of baseline);"
        f" peak RSS {peaks['baseline']:.0f} / {peaks['this']:.0f} MB"
    )
    return {
        "baseline_commit": baseline,
        "days": days,
        "runs": rates,
        "best": best,
        "ratio": round(ratio, 4),
        "peak_rss_mb": peaks,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and store its results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--baseline", help="commit to compare ingest speed with")
    parser.add_argument("--days", type=int, default=300, help="corpus size for the ingest timing")
    parser.add_argument("--show-misses", action="store_true", help="not while tuning")
    parser.add_argument("--parse-runs", type=int, default=5, help="parse timings of each tree")
    args = parser.parse_args(argv)
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    results: dict[str, object] = {
        "commit": commit,
        "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}",
        "heldout": heldout(args.issues, args.seed, args.show_misses),
        "heldout_outside": heldout(args.issues, args.seed, args.show_misses, "outside"),
        "seeds": seeds(),
    }
    if args.baseline:
        results["parse"] = parse_speed(args.baseline, args.days, args.parse_runs)
        results["ingest"] = ingest_speed(args.baseline, args.days)
    out = HERE / "results" / "attribution.json"
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"-> {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
