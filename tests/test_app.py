"""End to end: the real command, the real Application and HTTP, against a fake Bot API server."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings
from bot.core.library import Library
from bot.tg.app import build_application
from tests.auxil.bot_api import (
    BOT_TOKEN,
    make_channel_post_update,
    make_inline_query_update,
    make_message_update,
)
from tests.auxil.crash import CRASH_EXIT
from tests.auxil.fake_server import FakeBotApiServer
from tests.auxil.serving import Bot

POST = "Halo S4 launch\nThe Halo S4 thermostat goes on sale on 3 March with a 5-inch screen."
QUESTION = "When does the Halo S4 go on sale?"


def start(bots: list[Bot], server: FakeBotApiServer, data: Path, crash: str | None = None) -> Bot:
    bot = Bot(server, data, crash)
    bots.append(bot)
    return bot


async def ask(server: FakeBotApiServer, question: str, **kwargs: object) -> str:
    mark = len(server.calls)
    server.push_update(make_message_update(question, **kwargs))  # type: ignore[arg-type]
    call = await server.wait_for_call("sendMessage", timeout=15, start=mark)
    text: str = call.params["text"]
    return text


async def test_question_over_http_is_answered_and_the_bot_stops_cleanly(
    fake_server: FakeBotApiServer, bots: list[Bot], tmp_path: Path
) -> None:
    bot = start(bots, fake_server, tmp_path)
    poll = await fake_server.wait_for_call("getUpdates", timeout=30)
    assert set(poll.params["allowed_updates"]) == {
        "message",
        "channel_post",
        "edited_channel_post",
        "inline_query",
        "callback_query",
    }
    commands = next(c for c in fake_server.calls if c.method == "setMyCommands")
    assert [c["command"] for c in commands.params["commands"]] == [
        "ask",
        "sources",
        "latest",
        "help",
        "start",
    ]
    text = await ask(fake_server, "When does the library open on Sundays?")
    assert text.startswith(
        "The central <b>library</b> will <b>open</b> on <b>Sundays</b> from 10:00 to 16:00"
    )
    stderr = bot.stop()
    assert bot.process.returncode == 0, stderr
    assert "serving 7 announcements" in stderr
    assert BOT_TOKEN not in stderr  # httpx would log it in every request URL


async def test_group_channel_and_inline_over_http(
    fake_server: FakeBotApiServer, bots: list[Bot], tmp_path: Path
) -> None:
    start(bots, fake_server, tmp_path)
    await fake_server.wait_for_call("getUpdates", timeout=30)

    # Group chatter that doesn't address the bot gets no call; a mention gets a quoted answer.
    mark = len(fake_server.calls)
    group = {"chat_id": -100555, "chat_type": "supergroup"}
    fake_server.push_update(make_message_update("When is the last ferry crossing?", **group))  # type: ignore[arg-type]
    text = await ask(fake_server, "@AnnouncementsBot lanterns released?", message_id=9, **group)
    assert "About 3,000 <b>lanterns</b>" in text
    sends = [c for c in fake_server.calls[mark:] if c.method == "sendMessage"]
    assert len(sends) == 1
    assert sends[0].params["reply_parameters"]["message_id"] == 9

    # A channel post is searchable at once.
    fake_server.push_update(make_channel_post_update(POST, message_id=51))
    assert "goes on <b>sale</b> on 3 March" in await ask(fake_server, QUESTION)

    # Inline mode answers from the index alone.
    mark = len(fake_server.calls)
    fake_server.push_update(make_inline_query_update("lantern festival"))
    call = await fake_server.wait_for_call("answerInlineQuery", timeout=15, start=mark)
    assert call.params["results"][0]["title"] == "Lantern festival returns to the riverside"


@pytest.mark.parametrize("point", ["before", "after"])
async def test_a_crash_while_storing_a_post_loses_nothing(
    fake_server: FakeBotApiServer, bots: list[Bot], tmp_path: Path, point: str
) -> None:
    crashing = start(bots, fake_server, tmp_path, crash=point)
    await fake_server.wait_for_call("getUpdates", timeout=30)
    fake_server.push_update(make_channel_post_update(POST, message_id=61))
    crashing.process.wait(timeout=20)
    assert crashing.process.returncode == CRASH_EXIT

    # Before storing, Telegram was never told the post arrived and sends it again; after storing,
    # the post is in the data directory. Either way the restarted bot knows it.
    mark = len(fake_server.calls)
    start(bots, fake_server, tmp_path)
    await fake_server.wait_for_call("getUpdates", timeout=30, start=mark)
    assert "goes on <b>sale</b> on 3 March" in await ask(fake_server, QUESTION)


async def test_a_killed_bot_keeps_its_channel_posts(
    fake_server: FakeBotApiServer, bots: list[Bot], tmp_path: Path
) -> None:
    bot = start(bots, fake_server, tmp_path)
    await fake_server.wait_for_call("getUpdates", timeout=30)
    post = make_channel_post_update(POST, message_id=71)
    fake_server.push_update(post)
    # The poll after the one that fetched the post confirms it to Telegram.
    await fake_server.wait_for_call(
        "getUpdates", lambda p: int(p.get("offset", 0)) > post["update_id"], timeout=15
    )
    assert "3 March" in await ask(fake_server, QUESTION)
    bot.kill()  # SIGKILL: no shutdown, no clean-up

    # Telegram won't send the confirmed post again: the restarted bot must have stored it. The
    # question may still be pending if the kill came before the next poll; it is answered again.
    assert not [u for u in fake_server.pending_updates if "channel_post" in u]
    start(bots, fake_server, tmp_path)
    assert "goes on <b>sale</b> on 3 March" in await ask(fake_server, QUESTION)


async def test_application_polls_in_process(
    fake_server: FakeBotApiServer, library: Library, tmp_path: Path
) -> None:
    settings = Settings(token=BOT_TOKEN, base_url=fake_server.base_url, data_dir=tmp_path)
    application = build_application(settings, library)
    async with application:
        assert application.updater is not None
        await application.start()
        await application.updater.start_polling(poll_interval=0, timeout=1)
        fake_server.push_update(make_message_update("/ask fixed charge 12400", chat_id=5))
        call = await fake_server.wait_for_call("sendMessage", timeout=10)
        await application.updater.stop()
        await application.stop()
    application.bot_data["store"].close()
    assert call.params["chat_id"] == 5
    assert "<b>12,400</b> cents" in call.params["text"]


def test_building_without_a_token_is_refused(library: Library) -> None:
    with pytest.raises(ValueError, match="token"):
        build_application(Settings(token=None), library)
