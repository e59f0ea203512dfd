"""Requests an attacker (or a broken client) sends to /slack/events, over real HTTP.

Each must be refused with a 4xx, cost the served process no memory beyond the body limit, and
leave at most one short line in its log: never the body, never a traceback, never a forged line.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import socket
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support.signing import post, sign, slash_command_body
from test_slack_app import SECRET, Bot, blocks_text, served_bot

from bot.slack.gate import MAX_BODY_BYTES

pytestmark = pytest.mark.slow  # real bot processes

TEN_MB = 10 * 1024 * 1024
# A log line starts with our format's timestamp or with gunicorn's bracketed one.
LINE_START = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} |\[\d{4}-\d{2}-\d{2} )")


@pytest.fixture(scope="module")
def hostile_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Bot, Path]]:
    tmp = tmp_path_factory.mktemp("hostile")
    with served_bot(f"sqlite:///{tmp / 'digest.db'}", tmp) as served:
        yield served, tmp / "serve.log"


def raw_post(
    bot: Bot,
    headers: dict[str, str],
    body: bytes = b"",
    *,
    declared: int | None = None,
    chunked_total: int = 0,
) -> int:
    """POST over a bare socket (any header, any length); the HTTP status the server answers."""
    parsed = urllib.parse.urlsplit(bot.url)
    lines = [f"POST {parsed.path} HTTP/1.1", f"Host: {parsed.netloc}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if chunked_total:
        lines.append("Transfer-Encoding: chunked")
    else:
        lines.append(f"Content-Length: {len(body) if declared is None else declared}")
    with socket.create_connection((parsed.hostname, parsed.port), timeout=20) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        try:
            if chunked_total:
                chunk = b"x" * 65536
                for _ in range(chunked_total // len(chunk)):
                    conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                conn.sendall(b"0\r\n\r\n")
            elif declared is not None and declared > len(body):
                # Send what a flooding client would, until the server answers and stops reading.
                conn.settimeout(0.5)
                sent = 0
                piece = b"y" * 65536
                while sent < declared:
                    conn.sendall(piece)
                    sent += len(piece)
            else:
                conn.sendall(body)
        except OSError:
            pass  # the server answered and closed while we were still sending: expected
        conn.settimeout(20)
        reply = b""
        while b"\r\n" not in reply:
            data = conn.recv(4096)
            if not data:
                break
            reply += data
    return int(reply.split(b" ", 2)[1])


def sign_bytes(body: bytes) -> dict[str, str]:
    """Slack's signature over raw bytes (also bytes that are not UTF-8)."""
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=" + digest.hexdigest()}


def log_size(log: Path) -> int:
    return log.stat().st_size


def wait_quiet() -> None:
    time.sleep(1.1)  # past the refusal log's one-line-a-second window


def served_rss_kb(bot: Bot) -> int:
    """Resident memory of the served process tree (gunicorn master and workers), in kB."""
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            status = (proc / "status").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if int(proc.name) == bot.process.pid or ppid == bot.process.pid:
            total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    return total


def test_oversized_bodies_are_refused_before_being_read(hostile_bot: tuple[Bot, Path]) -> None:
    bot, log = hostile_bot
    wait_quiet()
    before, rss_before = log_size(log), served_rss_kb(bot)
    assert raw_post(bot, {"Content-Type": "application/json"}, declared=TEN_MB) == 413
    assert raw_post(bot, {}, chunked_total=2 * MAX_BODY_BYTES) == 413
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda _: raw_post(bot, {}, declared=TEN_MB), range(20)))
    assert statuses == [413] * 20
    grown = log_size(log) - before
    assert grown < 1000, log.read_text()[before:]
    # Each process reads at most the limit (1 MB), never the 10 MB a client claims to send.
    assert served_rss_kb(bot) - rss_before < 40_000
    # A body just under the limit is read and checked like any other.
    assert raw_post(bot, {}, b"z" * (MAX_BODY_BYTES - 10)) == 401


def test_a_forged_request_costs_one_short_line_without_its_body(
    hostile_bot: tuple[Bot, Path],
) -> None:
    bot, log = hostile_bot
    wait_quiet()
    before = log_size(log)
    body = b"token=x&text=hello\n2026-01-01 00:00:00,000 ERROR bot: FORGED LINE\r\nmore"
    headers = {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=00"}
    assert raw_post(bot, headers, body) == 401
    added = log.read_text()[before:]
    assert added.count("\n") <= 1 and len(added) < 300, added
    assert "FORGED" not in added and "hello" not in added


MALFORMED: list[tuple[str, dict[str, str], bytes]] = [
    ("truncated json", {"Content-Type": "application/json"}, b'{"type": "event_callback", "ev'),
    ("deeply nested json", {"Content-Type": "application/json"}, b"[" * 200_000),
    ("payload not json", {}, b"payload=%7Bnot-json"),
    ("invalid utf-8", {}, b"\xff\xfe\xfa text=\xc3\x28"),
    ("empty body", {}, b""),
]
TIMESTAMPS = ["abc", "", "1.5", "-1", "٣٣٣", "99999999999999999999999", " 1700000000"]


def test_unsigned_malformed_requests_get_401_never_500(hostile_bot: tuple[Bot, Path]) -> None:
    bot, log = hostile_bot
    before = log_size(log)
    now = str(int(time.time()))
    for _name, headers, body in MALFORMED:
        assert raw_post(bot, headers, body) == 401  # no headers at all
        signed_wrong = {**headers, "X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v0=1"}
        assert raw_post(bot, signed_wrong, body) == 401
    for stamp in TIMESTAMPS:
        headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=abc"}
        assert raw_post(bot, headers, b"text=x") == 401
    assert raw_post(bot, {"X-Slack-Signature": "v0=abc"}, b"x") == 401
    assert raw_post(bot, {"X-Slack-Request-Timestamp": now}, b"x") == 401
    assert raw_post(bot, {}, b"x", declared=-1) in (400, 401)
    added = log.read_text(errors="replace")[before:]
    assert "Traceback" not in added and " 500" not in added
    assert len(added) < 2000


def test_signed_but_unreadable_requests_get_400(hostile_bot: tuple[Bot, Path]) -> None:
    bot, log = hostile_bot
    before = log_size(log)
    for _name, headers, body in MALFORMED[:4]:
        assert raw_post(bot, {**headers, **sign_bytes(body)}, body) == 400
    added = log.read_text(errors="replace")[before:]
    assert "Traceback" not in added


def test_every_log_line_is_one_line(hostile_bot: tuple[Bot, Path]) -> None:
    bot, log = hostile_bot
    # Signed, so Bolt handles it and logs the unknown event type it names: a value with line
    # breaks that must not start lines of its own.
    forged = "x\n2026-01-01 00:00:00,000 ERROR bot: FORGED\r\u2028ERROR again\x85done"
    assert bot.event({"type": forged, "user": "U1"}, "EvForged") in (200, 404)
    time.sleep(0.5)
    lines = log.read_text(errors="replace").splitlines()
    assert any("FORGED" in line for line in lines)  # logged (escaped), so this checks something
    for line in lines:
        assert LINE_START.match(line), f"not a log line of its own: {line[:200]!r}"
        assert not line.startswith("2026-01-01 00:00:00,000"), line[:200]


def test_the_bot_still_answers_after_the_attack(hostile_bot: tuple[Bot, Path]) -> None:
    bot, _ = hostile_bot
    assert "Articles by Cloudflare" in blocks_text(bot.command("company cloudflare"))
    body = slash_command_body("help")
    status, raw, _ = post(bot.url, body, sign(body, SECRET))
    assert status == 200 and json.loads(raw)
