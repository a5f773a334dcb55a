"""A fake Telegram Bot API HTTP server on 127.0.0.1 for driving PTB's real HTTPXRequest."""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import itertools
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .bot_api import (
    BOT_TOKEN,
    MESSAGE_CREATING_METHODS,
    ApiCall,
    JSONDict,
    build_response,
    error_payload,
)

__all__ = ["DROP", "STRING_PARAMS", "FakeBotApiServer", "Fault", "decode_form_value"]

_LOGGER = logging.getLogger(__name__)

_PATH_RE = re.compile(r"/bot(?P<token>[^/]+)/(?P<method>[^/]+)")

# Parameters that are strings in the Bot API. Form bodies carry no types, so every other value
# is JSON-decoded (PTB JSON-encodes all non-string values); these must stay strings even when
# they look like JSON ("123", "true", "[draft]").
STRING_PARAMS = frozenset(
    {
        "action",
        "business_connection_id",
        "callback_query_id",
        "caption",
        "custom_title",
        "description",
        "emoji",
        "inline_message_id",
        "inline_query_id",
        "ip_address",
        "language_code",
        "message_effect_id",
        "name",
        "next_offset",
        "parse_mode",
        "query",
        "secret_token",
        "short_description",
        "text",
        "title",
        "url",
    }
)

_CONFLICT = error_payload(
    409,
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running",
)


@dataclass(frozen=True, slots=True)
class Fault:
    """One failure to answer a call with, instead of its result (see FakeBotApiServer.inject).

    ``status`` 0 drops the connection without an answer, after the call was handled: the client
    can't tell whether it took effect, as when a connection breaks mid-reply.
    """

    status: int = 500
    description: str = "Internal Server Error"
    retry_after: int | None = None

    @classmethod
    def too_many_requests(cls, retry_after: int) -> Fault:
        return cls(429, f"Too Many Requests: retry after {retry_after}", retry_after)


DROP = Fault(0, "connection dropped")


def decode_form_value(name: str, value: str) -> Any:
    """Decode one form field the way the Bot API would for the common parameter types."""
    if name in STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # e.g. chat_id="@channelname"


def _parse_multipart(content_type: str, body: bytes) -> JSONDict:
    # email handles multipart/form-data; the cgi module would warn (deprecated) and
    # filterwarnings=error turns that into a failure.
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    params: JSONDict = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        filename = part.get_filename()
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if filename is None:
            params[name] = decode_form_value(name, data.decode())
        else:
            params[name] = {"filename": filename, "mime_type": part.get_content_type()}
    return params


class _HTTPServer(ThreadingHTTPServer):
    # Handler threads are joined by server_close() (block_on_close); daemon only as a last
    # resort so a stuck thread can never keep the test process alive.
    daemon_threads = True
    # Like Telegram, accept a burst of connections: socketserver's default backlog of 5 resets
    # the rest, which a client can't tell from a reply lost after the call took effect.
    request_queue_size = 1024
    fake: FakeBotApiServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (PTB cancels its long poll on stop) is normal, not an error.
        pass


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so no idle keep-alive thread is left to reap.
    protocol_version = "HTTP/1.0"
    # Socket timeout: a stalled client cannot pin a handler thread (and stop()) forever.
    timeout = 10
    server: _HTTPServer

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        _LOGGER.debug("%s " + format, self.address_string(), *args)

    def _dispatch(self) -> None:
        fake = self.server.fake
        url = urlsplit(self.path)
        match = _PATH_RE.fullmatch(url.path)
        if match is None:
            self._send(404, error_payload(404, "Not Found"))
            return
        if match["token"] != fake.token:
            self._send(401, error_payload(401, "Unauthorized"))
            return
        try:
            params = {k: decode_form_value(k, v) for k, v in parse_qsl(url.query)}
            params.update(self._body_params())
            status, payload = fake.handle(match["method"], params)
        except Exception as exc:  # a harness bug: show it to the client instead of hanging
            _LOGGER.exception("fake Bot API failed")
            status, payload = 500, error_payload(500, f"fake Bot API failed: {exc!r}")
        if status == DROP.status:
            self.close_connection = True  # hang up without a word
            return
        self._send(status, payload)

    def _body_params(self) -> JSONDict:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if not body:
            return {}
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("application/json"):
            decoded = json.loads(body)
            if not isinstance(decoded, dict):
                raise ValueError("JSON body must be an object")
            return decoded
        if content_type.startswith("multipart/form-data"):
            return _parse_multipart(content_type, body)
        # PTB's HTTPXRequest: application/x-www-form-urlencoded.
        pairs = parse_qsl(body.decode(), keep_blank_values=True)
        return {k: decode_form_value(k, v) for k, v in pairs}

    def _send(self, status: int, payload: JSONDict) -> None:
        body = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away (e.g. a cancelled long poll)


class FakeBotApiServer:
    """A fake Bot API over real HTTP on 127.0.0.1 (OS-chosen port), served by a thread.

    Use as ``with FakeBotApiServer() as server:`` or ``start()`` / ``stop()``; point PTB at it
    with ``ApplicationBuilder().token(BOT_TOKEN).base_url(server.base_url)``.
    ``getUpdates`` long-polls the updates given to :meth:`push_update`; every other method is
    answered by ``fake_result``. All calls (with decoded params) are recorded in :attr:`calls`.
    """

    def __init__(self, token: str = BOT_TOKEN, *, first_message_id: int = 1000) -> None:
        self.token = token
        self.errors: dict[str, tuple[int, str]] = {}
        # Called for each call with no fault queued by inject(): a fault to answer it with, or
        # None. Runs in the server's handler threads.
        self.chaos: Callable[[str], Fault | None] | None = None
        # Called with each call once it is answered, in the server's handler threads.
        self.listeners: list[Callable[[ApiCall], None]] = []
        self._faults: dict[str, deque[Fault]] = {}
        self._calls: list[ApiCall] = []
        self._updates: list[JSONDict] = []
        self._message_ids = itertools.count(first_message_id)
        self._cond = threading.Condition()
        self._poll_generation = 0
        self._stopping = False
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> FakeBotApiServer:
        """Bind 127.0.0.1 on a free port and serve in a background thread."""
        if self._httpd is not None:
            raise RuntimeError("FakeBotApiServer already started")
        httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        httpd.fake = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            # Short poll interval keeps stop() prompt (shutdown waits for one poll cycle).
            kwargs={"poll_interval": 0.05},
            name=f"FakeBotApiServer:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Wake pending long polls, stop serving and join every thread the server started."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()  # joins the handler threads
        if self._thread is not None:
            self._thread.join()
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeBotApiServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The TCP port chosen by the OS."""
        if self._httpd is None:
            raise RuntimeError("FakeBotApiServer is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url()`` or ``Bot(base_url=)``; PTB appends the token."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url()`` (file downloads are not served)."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    # ---------------------------------------------------------------- test API

    def inject(self, method: str, *faults: Fault) -> None:
        """Answer the next calls to ``method`` with ``faults``, one each, then as usual."""
        with self._cond:
            self._faults.setdefault(method, deque()).extend(faults)

    def delivered(self, method: str = "sendMessage") -> list[JSONDict]:
        """Params of every call to ``method`` that succeeded (or may have: a dropped answer)."""
        return [c.params for c in self.calls if c.method == method and c.status in (200, 0)]

    def push_update(self, update: JSONDict) -> None:
        """Queue an Update dict for getUpdates; wakes a waiting long poll at once."""
        # Round-trip now so a non-JSON update fails in the test, not in the server thread.
        update = json.loads(json.dumps(update))
        if not isinstance(update.get("update_id"), int):
            raise ValueError("update needs an integer update_id")
        with self._cond:
            self._updates.append(update)
            self._cond.notify_all()

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed by a getUpdates offset."""
        with self._cond:
            return list(self._updates)

    @property
    def calls(self) -> list[ApiCall]:
        """A snapshot of every recorded call, in arrival order."""
        with self._cond:
            return list(self._calls)

    @property
    def methods(self) -> list[str]:
        """Names of the called methods, in arrival order."""
        return [call.method for call in self.calls]

    def sent(self, method: str = "sendMessage") -> list[JSONDict]:
        """Params of every recorded call to ``method``, in order."""
        return [call.params for call in self.calls if call.method == method]

    def clear(self) -> None:
        """Forget recorded calls."""
        with self._cond:
            self._calls.clear()

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[JSONDict], bool] | None = None,
        timeout: float = 10.0,
        *,
        start: int = 0,
    ) -> ApiCall:
        """The first call to ``method`` (from index ``start``) whose params satisfy ``predicate``.

        Polls the thread-safe log with ``asyncio.sleep`` so the event loop (and the bot on it)
        keeps running. Raises AssertionError listing the calls seen if none arrives in time.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for call in self.calls[start:]:
                if call.method == method and (predicate is None or predicate(call.params)):
                    return call
            if loop.time() >= deadline:
                raise AssertionError(
                    f"no matching {method} call within {timeout}s; calls: {self.methods}"
                )
            await asyncio.sleep(0.01)

    # ---------------------------------------------------------------- request handling

    def handle(self, method: str, params: JSONDict) -> tuple[int, JSONDict]:
        """Record one call and produce (HTTP status, JSON body). Runs in a handler thread."""
        call = ApiCall(method, params)
        with self._cond:
            self._calls.append(call)
            error = self.errors.get(method)
            faults = self._faults.get(method)
            fault = faults.popleft() if faults else None
            message_id = next(self._message_ids) if method in MESSAGE_CREATING_METHODS else 0
        if fault is None and self.chaos is not None:
            fault = self.chaos(method)
        call.status, payload = self._answer(method, params, error, fault, message_id)
        call.message_id = message_id
        for listener in self.listeners:
            listener(call)
        return call.status, payload

    def _answer(
        self,
        method: str,
        params: JSONDict,
        error: tuple[int, str] | None,
        fault: Fault | None,
        message_id: int,
    ) -> tuple[int, JSONDict]:
        if fault is not None and fault.status != DROP.status:
            return fault.status, error_payload(fault.status, fault.description, fault.retry_after)
        if error is not None:
            return error[0], error_payload(*error)
        if method == "getUpdates":
            return self._get_updates(params)
        try:
            status, payload = build_response(method, params, message_id=message_id)
        except AssertionError:
            return 404, error_payload(404, "Not Found: method not found")
        # A dropped connection: the call took effect, its answer is lost.
        return (DROP.status, payload) if fault is not None else (status, payload)

    def _get_updates(self, params: JSONDict) -> tuple[int, JSONDict]:
        """Long poll: answer once an update >= offset exists, or [] when ``timeout`` expires."""
        offset = int(params.get("offset") or 0)
        timeout = max(0.0, float(params.get("timeout") or 0))
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        allowed = params.get("allowed_updates") or None
        deadline = time.monotonic() + timeout
        with self._cond:
            # Like Telegram, a newer getUpdates ends an older one with 409 Conflict; this also
            # frees the thread of a poll PTB cancelled on stop.
            self._poll_generation += 1
            generation = self._poll_generation
            self._cond.notify_all()
            if offset > 0:  # confirms (forgets) every update below offset
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while True:
                if generation != self._poll_generation:
                    return 409, _CONFLICT
                ready = [u for u in self._updates if allowed is None or _kind(u) in allowed]
                remaining = deadline - time.monotonic()
                if ready or self._stopping or remaining <= 0:
                    return 200, {"ok": True, "result": ready[:limit]}
                self._cond.wait(remaining)


def _kind(update: JSONDict) -> str:
    """The update type ("message", "callback_query", ...): its one key besides update_id."""
    return next((key for key in update if key != "update_id"), "")
