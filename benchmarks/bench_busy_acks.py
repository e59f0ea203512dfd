"""Acks and lookups during an ingest on SQLite, one workspace and many (issue 24, point 10).

    python benchmarks/bench_busy_acks.py [--days 1000] [--interval 0.05]

Serves the bot as production does (`python -m bot serve`, gunicorn over Bolt's WSGI adapter,
SLACK_API_URL at the Slack stand-in) on a SQLite archive, once with SLACK_BOT_TOKEN (one
workspace) and once with SLACK_CLIENT_ID (many: every request is authorized from the stored
installation). While a child process ingests a generated corpus of `--days` files
(`bench_busy.py --ingest-child`, the ingest's own pace, holding SQLite's write lock batch after
batch), this process sends a signed request every `--interval` seconds, in turn: `/digest help`,
`/digest company Cloudflare`, a save reaction (saved before the ack) and `app_home_opened`.
Measured from the first stored file to the end of the ingest: each kind's answer time
(p50/p95/p99/max) and the answers that were not 200. Target: p99 < 200 ms in both modes.
Writes benchmarks/results/busy-acks-sqlite.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from support.served_app import install, reaction, record_post, settings_for  # noqa: E402
from support.signing import event_body, sign, slash_command_body  # noqa: E402
from support.slack_api import SlackStub  # noqa: E402

from bot.core.ingestion import expand_paths, ingest_files  # noqa: E402
from bot.store.db import open_database  # noqa: E402

TARGET_P99_MS = 200.0
SECRET = "bench-signing-secret-0123456789"  # noqa: S105  a test secret
TS = "1790000000.000777"
KINDS = ("help", "company", "reaction", "home")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """`python -m bot serve` on loopback, once /healthz answers."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return process
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise SystemExit(log.read_text()) from None
            time.sleep(0.1)


def request(port: int, kind: str, team: str, n: int, stub: SlackStub) -> tuple[int, float]:
    """One signed request of a kind: (HTTP status, seconds to the answer)."""
    if kind in ("help", "company"):
        body = slash_command_body(
            "help" if kind == "help" else "company Cloudflare",
            team_id=team,
            response_url=stub.response_url("bench"),
        )
    elif kind == "reaction":
        added = "reaction_added" if n % 2 == 0 else "reaction_removed"
        body = event_body(reaction(f"U{n % 40}", "CBUSY", TS, added), f"EvB{n}", team)
    else:
        body = event_body({"type": "app_home_opened", "user": "U1", "tab": "home"}, f"EvH{n}", team)
    data = body.encode()
    headers = sign(body, SECRET)
    call = urllib.request.Request(
        f"http://127.0.0.1:{port}/slack/events", data=data, headers=headers, method="POST"
    )
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(call, timeout=30) as answer:  # noqa: S310
            answer.read()
            status = answer.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    return status, time.perf_counter() - start


def pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def run_mode(mode: str, corpus: Path, tmp: Path, interval: float) -> dict[str, Any]:
    """Serve in one mode on a fresh archive, ingest the corpus beside it, time the requests."""
    path = tmp / f"{mode}.db"
    url = f"sqlite:///{path}"
    database = open_database(url, upgrade=True)
    ingest_files(database, expand_paths([REPO / "seeds"]))
    with SlackStub(lean=True) as stub:
        settings = settings_for(stub, url, many=mode == "many")
        team = "TAAA" if mode == "many" else "T111"
        if mode == "many":
            install(settings, database, team)
        record_post(database, team, "CBUSY", TS)
        database.dispose()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DIGEST_"))}
        env |= {
            "DATABASE_URL": url,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": stub.url,
            "WEB_CONCURRENCY": "1",
            "LOG_LEVEL": "WARNING",
        }
        if mode == "many":
            assert settings.encryption_key is not None
            env |= {
                "SLACK_CLIENT_ID": "1111.2222",
                "SLACK_CLIENT_SECRET": "client-secret-abcdef0123456789",
                "DIGEST_ENCRYPTION_KEY": settings.encryption_key.get_secret_value(),
            }
        else:
            assert settings.slack_bot_token is not None
            env["SLACK_BOT_TOKEN"] = settings.slack_bot_token.get_secret_value()
        port = free_port()
        server = serve(env, port, tmp / f"serve-{mode}.log")
        for n, kind in enumerate(KINDS * 5):  # warm: connections, caches, imports
            request(port, kind, team, 10_000 + n, stub)
        child = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "bench_busy.py"),
                "--ingest-child",
                url,
                str(corpus),
                "new",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        storing = threading.Event()
        lines: list[str] = []

        def read_child() -> None:
            assert child.stdout is not None
            for line in child.stdout:
                if line.strip() == "storing":
                    storing.set()
                lines.append(line)

        threading.Thread(target=read_child, daemon=True).start()
        storing.wait(300)
        times: dict[str, list[float]] = defaultdict(list)
        refused: dict[str, int] = defaultdict(int)
        n = 0
        due = time.perf_counter()
        while child.poll() is None:
            due += interval
            kind = KINDS[n % len(KINDS)]
            status, seconds = request(port, kind, team, n, stub)
            times[kind].append(seconds * 1000)
            if status != 200:
                refused[kind] += 1
            n += 1
            time.sleep(max(0.0, due - time.perf_counter()))
        child.wait()
        server.terminate()
        server.wait(20)
    ingest = json.loads(lines[-1])
    kinds = {
        kind: {
            "requests": len(times[kind]),
            "not_200": refused[kind],
            "p50_ms": pct(times[kind], 50),
            "p95_ms": pct(times[kind], 95),
            "p99_ms": pct(times[kind], 99),
            "max_ms": max(times[kind], default=0.0),
        }
        for kind in KINDS
    }
    every = [t for kind in KINDS for t in times[kind]]
    return {
        "mode": mode,
        "kinds": kinds,
        "p99_ms": pct(every, 99),
        "not_200": sum(refused.values()),
        "ingest_files": len(expand_paths([corpus])),
        "ingest_seconds": ingest["s"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--days", type=int, default=1000, help="files in the ingested corpus")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between requests")
    parser.add_argument("--no-write", action="store_true", help="don't write results/*.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-busy-acks-") as tmp_name:
        tmp = Path(tmp_name)
        corpus = tmp / "corpus"
        generator = [sys.executable, str(HERE / "generate_corpus.py"), str(corpus)]
        subprocess.run([*generator, "--days", str(args.days)], check=True, capture_output=True)
        runs = [run_mode(mode, corpus, tmp, args.interval) for mode in ("one", "many")]
    print(
        f"{'mode':5} {'kind':9} {'n':>5} {'not200':>6} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}"
    )
    for run in runs:
        for kind, k in run["kinds"].items():
            print(
                f"{run['mode']:5} {kind:9} {k['requests']:>5} {k['not_200']:>6} "
                f"{k['p50_ms']:>7.1f} {k['p95_ms']:>7.1f} {k['p99_ms']:>7.1f} {k['max_ms']:>7.1f}"
            )
        print(
            f"{run['mode']:5} {'all':9} p99 {run['p99_ms']:.1f} ms during an ingest of "
            f"{run['ingest_files']} files ({run['ingest_seconds']:.1f} s)"
        )
    result = {
        "backend": "sqlite",
        "benchmark": "busy-acks",
        "machine": f"{os.cpu_count()} cores",
        "interval_s": args.interval,
        "runs": runs,
        "target_p99_ms": TARGET_P99_MS,
        "targets_met": {
            f"{run['mode']}_p99": run["p99_ms"] < TARGET_P99_MS and run["not_200"] == 0
            for run in runs
        },
    }
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / "busy-acks-sqlite.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {out.relative_to(REPO)}")
    missed = [k for k, ok in result["targets_met"].items() if not ok]
    print("targets missed: " + (", ".join(missed) if missed else "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
