"""A busy database (another process holding SQLite's write lock) costs buttons, never answers."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.core.library import Library
from bot.store import FILENAME, Store
from bot.tg.app import App, build_application
from tests.auxil.bot_api import (
    RecordingRequest,
    make_bot_message,
    make_callback_query_update,
    make_channel_post_update,
    make_message_update,
)
from tests.auxil.fake_server import FakeBotApiServer
from tests.conftest import feed, polling
from tests.test_buttons import buttons

APOLOGY = "Sorry"
POST = "Halo S4 launch\nThe Halo S4 thermostat goes on sale on 3 March with a 5-inch screen."


@contextmanager
def write_locked(store: Store) -> Iterator[None]:
    """Another connection holds the database's write lock, as a second instance or a backup."""
    with closing(sqlite3.connect(store.path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")


@asynccontextmanager
async def bot(
    settings: Settings, library: Library, busy_timeout: float
) -> AsyncIterator[tuple[App, RecordingRequest, Store]]:
    request = RecordingRequest()
    settings.data_dir.mkdir(parents=True)
    store = Store(settings.data_dir / FILENAME, busy_timeout=busy_timeout)
    application = build_application(settings, library, store=store, request=request)
    async with application:
        request.clear()
        yield application, request, store
    application.bot_data["store"].close()


def sent_to(request: RecordingRequest) -> list[tuple[int, str]]:
    return [(p["chat_id"], p["text"]) for p in request.sent()]


async def test_a_locked_database_holds_up_no_chat(
    settings: Settings, library: Library, caplog: pytest.LogCaptureFixture
) -> None:
    # The write waits out the lock (10 s) on its own thread; the test releases it long before.
    async with bot(settings, library, busy_timeout=10) as (app, request, store):
        await feed(app, make_message_update("free", chat_id=1))
        [earlier] = request.sent()
        request.clear()
        with write_locked(store):
            await feed(app, make_message_update("When is the last ferry crossing?"), settle=False)
            await feed(app, make_message_update("/help", chat_id=2), settle=False)
            await feed(app, make_message_update("lanterns released?", chat_id=3), settle=False)
            # Reads need no write lock: a follow-up and a "More" work while the lock is held.
            reply_to = make_bot_message(earlier["text"], chat_id=1, message_id=1000)
            follow_up = make_message_update("and on Sundays?", chat_id=1, reply_to=reply_to)
            await feed(app, follow_up, settle=False)
            more = make_callback_query_update(buttons(earlier)["More ›"], message=reply_to)
            await feed(app, more, settle=False)
            # Everything was answered while the lock is still held.
            answered = sent_to(request)
            assert [chat for chat, _ in answered] == [1, 2, 3, 1]
            assert not any(text.startswith(APOLOGY) for _, text in answered)
            assert "22:10" in answered[0][1]
            assert "lanterns" in answered[2][1]
            assert request.methods[-2:] == ["editMessageText", "answerCallbackQuery"]
        # Once the lock is gone, the answers are recorded: their buttons work.
        await app.bot_data["store"].flush()
        last: dict[str, Any] = request.sent()[2]
        assert store.answer_by_token(buttons(last)["👍"].split(":")[1]) is not None
    assert "could not store" not in caplog.text


async def test_a_database_that_stays_locked_costs_only_the_buttons(
    settings: Settings, library: Library, caplog: pytest.LogCaptureFixture
) -> None:
    async with bot(settings, library, busy_timeout=0.05) as (app, request, store):
        with write_locked(store):
            await feed(app, make_message_update("free", chat_id=1))  # waits for the failed write
        [answer] = request.sent()
        assert not answer["text"].startswith(APOLOGY)
        assert "could not store an answer (its buttons won't work)" in caplog.text
        assert "database is locked" in caplog.text
        request.clear()
        message = make_bot_message(answer["text"], chat_id=1, message_id=1000)
        await feed(app, make_callback_query_update(buttons(answer)["More ›"], message=message))
        assert request.methods == ["answerCallbackQuery"]
        assert "no longer available" in request.sent("answerCallbackQuery")[0]["text"]


async def test_a_post_that_cannot_be_stored_is_fetched_again_and_polling_goes_on(
    fake_server: FakeBotApiServer,
    library: Library,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (tmp_path / "data").mkdir()
    store = Store(tmp_path / "data" / FILENAME, busy_timeout=0.05)
    async with polling(fake_server, library, tmp_path / "data", store=store):
        with write_locked(store):
            fake_server.push_update(make_channel_post_update(POST, message_id=81))
            # The batch is refused while the post can't be stored: Telegram keeps it.
            await fake_server.wait_for_call("getUpdates", start=len(fake_server.calls) + 1)
            assert fake_server.pending_updates
        mark = len(fake_server.calls)
        fake_server.push_update(make_message_update("When does the Halo S4 go on sale?"))
        call = await fake_server.wait_for_call("sendMessage", timeout=30, start=mark)
        assert [a.id for a in store.articles()] == ["telegram/-1001234567890/81"]
    assert "3 March" in call.params["text"]
    # One line, polls backing off: not a traceback for every poll in a tight loop.
    assert caplog.text.count("channel posts not stored, fetching again") == 1
    assert "Traceback" not in caplog.text
