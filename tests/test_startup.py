"""Errors at start-up and at run time: one line saying what is wrong, and what to do."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.core.library import Library
from bot.logs import Throttle
from tests.auxil.bot_api import make_message_update
from tests.auxil.fake_server import FakeBotApiServer, Fault
from tests.auxil.serving import Bot
from tests.conftest import polling

CONFLICT = Fault(409, "Conflict: terminated by other getUpdates request")


def one_line_failure(bot: Bot) -> str:
    """The bot exits 2 with one line of error and no traceback; returns that line."""
    code, _, stderr = bot.wait()
    assert code == 2, stderr
    assert "Traceback" not in stderr
    [line] = stderr.strip().splitlines()
    assert line.startswith("error: ")
    return line


def a_file(tmp_path: Path) -> Path:
    (tmp_path / "data").write_text("not a folder")
    return tmp_path / "data"


def a_folder_with_notes_for_a_database(tmp_path: Path) -> Path:
    (tmp_path / "announcements.sqlite3").write_text("these are my notes, not a database" * 50)
    return tmp_path


def a_read_only_folder(_tmp_path: Path) -> Path:
    return Path("/sys")  # nobody may create files there, root included (chmod doesn't stop root)


@pytest.mark.parametrize(
    ("make_data_dir", "reason"),
    [
        (a_file, "cannot use the data directory: [Errno 17] File exists"),
        (a_folder_with_notes_for_a_database, "announcements.sqlite3: file is not a database"),
        (a_read_only_folder, "cannot use the data directory: [Errno 13] Permission denied"),
    ],
)
def test_an_unusable_data_dir_is_one_line(
    fake_server: FakeBotApiServer,
    bots: list[Bot],
    tmp_path: Path,
    make_data_dir: Callable[[Path], Path],
    reason: str,
) -> None:
    data = make_data_dir(tmp_path)
    bots.append(bot := Bot(fake_server, data))
    line = one_line_failure(bot)
    assert line.startswith(f"error: {data}")
    assert reason in line
    assert "DATA_DIR must be a writable folder" in line


def test_an_unreachable_base_url_is_one_line(bots: list[Bot], tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/bot"
    with FakeBotApiServer() as server:
        bots.append(bot := Bot(server, tmp_path, base_url=url))
        line = one_line_failure(bot)
    assert f"cannot reach the Bot API at {url}" in line
    assert "Check TELEGRAM_BASE_URL" in line


def test_a_wrong_base_url_is_one_line(
    fake_server: FakeBotApiServer, bots: list[Bot], tmp_path: Path
) -> None:
    wrong = fake_server.base_url.replace("/bot", "/nothing-here/bot")
    bots.append(bot := Bot(fake_server, tmp_path, base_url=wrong))
    assert "Telegram rejected TELEGRAM_BOT_TOKEN" in one_line_failure(bot)


async def test_a_second_instance_on_one_data_dir_is_refused(
    fake_server: FakeBotApiServer, bots: list[Bot], tmp_path: Path
) -> None:
    bots.append(first := Bot(fake_server, tmp_path))
    await fake_server.wait_for_call("getUpdates", timeout=30)
    bots.append(second := Bot(fake_server, tmp_path))
    assert "another `announcements-bot serve` is using this data directory" in one_line_failure(
        second
    )
    assert first.process.poll() is None  # the first one serves on


async def test_a_conflict_is_reported_once_and_polling_goes_on(
    fake_server: FakeBotApiServer,
    library: Library,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_server.inject("getUpdates", CONFLICT, CONFLICT, Fault(502, "Bad Gateway"), Fault(500))
    async with polling(fake_server, library, tmp_path):
        fake_server.push_update(make_message_update("When is the last ferry crossing?"))
        await fake_server.wait_for_call("sendMessage", timeout=30)
    assert caplog.text.count("409 Conflict") == 1
    assert "another process is polling with this bot's token" in caplog.text
    # Two failures of one kind in a row: one line, no traceback.
    assert caplog.text.count("polling for updates failed") == 1
    assert "Traceback" not in caplog.text


def test_throttle_lets_one_line_a_minute_through_and_counts_the_rest() -> None:
    now = [0.0]
    throttle = Throttle(60, clock=lambda: now[0])
    assert throttle("NetworkError") == 0
    assert throttle("NetworkError") is None
    assert throttle("TimedOut") == 0  # another kind has its own minute
    now[0] = 30
    assert throttle("NetworkError") is None
    now[0] = 61
    assert throttle("NetworkError") == 2
