"""Fit the publisher-split weights by logistic regression on the training part of the dev set.

    .venv/bin/python scripts/fit_publisher_weights.py [--issues 400] [--seed 1] [--write]

Generates the training digests (benchmarks/attribution_devset.py, part `train` of every mix:
invented publishers that share no word with the held-out part), parses them the way the bot
does (alone, and together as one ingest; with and without the curated list), and fits a
conditional logistic regression: each article's candidate cuts compete in a softmax, the right
cut is the label.
L2-regularised, full-batch Adam from zero, so the result is reproducible. `--write` stores the
weights in bot/digest/data/publisher_weights.json. The held-out part is never read here.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO))

from attribution_devset import MIXES, write  # noqa: E402
from attribution_eval import Sample, load, samples  # noqa: E402

from bot.digest.features import FEATURES  # noqa: E402
from bot.digest.publishers import WEIGHTS_FILE  # noqa: E402

L2 = 0.001  # per sample: keeps rare features (curated hits, host matches) from running away


def _arrays(data: list[Sample]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = np.array([row for cands, _ in data for row in cands], dtype=float)
    starts = np.cumsum([0] + [len(c) for c, _ in data[:-1]])
    labels = starts + np.array([y for _, y in data])
    return rows, starts, labels


def _loss_and_gradient(
    w: np.ndarray, rows: np.ndarray, starts: np.ndarray, labels: np.ndarray
) -> tuple[float, np.ndarray]:
    scores = rows @ w
    group = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(rows))))
    top = np.maximum.reduceat(scores, starts)
    exps = np.exp(scores - top[group])
    totals = np.add.reduceat(exps, starts)
    probs = exps / totals[group]
    n = len(starts)
    loss = -np.sum(np.log(probs[labels] + 1e-300)) / n + 0.5 * L2 * float(w @ w)
    target = np.zeros(len(rows))
    target[labels] = 1.0
    grad = rows.T @ (probs - target) / n + L2 * w
    return float(loss), grad


def fit(data: list[Sample], steps: int = 3000, rate: float = 0.05) -> tuple[np.ndarray, float]:
    """Weights minimising the regularised conditional log-loss (Adam, deterministic)."""
    rows, starts, labels = _arrays(data)
    w = np.zeros(rows.shape[1])
    m, v = np.zeros_like(w), np.zeros_like(w)
    loss = 0.0
    for t in range(1, steps + 1):
        loss, g = _loss_and_gradient(w, rows, starts, labels)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w -= rate * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return w, loss


def accuracy(w: np.ndarray, data: list[Sample]) -> float:
    """Share of samples whose right cut scores highest."""
    right = sum(int(np.argmax(np.array(c) @ w)) == y for c, y in data)
    return right / len(data)


def main(argv: list[str] | None = None) -> int:
    """Generate the training part, fit, report, and optionally store the weights."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    data: list[Sample] = []
    for mix in MIXES:  # the first dev set's shapes and the outside writers' (issue 25)
        with tempfile.TemporaryDirectory() as tmp:
            write(Path(tmp), "train", args.issues, args.seed, mix)
            items = load(Path(tmp))
        for curated in (True, False):
            for together in (True, False):
                data += samples(items, curated, together)
    w, loss = fit(data)
    print(
        f"{len(data)} ambiguous lines, log-loss {loss:.4f}, train accuracy {accuracy(w, data):.4f}"
    )
    for name, value in zip(FEATURES, w, strict=True):
        print(f"  {name:28} {value:+.3f}")
    if args.write:
        payload = {
            "features": list(FEATURES),
            "weights": [round(float(x), 4) for x in w],
            "fitted_by": "scripts/fit_publisher_weights.py",
            "train_issues": args.issues,
            "mixes": list(MIXES),
            "seed": args.seed,
            "samples": len(data),
            "log_loss": round(loss, 5),
        }
        WEIGHTS_FILE.write_text(json.dumps(payload, indent=1) + "\n")
        print(f"-> {WEIGHTS_FILE.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
