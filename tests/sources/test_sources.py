"""New issues arriving by themselves: a watched folder and a feed URL (conditional GET)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bot.sources import Poller, html_to_text
from bot.store.db import Database
from bot.store.queries import get_issue, search_topic

REPO = Path(__file__).resolve().parents[2]
SEED = (REPO / "seeds" / "2026-05-01.txt").read_text()


def test_folder_new_changed_and_bad_files(database: Database, tmp_path: Path, caplog: Any) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "2026-05-01.txt").write_text(SEED)
    poller = Poller(database, str(folder), None)
    first = poller.poll()
    assert [status for _, status in first.ingested] == ["new"]
    again = poller.poll()
    assert (again.ingested, again.failed, again.unchanged) == ([], [], 1)
    (folder / "2026-05-01.txt").write_text(SEED.replace("Switchboard", "Switchyard"))
    assert [status for _, status in poller.poll().ingested] == ["updated"]
    (folder / "junk.txt").write_text("not a digest at all\n")
    caplog.clear()
    bad = poller.poll()
    assert len(bad.failed) == 1 and "junk.txt" in bad.failed[0][0]
    warnings = [r for r in caplog.records if "junk.txt" in r.getMessage()]
    assert len(warnings) == 1
    caplog.clear()
    quiet = poller.poll()  # the same bad file is not retried until it changes
    assert quiet.failed == [] and not [r for r in caplog.records if "junk.txt" in r.getMessage()]
    with database.read() as session:
        issue = get_issue(session, None)
        assert issue is not None and "Switchyard" in " ".join(a.summary for a in issue.articles)


FEED_ENTRY = """<p>Engineering @ Scale — 2026-06-03</p>
<h2>Signal of the Day</h2><p>Feeds &amp; queues matter.</p>
<h2>Deep Dives</h2>
<p><a href="https://example.com/q">Queue Sharding</a> · Initech · <a href="https://example.com/src">Source</a> Teams sharded queues.</p>
<p>Cache Warming · Globex · Source Caches warm faster.</p>
<h2>Patterns Across Companies</h2><p>Everyone shards.</p>"""

RSS = f"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>Engineering @ Scale</title>
<item><guid>issue-2026-06-03</guid><title>Engineering @ Scale — 2026-06-03</title>
<description><![CDATA[{FEED_ENTRY}]]></description></item>
<item><guid>broken</guid><title>Not an issue</title><description>hello</description></item>
</channel></rss>"""


class Feed:
    """A tiny feed server that honours If-None-Match and counts requests."""

    def __init__(self, body: str, content_type: str) -> None:
        self.body, self.content_type, self.etag = body, content_type, '"v1"'
        self.requests: list[dict[str, str]] = []
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                feed.requests.append(dict(self.headers))
                if self.headers.get("If-None-Match") == feed.etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                data = feed.body.encode()
                self.send_response(200)
                self.send_header("Content-Type", feed.content_type)
                self.send_header("ETag", feed.etag)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/feed"


@pytest.fixture
def rss() -> Iterator[Feed]:
    feed = Feed(RSS, "application/rss+xml")
    yield feed
    feed.server.shutdown()


def test_rss_feed_with_conditional_get(database: Database, rss: Feed) -> None:
    poller = Poller(database, None, rss.url)
    first = poller.poll()
    assert [s for _, s in first.ingested] == ["new"] and len(first.failed) == 1
    with database.read() as session:
        issue = get_issue(session, None)
        assert issue is not None and str(issue.date) == "2026-06-03"
        assert issue.signal == "Feeds & queues matter."
        sharding = issue.articles[0]
        assert (sharding.title, sharding.publisher, sharding.url) == (
            "Queue Sharding",
            "Initech",
            "https://example.com/q",
        )
        assert search_topic(session, "caches warm").page.items
    second = poller.poll()
    assert second.ingested == [] and second.failed == []  # 304: nothing re-read, bad entry quiet
    assert rss.requests[-1].get("If-None-Match") == '"v1"'


def test_html_page_of_one_issue(database: Database) -> None:
    feed = Feed(f"<html><body>{FEED_ENTRY}</body></html>", "text/html; charset=utf-8")
    try:
        report = Poller(database, None, feed.url).poll()
        assert [s for _, s in report.ingested] == ["new"]
    finally:
        feed.server.shutdown()


def test_unreachable_feed_is_reported_not_raised(database: Database) -> None:
    report = Poller(database, None, "http://127.0.0.1:9/none").poll()
    assert report.failed and report.ingested == []


def test_html_to_text_keeps_links_and_blocks() -> None:
    text = html_to_text('<h2>Deep Dives</h2><p><a href="https://x.io/a">A</a> · B · Source C.</p>')
    assert text.splitlines() == ["## Deep Dives", "[A](https://x.io/a) · B · Source C."]


def test_two_new_files_of_one_date_in_a_poll_the_later_fails(
    database: Database, tmp_path: Path
) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "a.txt").write_text(SEED)
    (folder / "b.txt").write_text(SEED.replace("Switchboard", "Switchyard"))
    report = Poller(database, str(folder), None).poll()
    assert [status for _, status in report.ingested] == ["new"]
    assert len(report.failed) == 1 and "b.txt" in report.failed[0][0]
    assert "same issue date" in report.failed[0][1]
    with database.read() as session:
        issue = get_issue(session, None)
        assert issue is not None and "Switchyard" not in " ".join(a.summary for a in issue.articles)


def test_an_item_the_database_failed_to_store_is_tried_again(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "2026-05-01.txt").write_text(SEED)
    poller = Poller(database, str(folder), None)
    import bot.core.ingestion

    def unavailable(*_args: object, **_kwargs: object) -> None:
        raise ConnectionError("database went away")

    # The database fails (not the text): every write of the issue raises, as a lost server does.
    with monkeypatch.context() as patch:
        patch.setattr(bot.core.ingestion, "store_paced", unavailable)
        patch.setattr(bot.core.ingestion, "store_issue", unavailable)
        down = poller.poll()
    assert down.ingested == [] and down.failed == [] and down.unchanged == 0
    back = poller.poll()  # not remembered as bad: stored as soon as the database is back
    assert [status for _, status in back.ingested] == ["new"]
    with database.read() as session:
        assert get_issue(session, None) is not None
