"""No secret in any log line or error message, whatever the level and whichever library logs."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from bot.logs import MASK, OneLineFailures, Redactor, token_secrets
from tests.auxil.bot_api import BOT_TOKEN, make_message_update
from tests.auxil.fake_server import FakeBotApiServer
from tests.auxil.serving import Bot

SECRET = BOT_TOKEN.partition(":")[2]


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose one handler masks the token, and what it wrote."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(Redactor(token_secrets(BOT_TOKEN)))
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, out
    logger.removeHandler(handler)


def test_the_token_is_masked_in_messages_args_and_tracebacks(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = logged
    logger.debug("Set Bot API URL: %s", f"https://api.telegram.org/bot{BOT_TOKEN}")
    logger.info(f"secret half alone: {SECRET}")
    try:
        raise ValueError(f"The token `{BOT_TOKEN}` was rejected by the server.")
    except ValueError:
        logger.exception("start-up failed")
    logger.warning("stack", stack_info=True, extra={"token": BOT_TOKEN})
    text = out.getvalue()
    assert SECRET not in text
    assert f"Set Bot API URL: https://api.telegram.org/bot{MASK}" in text
    assert f"The token `{MASK}` was rejected" in text
    assert "Traceback" in text


def test_passing_failures_are_one_line_and_bugs_keep_their_traceback() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(OneLineFailures())
    handler.addFilter(Redactor(token_secrets(BOT_TOKEN)))
    logger = logging.getLogger("tests.one_line")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        for error in (
            TimedOut(),
            RetryAfter(1),
            NetworkError(f"httpx.ConnectError: bot{BOT_TOKEN}"),
            BadRequest("Message is too long"),
            KeyError("bug"),
        ):
            try:
                raise error
            except Exception:
                logger.exception("sending failed")
    finally:
        logger.removeHandler(handler)
    lines = out.getvalue().splitlines()
    assert lines[0] == "sending failed: TimedOut: Timed out"
    assert lines[1].startswith("sending failed: RetryAfter: Flood control exceeded. Retry in ")
    assert lines[2] == f"sending failed: NetworkError: httpx.ConnectError: bot{MASK}"
    assert lines[3] == "sending failed"  # a 400 is a bug: its traceback follows
    assert lines[4].startswith("Traceback")
    assert out.getvalue().count("Traceback") == 2


def test_a_short_or_missing_token_masks_what_there_is() -> None:
    assert token_secrets(None) == []
    assert token_secrets("abc") == ["abc"] * 3
    assert Redactor(token_secrets("1:abcdefghij")).redact("bot1%3Aabcdefghij") == f"bot{MASK}"
    assert Redactor(token_secrets("abc")).redact("xabcx") == f"x{MASK}x"


async def test_debug_logs_of_a_failing_request_hold_no_token(
    fake_server: FakeBotApiServer, bots: list[Bot], tmp_path: Path
) -> None:
    fake_server.errors["sendMessage"] = (400, f"Bad Request: token {BOT_TOKEN} in the reply")
    bot = Bot(fake_server, tmp_path, env={"LOG_LEVEL": "DEBUG"})
    bots.append(bot)
    await fake_server.wait_for_call("getUpdates", timeout=30)
    fake_server.push_update(make_message_update("When is the last ferry crossing?"))
    await fake_server.wait_for_call("sendMessage", timeout=15)
    stderr = bot.stop()
    assert "Set Bot API URL" in stderr  # PTB's own debug line, masked
    assert "in the reply" in stderr
    assert SECRET not in stderr


async def test_a_rejected_token_exits_2_with_one_line_and_no_token(
    bots: list[Bot], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with FakeBotApiServer(token="999:another-bots-token") as server:
        bot = Bot(server, tmp_path, env={"LOG_LEVEL": "DEBUG"})
        bots.append(bot)
        code, stdout, stderr = bot.wait()
    assert code == 2
    assert SECRET not in stdout + stderr
    assert "Traceback" in stderr  # at DEBUG the traceback is shown, masked
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: Telegram rejected TELEGRAM_BOT_TOKEN")
