"""Tests proving the fake Bot API harness (tests/auxil) drives real PTB objects offline."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, NoReturn

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, EndPointNotFound, Forbidden, InvalidToken, NetworkError
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

from tests.auxil.bot_api import (
    BOT_TOKEN,
    RecordingRequest,
    make_callback_query_update,
    make_channel_post_update,
    make_inline_query_update,
    make_message_update,
)
from tests.auxil.fake_server import FakeBotApiServer


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # httpx honours *_PROXY env vars; traffic to the fake server must stay on 127.0.0.1.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def fake_server() -> Iterator[FakeBotApiServer]:
    threads_before = set(threading.enumerate())
    with FakeBotApiServer() as server:
        yield server
    leaked = [t for t in threading.enumerate() if t not in threads_before]
    assert not leaked, f"fake server left threads behind: {leaked}"


@pytest.fixture
def recording_request() -> RecordingRequest:
    return RecordingRequest()


@pytest.fixture
async def bot(recording_request: RecordingRequest) -> AsyncIterator[Bot]:
    # A separate request for getUpdates: otherwise Bot builds a (socket-free until used)
    # HTTPXRequest for it.
    async with Bot(
        BOT_TOKEN, request=recording_request, get_updates_request=RecordingRequest()
    ) as bot:
        yield bot


async def _echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    await message.reply_text(f"echo: {message.text}")


async def _welcome(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text("welcome")


def _offline_app(request: RecordingRequest) -> Application[Any, Any, Any, Any, Any, Any]:
    app = (
        Application.builder()
        .token(BOT_TOKEN)
        .request(request)
        .get_updates_request(RecordingRequest())
        .updater(None)
        .build()
    )
    app.add_handler(CommandHandler("start", _welcome))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, _echo))
    return app


# ------------------------------------------------------------------------- RecordingRequest


async def test_recording_request_records_calls(
    bot: Bot, recording_request: RecordingRequest
) -> None:
    assert recording_request.methods == ["getMe"]  # Bot.initialize() verifies the token
    assert bot.username == "AnnouncementsBot"
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Source", callback_data="src:1")]])

    message = await bot.send_message(chat_id=7, text="123", reply_markup=keyboard)

    (params,) = recording_request.sent("sendMessage")
    assert params == {
        "chat_id": 7,
        "text": "123",  # strings stay strings even when they look like JSON
        "reply_markup": {"inline_keyboard": [[{"text": "Source", "callback_data": "src:1"}]]},
    }
    assert message.message_id == 1000
    assert message.text == "123"
    assert message.chat.type == "private"
    assert message.reply_markup == keyboard


async def test_recording_request_errors_and_unknown_methods(
    bot: Bot, recording_request: RecordingRequest
) -> None:
    recording_request.errors["sendMessage"] = (403, "Forbidden: bot was blocked by the user")
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_message(chat_id=7, text="hi")
    recording_request.errors.clear()
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(chat_id=7, text="")
    with pytest.raises(NetworkError, match="sendDocument"):  # PTB wraps our AssertionError
        await bot.send_document(chat_id=7, document=b"abc", filename="notes.txt")
    assert recording_request.calls[-1].method == "sendDocument"
    assert recording_request.calls[-1].params["document"]["filename"] == "notes.txt"


async def test_application_with_recording_request_never_opens_a_socket(
    monkeypatch: pytest.MonkeyPatch, recording_request: RecordingRequest
) -> None:
    attempts: list[object] = []

    def refuse(_sock: socket.socket, address: object) -> NoReturn:
        attempts.append(address)
        raise OSError("socket connect attempted in an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)

    # Control: the guard does catch PTB's real HTTP stack (and so nothing is sent).
    with pytest.raises(NetworkError):
        async with Bot(BOT_TOKEN, base_url="http://127.0.0.1:9/bot"):
            pass
    assert attempts
    attempts.clear()

    app = _offline_app(recording_request)
    async with app:
        for text in ("/start@AnnouncementsBot", "/start", "hello"):
            await app.process_update(Update.de_json(make_message_update(text), app.bot))

    assert attempts == []
    assert [p["text"] for p in recording_request.sent()] == ["welcome", "welcome", "echo: hello"]


# ------------------------------------------------------------------------- update builders


async def test_update_builders_parse_in_ptb(bot: Bot) -> None:
    text = "/ask@AnnouncementsBot 🎉 hi @AnnouncementsBot, mail a@AnnouncementsBot.org"
    message = Update.de_json(make_message_update(text, chat_id=-5, chat_type="group"), bot)
    assert message.message is not None
    entities = message.message.parse_entities()
    # Offsets are UTF-16 code units: PTB slices the emoji-bearing text back correctly.
    assert sorted(entities.values()) == ["/ask@AnnouncementsBot", "@AnnouncementsBot"]
    assert message.message.chat.type == "group"

    post = Update.de_json(make_channel_post_update("news", edited=True), bot)
    assert post.edited_channel_post is not None
    assert post.edited_channel_post.chat.username == "examplechannel"
    photo_post = Update.de_json(make_channel_post_update(caption="look"), bot)
    assert photo_post.channel_post is not None
    assert photo_post.channel_post.caption == "look"

    inline = Update.de_json(make_inline_query_update("exams"), bot)
    assert inline.inline_query is not None
    assert inline.inline_query.query == "exams"

    callback = Update.de_json(make_callback_query_update("src:1"), bot)
    assert callback.callback_query is not None
    assert callback.callback_query.data == "src:1"
    assert isinstance(callback.callback_query.message, Message)
    assert callback.callback_query.message.from_user == bot.bot


# ------------------------------------------------------------------------- FakeBotApiServer


async def test_application_polls_fake_server(fake_server: FakeBotApiServer) -> None:
    app = Application.builder().token(BOT_TOKEN).base_url(fake_server.base_url).build()
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, _echo))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        await fake_server.wait_for_call("getUpdates")
        fake_server.push_update(make_message_update("hello 🎉", chat_id=42))
        call = await fake_server.wait_for_call("sendMessage", timeout=3)
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()

    assert call.params["text"] == "echo: hello 🎉"
    assert call.params["chat_id"] == 42
    assert fake_server.methods[:2] == ["getMe", "deleteWebhook"]
    # Updater.stop() confirms the fetched update with one last non-blocking getUpdates.
    last_poll = fake_server.sent("getUpdates")[-1]
    assert last_poll["timeout"] == 0
    assert fake_server.pending_updates == []
    pending = asyncio.all_tasks() - {asyncio.current_task()}
    assert not [t for t in pending if not t.done()]


async def test_fake_server_decodes_ptb_form_bodies(fake_server: FakeBotApiServer) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Source", callback_data="src:1")]])
    async with Bot(BOT_TOKEN, base_url=fake_server.base_url) as bot:
        message = await bot.send_message(
            chat_id=-100123, text="true", reply_markup=keyboard, reply_to_message_id=5
        )
        with pytest.raises(EndPointNotFound):
            await bot.do_api_request("noSuchMethod")

    params = fake_server.sent()[0]
    assert params["chat_id"] == -100123
    assert params["text"] == "true"
    assert params["reply_markup"] == keyboard.to_dict()
    assert params["reply_parameters"] == {"message_id": 5}
    assert message.chat.type == "supergroup"
    assert message.reply_to_message is not None
    assert fake_server.methods[-1] == "noSuchMethod"


async def test_fake_server_raw_http(fake_server: FakeBotApiServer) -> None:
    root = fake_server.base_url
    async with httpx.AsyncClient(timeout=5) as client:
        wrong = await client.post(f"{root}999:WRONG/getMe")
        as_json = await client.post(
            f"{root}{BOT_TOKEN}/sendMessage", json={"chat_id": 1, "text": "123"}
        )
        by_get = await client.get(f"{root}{BOT_TOKEN}/getChat", params={"chat_id": "@news"})
        unknown = await client.post(f"{root}{BOT_TOKEN}/fooBar")
        multipart = await client.post(
            f"{root}{BOT_TOKEN}/sendMessage",
            data={"chat_id": "5", "text": "with file"},
            files={"document": ("notes.txt", b"abc", "text/plain")},
        )

    assert wrong.status_code == 401
    assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert as_json.json()["result"]["text"] == "123"
    assert by_get.json()["result"]["type"] == "channel"
    assert unknown.status_code == 404
    assert unknown.json()["description"] == "Not Found: method not found"
    assert multipart.json()["result"]["text"] == "with file"
    assert fake_server.methods == ["sendMessage", "getChat", "fooBar", "sendMessage"]
    assert fake_server.sent()[-1] == {
        "chat_id": 5,
        "text": "with file",
        "document": {"filename": "notes.txt", "mime_type": "text/plain"},
    }

    with pytest.raises(InvalidToken, match="rejected"):
        async with Bot("999:WRONG", base_url=root):
            pass


async def test_long_poll_timeout_offset_and_prompt_stop(fake_server: FakeBotApiServer) -> None:
    url = f"{fake_server.base_url}{BOT_TOKEN}/getUpdates"
    async with httpx.AsyncClient(timeout=10) as client:
        started = time.monotonic()
        empty = await client.post(url, data={"timeout": "0.3"})
        assert empty.json()["result"] == []
        assert 0.25 <= time.monotonic() - started < 2

        poll = asyncio.create_task(client.post(url, data={"offset": "0", "timeout": "5"}))
        await fake_server.wait_for_call("getUpdates", start=1)
        fake_server.push_update(make_message_update("hi", update_id=7))
        first = (await asyncio.wait_for(poll, 2)).json()["result"]
        assert [u["update_id"] for u in first] == [7]

        confirmed = await client.post(url, data={"offset": "8", "timeout": "0"})
        assert confirmed.json()["result"] == []
        assert fake_server.pending_updates == []

        # stop() wakes a waiting long poll instead of waiting out its timeout.
        waiting = asyncio.create_task(client.post(url, data={"offset": "8", "timeout": "30"}))
        await fake_server.wait_for_call("getUpdates", start=3)
        started = time.monotonic()
        await asyncio.to_thread(fake_server.stop)
        assert (await asyncio.wait_for(waiting, 2)).json()["result"] == []
        assert time.monotonic() - started < 1
