"""HTTP benchmark: signed /digest round trips against the 80,000-article archive.

    python benchmarks/bench_http.py [--database URL | --corpus DIR] [--clients 20] [--seconds 15]

Serves the bot exactly as production does (`python -m bot serve`: gunicorn gthread over Bolt's
WSGI adapter) with SLACK_API_URL pointed at the Slack stand-in, and beside it, in the same run,
a *floor* app: the same Bolt settings, adapter and server, with a /digest handler that only acks,
and the bot again with its answer cache off (DIGEST_ANSWER_CACHE=0: every request queries).
A separate load process runs N closed-loop clients (keep-alive connections), each sending signed
`/digest topic ...` and `/digest company ...` requests (the archive benchmark's query mix) as
fast as answers come back. The servers are measured in turn, twice each, so drift on a busy
machine hits all of them. Prints p50/p99/throughput per server and query kind, the ratio of the
bot's p99 to the floor's, and writes benchmarks/results/http-<backend>.json.

Without --database the corpus is generated (benchmarks/generate_corpus.py, 3,650 days) and
ingested into a temporary SQLite file first.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
SECRET = "bench-signing-secret"  # noqa: S105  a throwaway secret for loopback only
TOKEN = "xoxb-bench-token"  # noqa: S105

NAMES = ("floor", "bot", "bot_uncached")
TARGET_P99_MS = 100.0
TARGET_RATIO = 1.5


# --- the floor server (child process) ------------------------------------------------------


def floor_server(port: int) -> None:
    """A Bolt app configured like ours whose /digest handler only acks, on the same server."""
    sys.path.insert(0, str(REPO))
    from slack_bolt import Ack, App

    from bot.config import Settings
    from bot.slack.app import make_client
    from bot.slack.server import WSGIApp, make_wsgi_app, serve_http

    settings = Settings()

    def build() -> WSGIApp:
        """Per worker, like the bot: same Bolt options, adapter and server settings."""
        app = App(
            client=make_client(settings),
            signing_secret=SECRET,
            token_verification_enabled=False,
            process_before_response=True,
        )

        @app.command("/digest")
        def ack_only(ack: Ack) -> None:
            ack()

        return make_wsgi_app(app, SECRET)

    serve_http(build, "127.0.0.1", port, workers=settings.web_concurrency)


# --- the load (child process) --------------------------------------------------------------


def load(port: int, queries: list[tuple[str, str]], clients: int, seconds: float) -> None:
    """Closed-loop clients for `seconds`; prints JSON: per request (kind, ms, outcome)."""
    sys.path.insert(0, str(REPO / "tests"))
    from support.signing import sign, slash_command_body

    response_url = os.environ["BENCH_RESPONSE_URL"]
    stop_at = time.perf_counter() + seconds
    records: list[tuple[str, float, str]] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        rng = random.Random(index)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine: list[tuple[str, float, str]] = []
        while time.perf_counter() < stop_at:
            kind, text = rng.choice(queries)
            body = slash_command_body(
                f"{kind} {text}", user_id=f"U{index:04d}", response_url=response_url
            )
            headers = sign(body, SECRET)
            start = time.perf_counter()
            try:
                conn.request("POST", "/slack/events", body=body.encode(), headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as exc:
                mine.append((kind, (time.perf_counter() - start) * 1000, type(exc).__name__))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                continue
            ms = (time.perf_counter() - start) * 1000
            mine.append((kind, ms, outcome(response.status, payload)))
        conn.close()
        with lock:
            records.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(records))


def outcome(status: int, payload: bytes) -> str:
    """'answer' (blocks in the response), 'ack' (empty 200: floor), 'deferred' or an error."""
    if status != 200:
        return f"http {status}"
    if not payload:
        return "ack"
    try:
        message = json.loads(payload)
    except ValueError:
        return "bad json"
    if message.get("blocks"):
        return "answer"
    return "deferred"  # "Looking that up…": the answer follows through response_url


# --- the driver ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit(f"server on port {port} exited with {process.returncode}")
        try:
            url = f"http://127.0.0.1:{port}/healthz"
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server on port {port} never became healthy")


def query_mix(url: str) -> list[tuple[str, str]]:
    """The archive benchmark's weighted company and topic queries, half of each."""
    sys.path.insert(0, str(HERE))
    import bench_archive

    rng = random.Random(3)
    mix: list[tuple[str, str]] = []
    for kind, classes, weights in (
        ("company", bench_archive.company_mix(url), bench_archive.COMPANY_WEIGHTS),
        ("topic", bench_archive.TOPICS, bench_archive.TOPIC_WEIGHTS),
    ):
        names = [c for c in classes if classes[c]]
        for cls in rng.choices(names, [weights[c] for c in names], k=500):
            query = rng.choice(classes[cls]).strip() or "AI"
            mix.append((kind, query[:200]))
    return mix


def run_load(
    port: int, mix: list[tuple[str, str]], clients: int, seconds: float, response_url: str
) -> list[tuple[str, float, str]]:
    mix_file = Path(tempfile.mkstemp(suffix=".json")[1])
    mix_file.write_text(json.dumps(mix))
    try:
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--load-child",
                str(port),
                "--mix",
                str(mix_file),
                "--clients",
                str(clients),
                "--seconds",
                str(seconds),
            ],
            env={**os.environ, "BENCH_RESPONSE_URL": response_url},
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        mix_file.unlink()
    records: list[tuple[str, float, str]] = [tuple(r) for r in json.loads(child.stdout)]  # type: ignore[misc]
    return records


def pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def summarise(records: list[tuple[str, float, str]], seconds: float) -> dict[str, Any]:
    by_kind: dict[str, list[float]] = defaultdict(list)
    outcomes: dict[str, int] = defaultdict(int)
    for kind, ms, result in records:
        by_kind[kind].append(ms)
        outcomes[result] += 1
    every = [ms for _, ms, _ in records]
    summary: dict[str, Any] = {
        "requests": len(records),
        "throughput_rps": round(len(records) / seconds, 1),
        "p50_ms": round(pct(every, 50), 2),
        "p99_ms": round(pct(every, 99), 2),
        "max_ms": round(max(every), 2),
        "outcomes": dict(outcomes),
    }
    for kind, values in sorted(by_kind.items()):
        summary[f"{kind}_p50_ms"] = round(pct(values, 50), 2)
        summary[f"{kind}_p99_ms"] = round(pct(values, 99), 2)
    return summary


def prepare_archive(args: argparse.Namespace, tmp: Path) -> str:
    """The database URL to serve: given, or the generated corpus ingested into SQLite."""
    if args.database:
        return str(args.database)
    sys.path.insert(0, str(HERE))
    import bench_archive

    corpus = args.corpus
    if corpus is None:
        corpus = tmp / "corpus"
        print("generating the corpus ...", flush=True)
        subprocess.run(
            [sys.executable, str(HERE / "generate_corpus.py"), str(corpus), "--days", "3650"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    url = f"sqlite:///{tmp / 'archive.db'}"
    print("ingesting ...", flush=True)
    stats = bench_archive.run_ingest(url, corpus)
    print(f"ingested {stats['articles']} articles", flush=True)
    return url


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database", help="serve this archive (default: generate + ingest)")
    parser.add_argument("--corpus", type=Path, help="ingest this generated corpus")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=15.0, help="per measured phase")
    parser.add_argument("--no-write", action="store_true", help="don't write results/*.json")
    parser.add_argument("--floor-server", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--load-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mix", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor_server:
        floor_server(args.floor_server)
        return 0
    if args.load_child:
        load(args.load_child, json.loads(args.mix.read_text()), args.clients, args.seconds)
        return 0

    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "tests"))
    from rich.console import Console
    from rich.table import Table
    from support.slack_api import SlackStub

    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp_name, SlackStub() as stub:
        tmp = Path(tmp_name)
        url = prepare_archive(args, tmp)
        mix = query_mix(url)
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": stub.url,
            "LOG_LEVEL": "WARNING",
        }
        env.pop("SLACK_APP_TOKEN", None)
        ports = {name: free_port() for name in NAMES}
        serve = [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1"]
        servers = {
            "floor": subprocess.Popen(
                [sys.executable, __file__, "--floor-server", str(ports["floor"])], env=env
            ),
            "bot": subprocess.Popen(serve, env={**env, "PORT": str(ports["bot"])}, cwd=tmp),
            # The same bot with its answer cache off: every request queries the archive.
            "bot_uncached": subprocess.Popen(
                serve,
                env={**env, "PORT": str(ports["bot_uncached"]), "DIGEST_ANSWER_CACHE": "0"},
                cwd=tmp,
            ),
        }
        try:
            for name, process in servers.items():
                wait_healthy(ports[name], process)
            records: dict[str, list[tuple[str, float, str]]] = {name: [] for name in NAMES}
            for name in servers:  # warm-up: connections, caches, statement cache
                run_load(ports[name], mix, args.clients, 3, stub.response_url("warm"))
            for round_ in range(2):
                for name in servers:
                    print(f"round {round_ + 1}: {name} ...", flush=True)
                    records[name] += run_load(
                        ports[name], mix, args.clients, args.seconds, stub.response_url(name)
                    )
        finally:
            for process in servers.values():
                process.terminate()
                process.wait(20)
    results = {name: summarise(recs, 2 * args.seconds) for name, recs in records.items()}
    backend = url.split(":")[0].split("+")[0]
    result: dict[str, Any] = {
        "backend": backend,
        "clients": args.clients,
        "web_concurrency": os.environ.get("WEB_CONCURRENCY", "2 (default)"),
        "seconds_measured_each": 2 * args.seconds,
        **results,
        "p99_ratio_to_floor": round(results["bot"]["p99_ms"] / results["floor"]["p99_ms"], 2),
        "p50_ratio_to_floor": round(results["bot"]["p50_ms"] / results["floor"]["p50_ms"], 2),
        "uncached_p99_ratio_to_floor": round(
            results["bot_uncached"]["p99_ms"] / results["floor"]["p99_ms"], 2
        ),
    }
    result["targets_met"] = {
        "p99_ms < 100": results["bot"]["p99_ms"] < TARGET_P99_MS,
        "p99 within 1.5x floor": result["p99_ratio_to_floor"] <= TARGET_RATIO,
    }

    table = Table(
        title=f"/digest over loopback, {args.clients} concurrent clients, {backend} archive"
    )
    table.add_column("metric")
    table.add_column("floor (ack only)", justify="right")
    table.add_column("bot", justify="right")
    table.add_column("bot, cache off", justify="right")
    for key in (k for k in results["bot"] if k != "outcomes"):
        table.add_row(key, *(str(results[name].get(key, "")) for name in NAMES))
    table.add_row("outcomes", *(str(results[name]["outcomes"]) for name in NAMES))
    Console().print(table)
    Console().print(
        f"p99 ratio bot/floor: {result['p99_ratio_to_floor']} (target <= {TARGET_RATIO}; "
        f"cache off: {result['uncached_p99_ratio_to_floor']}); targets met: "
        f"{result['targets_met']}"
    )
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"http-{backend}.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
