"""Retries: a 429 or a 5xx costs time, not the answer; nothing is ever sent twice."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest

from bot.core.library import Library
from bot.tg.retry import MaybeDelivered, RetryingRequest
from tests.auxil.bot_api import BOT_TOKEN, JSONDict, RecordingRequest, make_message_update
from tests.auxil.fake_server import DROP, FakeBotApiServer, Fault
from tests.conftest import polling

QUESTION = "When is the last ferry crossing?"
ANSWER = "The <b>last crossing</b> leaves Pier 3 at 22:10."
APOLOGY = "Sorry, something went wrong"
HELP = "Send me a question"
FAST = (0.01, 0.01, 0.01)


async def settled(server: FakeBotApiServer) -> None:
    """Wait until chat 1's earlier updates are handled: a chat's updates are handled in order,
    so once a later /help there is answered, nothing more will come of the earlier ones."""
    server.push_update(make_message_update("/help", chat_id=1))
    await server.wait_for_call("sendMessage", is_help, timeout=20)


def is_help(params: JSONDict) -> bool:
    return str(params["text"]).startswith(HELP)


def texts(server: FakeBotApiServer) -> list[str]:
    """What chat 1 received, but the reply to settled()'s /help."""
    return [p["text"] for p in server.delivered() if p["chat_id"] == 1 and not is_help(p)]


async def test_two_429s_then_success_answers_once(
    fake_server: FakeBotApiServer, library: Library, tmp_path: Path
) -> None:
    fake_server.inject("sendMessage", Fault.too_many_requests(1), Fault.too_many_requests(1))
    async with polling(fake_server, library, tmp_path):
        fake_server.push_update(make_message_update(QUESTION))
        await settled(fake_server)
    sends = [c for c in fake_server.calls if c.method == "sendMessage" and not is_help(c.params)]
    assert [c.status for c in sends] == [429, 429, 200]
    [answer] = texts(fake_server)
    assert ANSWER in answer


async def test_a_500_is_retried_not_apologised_for(
    fake_server: FakeBotApiServer, library: Library, tmp_path: Path
) -> None:
    fake_server.inject("sendMessage", Fault(500), Fault(502, "Bad Gateway"))
    async with polling(fake_server, library, tmp_path):
        fake_server.push_update(make_message_update(QUESTION))
        await settled(fake_server)
    [answer] = texts(fake_server)
    assert ANSWER in answer


async def test_an_answer_lost_after_every_retry_is_apologised_for(
    fake_server: FakeBotApiServer, library: Library, tmp_path: Path
) -> None:
    fake_server.inject("sendMessage", *[Fault(500)] * (len(FAST) + 1))
    async with polling(fake_server, library, tmp_path):
        fake_server.push_update(make_message_update(QUESTION))
        await settled(fake_server)
    [apology] = texts(fake_server)
    assert apology.startswith(APOLOGY)


async def test_a_send_whose_answer_was_lost_is_neither_repeated_nor_apologised_for(
    fake_server: FakeBotApiServer, library: Library, tmp_path: Path
) -> None:
    fake_server.inject("sendMessage", DROP)
    async with polling(fake_server, library, tmp_path):
        fake_server.push_update(make_message_update(QUESTION))
        await settled(fake_server)
    sends = [c for c in fake_server.calls if c.method == "sendMessage" and not is_help(c.params)]
    assert len(sends) == 1  # delivered as far as Telegram is concerned: not sent again
    assert ANSWER in sends[0].params["text"]


def failure(kind: type[NetworkError], cause: Exception) -> NetworkError:
    """A PTB error as HTTPXRequest raises it: with the httpx exception as its cause."""
    error = kind("failed")
    error.__cause__ = cause
    return error


READ_TIMEOUT: Callable[[], NetworkError] = lambda: failure(TimedOut, httpx.ReadTimeout("r"))  # noqa: E731
CONNECT_ERROR: Callable[[], NetworkError] = lambda: failure(  # noqa: E731
    NetworkError, httpx.ConnectError("refused")
)


async def no_wait(_seconds: float) -> None:
    await asyncio.sleep(0)


async def call(request: BaseRequest, method: str) -> tuple[int, bytes]:
    return await request.do_request(f"http://127.0.0.1/bot{BOT_TOKEN}/{method}", "POST")


def flaky(method: str, *failures: Exception) -> RecordingRequest:
    """A request whose next calls to ``method`` fail with ``failures``, then succeed."""
    request = RecordingRequest()
    request.raises[method] = list(failures)
    return request


async def test_a_timed_out_send_is_not_repeated() -> None:
    inner = flaky("sendMessage", READ_TIMEOUT())
    with pytest.raises(MaybeDelivered):
        await call(RetryingRequest(inner, sleep=no_wait), "sendMessage")
    assert len(inner.calls) == 1


@pytest.mark.parametrize("method", ["editMessageText", "getMe", "setMyCommands"])
async def test_a_timed_out_repeatable_call_is_retried(method: str) -> None:
    inner = flaky(method, READ_TIMEOUT(), READ_TIMEOUT())
    await call(RetryingRequest(inner, sleep=no_wait), method)
    assert len(inner.calls) == 3


async def test_a_send_that_never_connected_is_retried_a_bounded_number_of_times() -> None:
    inner = flaky("sendMessage", CONNECT_ERROR(), CONNECT_ERROR())
    await call(RetryingRequest(inner, sleep=no_wait), "sendMessage")
    assert len(inner.calls) == 3
    inner = flaky("sendMessage", *[CONNECT_ERROR() for _ in range(10)])
    with pytest.raises(NetworkError, match="failed"):
        await call(RetryingRequest(inner, delays=(0, 0), sleep=no_wait), "sendMessage")
    assert len(inner.calls) == 3
