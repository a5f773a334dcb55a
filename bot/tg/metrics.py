"""How the bot is doing: every question recorded, Prometheus metrics, and /healthz beside them.

- Each question a chat asks is counted (questions, answered, declined, and the time from the
  update to the reply sent, a histogram) and recorded in the store for /stats and /unanswered:
  queued on the store's writer thread after the reply, like the answer itself, so a busy
  database never holds up a reply.
- Bot API errors are counted by :class:`MeteredRequest`, which wraps the request object, so every
  failed call counts, whichever handler or job made it; feed errors are counted by the feed
  reader (:mod:`bot.tg.feeds`).
- The library's size is read when Prometheus scrapes, never stored twice.

Each application has its own registry (not prometheus_client's global one), so two bots in one
process, as in the tests, keep their own figures. :class:`OpsServer` serves ``/metrics`` and
``/healthz`` on its own port with tornado (which PTB's webhook server already brings): ``/healthz``
answers 200 once the library is loaded and the application running, 503 before.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, MutableMapping
from http import HTTPStatus
from typing import Any

import tornado.httpserver
import tornado.netutil
import tornado.web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from telegram.error import TelegramError
from telegram.request import BaseRequest, RequestData

from bot.core.library import Library
from bot.store import AsyncStore
from bot.tg.retry import WrappedRequest

METRICS = "metrics"  # bot_data keys
OPS_SERVER = "ops_server"
PREFIX = "announcements_bot"


class Metrics:
    """The bot's Prometheus metrics, in a registry of its own, and the question log."""

    def __init__(self, store: AsyncStore) -> None:
        self.store = store
        # The served library, read at each scrape; build_application points it at bot_data.
        self.library: Callable[[], Library | None] = lambda: None
        self.registry = CollectorRegistry()
        self.questions = self._counter("questions", "Questions asked in chats")
        self.answered = self._counter("answered", "Questions answered")
        self.declined = self._counter("declined", "Questions the announcements don't cover")
        self.latency = Histogram(
            f"{PREFIX}_answer_seconds",
            "Time from a question's update to its reply sent",
            registry=self.registry,
        )
        self.api_errors = self._counter("bot_api_errors", "Failed Bot API calls")
        self.feed_errors = self._counter("feed_errors", "Failed feed reads")
        articles = Gauge(f"{PREFIX}_articles", "Announcements served", registry=self.registry)
        articles.set_function(lambda: len(lib) if (lib := self.library()) else 0)
        passages = Gauge(f"{PREFIX}_passages", "Passages indexed", registry=self.registry)
        passages.set_function(lambda: lib.passage_count if (lib := self.library()) else 0)

    def _counter(self, name: str, documentation: str) -> Counter:
        return Counter(f"{PREFIX}_{name}", documentation, registry=self.registry)

    def question_done(self, chat_id: int, question: str, *, answered: bool, seconds: float) -> None:
        """Count a question, whether it was answered, and how long the reply took; queue its
        record (see :meth:`AsyncStore.write_later`)."""
        self.questions.inc()
        (self.answered if answered else self.declined).inc()
        self.latency.observe(seconds)
        self.store.write_later(
            "a question (for /stats)",
            self.store.store.record_question,
            chat_id=chat_id,
            question=question,
            answered=answered,
            seconds=seconds,
        )

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)


class MeteredRequest(WrappedRequest):
    """A request object that counts the Bot API calls that fail, and otherwise is ``inner``."""

    def __init__(self, inner: BaseRequest, errors: Counter) -> None:
        super().__init__(inner)
        self._errors = errors

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> tuple[int, bytes]:
        # BaseRequest.post is final: a failure is seen here, as an error status or an exception.
        try:
            status, body = await self._inner.do_request(url, method, request_data, *args, **kwargs)
        except TelegramError:
            self._errors.inc()
            raise
        if status >= HTTPStatus.BAD_REQUEST:
            self._errors.inc()
        return status, body


class _MetricsHandler(tornado.web.RequestHandler):
    def initialize(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def get(self) -> None:
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.write(self.metrics.exposition())


class _HealthHandler(tornado.web.RequestHandler):
    def initialize(self, metrics: Metrics, running: Callable[[], bool]) -> None:
        self.metrics = metrics
        self.running = running

    def get(self) -> None:
        library = self.metrics.library()
        ready = library is not None and self.running()
        self.set_status(200 if ready else 503)
        self.set_header("Content-Type", "application/json")
        status = {"status": "ok" if ready else "starting", "articles": len(library or ())}
        self.write(json.dumps(status))


class OpsServer:
    """``/healthz`` and ``/metrics`` over HTTP on ``host:port`` (port 0: one the OS picks)."""

    def __init__(self, metrics: Metrics, running: Callable[[], bool]) -> None:
        app = tornado.web.Application(
            [
                (r"/metrics", _MetricsHandler, {"metrics": metrics}),
                (r"/healthz", _HealthHandler, {"metrics": metrics, "running": running}),
            ]
        )
        self._server = tornado.httpserver.HTTPServer(app)
        self._sockets: list[socket.socket] = []

    def start(self, host: str, port: int) -> int:
        """Listen on the running event loop; return the port."""
        self._sockets = tornado.netutil.bind_sockets(port, address=host)
        self._server.add_sockets(self._sockets)
        bound: int = self._sockets[0].getsockname()[1]
        return bound

    async def stop(self) -> None:
        self._server.stop()
        await self._server.close_all_connections()


def serve_ops(
    bot_data: MutableMapping[Any, Any], running: Callable[[], bool], host: str, port: int
) -> int:
    """Start the /healthz and /metrics server of the application whose ``bot_data`` this is."""
    server = OpsServer(bot_data[METRICS], running)
    bound = server.start(host, port)
    bot_data[OPS_SERVER] = server
    return bound


async def stop_ops(bot_data: MutableMapping[Any, Any]) -> None:
    """Stop the server :func:`serve_ops` started, if it did."""
    server: OpsServer | None = bot_data.pop(OPS_SERVER, None)
    if server is not None:
        await server.stop()
