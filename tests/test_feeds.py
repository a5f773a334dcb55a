"""Feeds: RSS and Atom served on 127.0.0.1 (new, repeated, edited, broken, slow, huge entries)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bot.config import Settings
from bot.core.library import Library
from bot.feeds import FeedError, FeedReader, entry_article, parse_feed
from bot.store import Store
from bot.tg.app import App, build_application
from bot.tg.jobs import FEEDS_JOB, read_feeds
from bot.tg.metrics import Metrics
from tests.auxil.bot_api import RecordingRequest, make_message_update
from tests.conftest import feed

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>Harbour news</title><link>https://example.org/</link>
{items}
</channel></rss>"""
SAUNA_ITEM = """<item><title>Harbour sauna opens</title>
<link>https://example.org/news/sauna</link><guid>https://example.org/news/sauna</guid>
<pubDate>Fri, 20 Nov 2026 09:00:00 +0000</pubDate>
<description>&lt;p&gt;The new harbour sauna opens on &lt;b&gt;{day} December&lt;/b&gt; at Pier 7.
&lt;/p&gt;&lt;script&gt;track()&lt;/script&gt;</description></item>"""
MARKET_ITEM = """<item><title>Winter market &amp; lights</title>
<link>https://example.org/news/market</link>
<pubDate>Sat, 21 Nov 2026 10:00:00 +0100</pubDate>
<content:encoded><![CDATA[<h2>Stalls</h2><p>The winter market sells mulled cider.</p>]]>
</content:encoded></item>"""
ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Town hall</title>
<entry><id>tag:example.org,2026:budget</id><title>Budget vote postponed</title>
<link rel="alternate" href="https://example.org/budget"/>
<published>2026-11-25T08:00:00Z</published><updated>2026-11-26T08:00:00Z</updated>
<summary type="html">&lt;p&gt;The council postponed the budget vote to 9 December.&lt;/p&gt;
</summary>
</entry></feed>"""
SAUNA_QUESTION = "When does the harbour sauna open?"
LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY l0 "lol">'
    + "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    + "]><rss><channel><item><title>&l9;</title></item></channel></rss>"
).encode()


@dataclass
class Route:
    body: bytes
    status: int = 200
    delay: float = 0.0
    etag: str | None = None  # sent, and answered with 304 when the client sends it back


class FeedServer:
    """Feeds over HTTP on 127.0.0.1; tests set ``routes[path]``, read ``hits`` and ``statuses``."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: dict[str, int] = {}
        self.statuses: list[int] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                route = server.routes.get(self.path, Route(b"not found", 404))
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                time.sleep(route.delay)
                if route.etag and self.headers.get("If-None-Match") == route.etag:
                    route = Route(b"", 304)
                server.statuses.append(route.status)
                try:
                    self.send_response(route.status)
                    if route.etag:
                        self.send_header("ETag", route.etag)
                    self.send_header("Content-Type", "application/rss+xml")
                    self.send_header("Content-Length", str(len(route.body)))
                    self.end_headers()
                    self.wfile.write(route.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # a client that gave up on a slow feed

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}{path}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FeedServer]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    feeds = FeedServer()
    yield feeds
    feeds.close()


def rss(*items: str) -> bytes:
    return RSS.format(items="\n".join(items)).encode()


def metrics_of(app: App) -> Metrics:
    metrics: Metrics = app.bot_data["metrics"]
    return metrics


def errors(app: App) -> float | None:
    return metrics_of(app).registry.get_sample_value("announcements_bot_feed_errors_total")


async def answer(app: App, request: RecordingRequest, question: str) -> str:
    await feed(app, make_message_update(question))
    text: str = request.sent()[-1]["text"]
    return text


# --- Parsing -----------------------------------------------------------------------------------


def test_rss_items_become_clean_dated_articles() -> None:
    entries = parse_feed(rss(SAUNA_ITEM.format(day=5), MARKET_ITEM))
    sauna, market = (entry_article("https://example.org/feed", e) for e in entries)
    assert sauna is not None
    assert market is not None
    assert sauna.title == "Harbour sauna opens"
    assert sauna.text == "The new harbour sauna opens on 5 December at Pier 7."  # no script
    assert (sauna.date, sauna.url) == (dt.date(2026, 11, 20), "https://example.org/news/sauna")
    assert sauna.id.startswith("feed/example.org/")
    assert market.title == "Winter market & lights"
    assert market.text == "Stalls\n\nThe winter market sells mulled cider."
    assert market.date == dt.date(2026, 11, 21)


def test_atom_entries() -> None:
    (entry,) = parse_feed(ATOM.encode())
    article = entry_article("https://example.org/atom", entry)
    assert article is not None
    assert article.title == "Budget vote postponed"
    assert article.text == "The council postponed the budget vote to 9 December."
    assert (article.date, article.url) == (dt.date(2026, 11, 25), "https://example.org/budget")


def test_an_entry_keeps_its_id_when_edited() -> None:
    first = entry_article("https://e.org/f", parse_feed(rss(SAUNA_ITEM.format(day=5)))[0])
    edited = entry_article("https://e.org/f", parse_feed(rss(SAUNA_ITEM.format(day=6)))[0])
    other_feed = entry_article("https://e.org/g", parse_feed(rss(SAUNA_ITEM.format(day=5)))[0])
    assert first is not None
    assert edited is not None
    assert other_feed is not None
    assert first.id == edited.id != other_feed.id
    assert first.text != edited.text


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<rss><channel><item>", "not XML"),
        (b"<html><body>Moved</body></html>", "not an RSS or Atom feed"),
        (b"\x89PNG\r\n", "not XML"),
        (LAUGHS, "amplification"),  # an entity-expansion bomb is refused, not expanded
    ],
)
def test_broken_feeds_are_errors(data: bytes, reason: str) -> None:
    with pytest.raises(FeedError, match=reason):
        parse_feed(data)


# --- Reading feeds into the running bot --------------------------------------------------------


@pytest.fixture
async def app(
    settings: Settings, library: Library, recording_request: RecordingRequest, server: FeedServer
) -> AsyncIterator[App]:
    feed_settings = dataclasses.replace(settings, feeds=(server.url("/rss"), server.url("/atom")))
    application = build_application(feed_settings, library, request=recording_request)
    async with application:
        recording_request.clear()
        yield application
    application.bot_data["store"].close()


def reader_of(app: App, **kwargs: Any) -> FeedReader:
    """A reader of the app's feeds, its errors counted by the app's metrics."""
    settings: Settings = app.bot_data["settings"]
    return FeedReader(settings.feeds, on_error=metrics_of(app).feed_errors.inc, **kwargs)


async def test_the_feed_job_is_scheduled(app: App) -> None:
    assert app.job_queue is not None
    (job,) = app.job_queue.get_jobs_by_name(FEEDS_JOB)
    assert isinstance(job.data, FeedReader)


async def test_new_repeated_and_edited_entries(
    app: App, recording_request: RecordingRequest, server: FeedServer
) -> None:
    server.routes["/rss"] = Route(rss(SAUNA_ITEM.format(day=5), MARKET_ITEM))
    server.routes["/atom"] = Route(ATOM.encode())
    reader = reader_of(app)
    assert "don't cover" in await answer(app, recording_request, SAUNA_QUESTION)

    added = await read_feeds(app.bot_data, reader)
    assert sorted(a.title for a in added) == [
        "Budget vote postponed",
        "Harbour sauna opens",
        "Winter market & lights",
    ]
    assert "on 5 December at Pier 7" in await answer(app, recording_request, SAUNA_QUESTION)
    store: Store = app.bot_data["store"].store
    assert len(store.articles()) == 3

    library = app.bot_data["library"]
    assert await read_feeds(app.bot_data, reader) == []  # read again: nothing new
    assert app.bot_data["library"] is library

    server.routes["/rss"] = Route(rss(SAUNA_ITEM.format(day=6), MARKET_ITEM))
    (edited,) = await read_feeds(app.bot_data, reader)
    assert edited.title == "Harbour sauna opens"
    reply = await answer(app, recording_request, SAUNA_QUESTION)
    assert "on 6 December at Pier 7" in reply
    assert "5 December" not in reply
    assert len(store.articles()) == 3
    assert len(app.bot_data["library"].articles) == 7 + 3


@pytest.mark.parametrize(
    ("route", "reason"),
    [
        (Route(b"<rss><channel><item>"), "not XML"),
        (Route(b"oops", status=500), "HTTP status 500"),
        (Route(b""), "not XML"),
        (Route(rss(SAUNA_ITEM.format(day=5)), delay=1.0), "no answer within 0.3 s"),
        (Route(rss(*[MARKET_ITEM] * 200)), "larger than 20000 bytes"),
    ],
    ids=["broken", "server-error", "empty", "slow", "huge"],
)
async def test_a_failing_feed_is_logged_once_backs_off_and_recovers(
    app: App,
    server: FeedServer,
    caplog: pytest.LogCaptureFixture,
    route: Route,
    reason: str,
) -> None:
    server.routes["/rss"] = route
    server.routes["/atom"] = Route(ATOM.encode())
    reader = reader_of(app, timeout=0.3, max_bytes=20_000)
    caplog.set_level(logging.INFO, logger="bot.feeds")

    added = await read_feeds(app.bot_data, reader)  # the other feed still works
    assert [a.title for a in added] == ["Budget vote postponed"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert reason in warnings[0]
    assert server.url("/rss") in warnings[0]
    assert errors(app) == 1

    # Failures 2, 3, ...: read at polls 2, 4, 8 (the back-off doubles), logged no more.
    for _ in range(8):
        await read_feeds(app.bot_data, reader)
    assert server.hits["/rss"] == 4
    assert errors(app) == 4
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1

    server.routes["/rss"] = Route(rss(SAUNA_ITEM.format(day=5)))
    for _ in range(8):  # polls 10 to 15 are skipped, poll 16 reads it
        if await read_feeds(app.bot_data, reader):
            break
    assert any("works again" in r.getMessage() for r in caplog.records)
    assert "Harbour sauna opens" in {a.title for a in app.bot_data["library"].articles}


async def test_an_unchanged_feed_is_not_downloaded_again(app: App, server: FeedServer) -> None:
    server.routes["/rss"] = Route(rss(SAUNA_ITEM.format(day=5)), etag='"v1"')
    server.routes["/atom"] = Route(ATOM.encode())
    reader = reader_of(app)
    assert len(await read_feeds(app.bot_data, reader)) == 2
    library = app.bot_data["library"]
    assert await read_feeds(app.bot_data, reader) == []
    assert server.hits["/rss"] == 2
    assert server.statuses.count(304) == 1  # the RSS feed, which sends an ETag
    assert app.bot_data["library"] is library
    assert errors(app) == 0
