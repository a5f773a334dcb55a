"""End to end: the real command, the real Application and HTTP, against a fake Bot API server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import build_application
from bot.config import Settings
from bot.search import Library
from tests.auxil.bot_api import BOT_TOKEN, make_message_update
from tests.auxil.fake_server import FakeBotApiServer
from tests.conftest import DATA


@pytest.fixture
def serve(fake_server: FakeBotApiServer, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """``announcements-bot serve`` in its own process, polling the fake server."""
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": BOT_TOKEN, "DATA_DIR": str(tmp_path)}
    url = fake_server.base_url
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--corpus", str(DATA / "good"), "--base-url", url],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


async def test_question_over_http_is_answered_and_the_bot_stops_cleanly(
    fake_server: FakeBotApiServer, serve: subprocess.Popen[str]
) -> None:
    await fake_server.wait_for_call("getUpdates", timeout=30)
    assert "setMyCommands" in fake_server.methods  # the command menu is published at start-up
    commands = next(c for c in fake_server.calls if c.method == "setMyCommands")
    assert [c["command"] for c in commands.params["commands"]] == [
        "ask",
        "sources",
        "latest",
        "help",
        "start",
    ]

    fake_server.push_update(make_message_update("When does the library open on Sundays?"))
    call = await fake_server.wait_for_call("sendMessage", timeout=15)
    assert call.params["chat_id"] == 1
    assert call.params["text"].startswith(
        "The central <b>library</b> will <b>open</b> on <b>Sundays</b> from 10:00 to 16:00"
    )
    assert call.params["parse_mode"] == "HTML"

    serve.send_signal(signal.SIGINT)
    _, stderr = serve.communicate(timeout=20)
    assert serve.returncode == 0, stderr
    assert "serving 7 announcements" in stderr
    assert BOT_TOKEN not in stderr  # httpx would log it in every request URL


async def test_application_polls_in_process(
    fake_server: FakeBotApiServer, library: Library
) -> None:
    settings = Settings(token=BOT_TOKEN, base_url=fake_server.base_url)
    application = build_application(settings, library)
    async with application:
        assert application.updater is not None
        await application.start()
        await application.updater.start_polling(poll_interval=0, timeout=1)
        fake_server.push_update(make_message_update("/ask fixed charge 12400", chat_id=5))
        call = await fake_server.wait_for_call("sendMessage", timeout=10)
        await application.updater.stop()
        await application.stop()
    assert call.params["chat_id"] == 5
    assert "<b>12,400</b> cents" in call.params["text"]


def test_building_without_a_token_is_refused(library: Library) -> None:
    with pytest.raises(ValueError, match="token"):
        build_application(Settings(token=None), library)
