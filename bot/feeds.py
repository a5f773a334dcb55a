"""News feeds (RSS 2.0 and Atom) as announcements: reading them, and turning entries into articles.

An entry becomes an :class:`Article` whose id is derived from the feed's address and the entry's
``guid`` (Atom: ``id``), else its link: the same entry read again has the same id, so the store's
upsert deduplicates it and an edited entry replaces its earlier version. Its HTML is cleaned by the
corpus' HTML parser; its date is the entry's (``pubDate``, ``published``, ``updated``).

Feeds are parsed with the standard library's ElementTree: it resolves no external entities, and
the expat it is built on (2.4.1 and later, bundled with Python 3.11) refuses entity-expansion
bombs; a feed is also read only up to ``max_bytes``. A feed that fails (network, HTTP status,
timeout, size, XML) is logged once when it starts failing and once when it works again, counted,
and read again only after a back-off that doubles with each failure, up to ``MAX_BACKOFF`` polls.
The feeds are read concurrently, with conditional requests (``ETag``, ``Last-Modified``), and
parsed in a thread: a big feed's XML and HTML take CPU time the event loop can't spare.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import hashlib
import html
import logging
import ssl
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from bot.core.corpus import Article, CorpusError, parse_html

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 20.0
MAX_FEED_BYTES = 5 * 1024 * 1024  # a big newsroom's feed is well under 1 MB
MAX_BACKOFF = 16  # at most this many intervals between two reads of a failing feed
_ATOM = "{http://www.w3.org/2005/Atom}"
_CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"


class FeedError(RuntimeError):
    """A feed could not be read or parsed; the message says why (never with a secret)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One feed entry, before it becomes an article."""

    key: str  # guid, else link, else title: what identifies the entry within its feed
    title: str
    html: str
    link: str | None
    date: dt.date | None


def parse_feed(data: bytes) -> list[Entry]:
    """The entries of an RSS 2.0 or Atom document; FeedError if it is neither."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise FeedError(f"not XML: {exc}") from None
    if root.tag == f"{_ATOM}feed":
        return [_atom_entry(e) for e in root.iter(f"{_ATOM}entry")]
    if root.tag == "rss" or root.find("channel") is not None:
        return [_rss_item(item) for item in root.iter("item")]
    raise FeedError(f"not an RSS or Atom feed (root element {root.tag!r})")


def _text(element: ET.Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _rss_item(item: ET.Element) -> Entry:
    link = _text(item.find("link")) or None
    title = _text(item.find("title"))
    body = _text(item.find(_CONTENT)) or _text(item.find("description"))
    return Entry(
        key=_text(item.find("guid")) or link or title,
        title=title,
        html=body,
        link=link,
        date=_date(_text(item.find("pubDate"))),
    )


def _atom_entry(entry: ET.Element) -> Entry:
    links = entry.findall(f"{_ATOM}link")
    link = next((a.get("href") for a in links if a.get("rel", "alternate") == "alternate"), None)
    title = _text(entry.find(f"{_ATOM}title"))
    body = _text(entry.find(f"{_ATOM}content")) or _text(entry.find(f"{_ATOM}summary"))
    date = _text(entry.find(f"{_ATOM}published")) or _text(entry.find(f"{_ATOM}updated"))
    return Entry(
        key=_text(entry.find(f"{_ATOM}id")) or link or title,
        title=title,
        html=body,
        link=link,
        date=_date(date),
    )


def _date(value: str) -> dt.date | None:
    """RSS dates are RFC 822 ("Mon, 02 Nov 2026 09:00:00 +0000"), Atom's ISO 8601."""
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).date()
    except (TypeError, ValueError):
        pass
    try:
        return dt.datetime.fromisoformat(value).date()
    except ValueError:
        return None  # a feed's dates are too varied to drop the entry for one


def entry_article(feed_url: str, entry: Entry) -> Article | None:
    """The announcement an entry makes; None for an entry with neither title nor text."""
    digest = hashlib.sha256(f"{feed_url}\n{entry.key}".encode()).hexdigest()[:16]
    article_id = f"feed/{urlsplit(feed_url).hostname}/{digest}"
    title = " ".join(html.unescape(entry.title).split())
    try:
        # The body is an HTML fragment (plain text is one too): the corpus' parser drops its
        # markup, scripts and styles, and an <h1> that opens it (the title again).
        text = parse_html(entry.html, article_id).text
    except CorpusError:
        text = ""
    if not (title or text):
        return None
    return Article(
        id=article_id,
        title=title or text.split("\n", 1)[0][:120],
        text=text or title,
        date=entry.date,
        url=entry.link,
    )


@dataclass(slots=True)
class _FeedState:
    failures: int = 0
    skip: int = 0  # polls left to skip before the next read
    etag: str | None = None  # the validators of the last read, for a conditional GET
    modified: str | None = None


class FeedReader:
    """Reads the feeds at each poll; keeps each feed's validators, failures and back-off."""

    def __init__(
        self,
        urls: tuple[str, ...],
        *,
        timeout: float = TIMEOUT_SECONDS,
        max_bytes: int = MAX_FEED_BYTES,
        on_error: Callable[[], None] = lambda: None,
    ) -> None:
        self.urls = urls
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._on_error = on_error
        self._state = {url: _FeedState() for url in urls}
        self._ssl: ssl.SSLContext | None = None  # loading the CA certificates takes a while

    def _client(self) -> httpx.AsyncClient:
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context()
        return httpx.AsyncClient(timeout=self._timeout, follow_redirects=True, verify=self._ssl)

    async def poll(self) -> list[tuple[str, Article]]:
        """Read every feed due, all at once; return (feed address, article) for each entry."""
        async with self._client() as client:
            found = await asyncio.gather(*(self._poll_one(client, url) for url in self.urls))
        return [item for items in found for item in items]

    async def _poll_one(self, client: httpx.AsyncClient, url: str) -> list[tuple[str, Article]]:
        state = self._state[url]
        if state.skip:
            state.skip -= 1
            return []
        try:
            data, etag, modified = await self._fetch(client, url, state)
            # Parsing a big feed takes CPU time: off the event loop.
            articles = [] if data is None else await asyncio.to_thread(_articles, url, data)
        except FeedError as exc:
            self._failed(url, state, str(exc))
            return []
        if state.failures:
            log.info("feed %s works again after %d failures", url, state.failures)
        state.failures = 0
        if data is not None:  # validators of a feed that parsed: a 304 means "still these"
            state.etag, state.modified = etag, modified
        return [(url, article) for article in articles]

    async def _fetch(
        self, client: httpx.AsyncClient, url: str, state: _FeedState
    ) -> tuple[bytes | None, str | None, str | None]:
        """The feed's bytes (None if unchanged since the last read: HTTP 304) and validators."""
        headers = {}
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.modified:
            headers["If-Modified-Since"] = state.modified
        try:
            async with client.stream("GET", url, headers=headers) as response:
                if response.status_code == httpx.codes.NOT_MODIFIED:
                    return None, state.etag, state.modified
                if response.status_code != httpx.codes.OK:
                    raise FeedError(f"HTTP status {response.status_code}")
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data += chunk
                    if len(data) > self._max_bytes:
                        raise FeedError(f"larger than {self._max_bytes} bytes")
                return (
                    bytes(data),
                    response.headers.get("ETag"),
                    response.headers.get("Last-Modified"),
                )
        except httpx.TimeoutException:
            raise FeedError(f"no answer within {self._timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise FeedError(f"cannot connect: {type(exc).__name__}") from None

    def _failed(self, url: str, state: _FeedState, reason: str) -> None:
        self._on_error()
        if state.failures == 0:
            log.warning("cannot read feed %s: %s (retrying with back-off)", url, reason)
        else:
            log.debug("feed %s still failing: %s", url, reason)
        state.failures += 1
        state.skip = min(2 ** (state.failures - 1), MAX_BACKOFF) - 1


def _articles(url: str, data: bytes) -> list[Article]:
    """The announcements of a feed document (blocking: parses XML and HTML)."""
    return [a for entry in parse_feed(data) if (a := entry_article(url, entry)) is not None]
