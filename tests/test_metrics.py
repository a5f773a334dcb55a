"""/healthz and /metrics, in process and beside a webhook bot run end to end over HTTP."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from bot.__main__ import main
from bot.tg.app import App
from bot.tg.metrics import serve_ops, stop_ops
from tests.auxil.bot_api import BOT_TOKEN, RecordingRequest, make_message_update
from tests.auxil.fake_server import FakeBotApiServer
from tests.auxil.serving import Bot
from tests.conftest import feed
from tests.test_app import ask

SECRET = "hook-secret_0123456789"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def metric(exposition: str, name: str) -> float:
    """The value of an unlabelled sample in Prometheus' text format."""
    for line in exposition.splitlines():
        key, _, value = line.partition(" ")
        if key == name:
            return float(value)
    raise AssertionError(f"{name} not in the exposition")


async def counted(client: httpx.AsyncClient, url: str, name: str, value: float) -> str:
    """The exposition at ``url`` once ``name`` is ``value``: a bot in another process counts a
    question just after its reply is sent, so the reply can arrive first."""
    for _ in range(100):
        text = (await client.get(url)).text
        if metric(text, name) == value:
            return text
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} never reached {value}")


@pytest.fixture
async def ops(offline_app: App) -> AsyncIterator[str]:
    """The offline app's /healthz and /metrics server; its base address."""
    port = serve_ops(offline_app.bot_data, lambda: offline_app.running, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{port}"
    await stop_ops(offline_app.bot_data)


@pytest.fixture
async def client(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


async def test_metrics_after_a_few_questions(
    offline_app: App, ops: str, client: httpx.AsyncClient
) -> None:
    for question in ("When is the last ferry?", "Who won Super Bowl 50?", "Library on Sundays?"):
        await feed(offline_app, make_message_update(question))
    response = await client.get(f"{ops}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert metric(text, "announcements_bot_questions_total") == 3
    assert metric(text, "announcements_bot_answered_total") == 2
    assert metric(text, "announcements_bot_declined_total") == 1
    assert metric(text, "announcements_bot_answer_seconds_count") == 3
    assert metric(text, 'announcements_bot_answer_seconds_bucket{le="+Inf"}') == 3
    assert metric(text, "announcements_bot_articles") == 7
    assert metric(text, "announcements_bot_passages") >= 7
    assert metric(text, "announcements_bot_bot_api_errors_total") == 0
    assert metric(text, "announcements_bot_feed_errors_total") == 0


async def test_bot_api_errors_are_counted(
    offline_app: App, ops: str, client: httpx.AsyncClient, recording_request: RecordingRequest
) -> None:
    recording_request.errors["sendMessage"] = (403, "Forbidden: bot was blocked by the user")
    await feed(offline_app, make_message_update("When is the last ferry?"))
    text = (await client.get(f"{ops}/metrics")).text
    # The answer failed; no apology is tried, to a user who blocked the bot.
    assert recording_request.methods.count("sendMessage") == 1
    assert metric(text, "announcements_bot_bot_api_errors_total") == 1


async def test_healthz_is_ready_once_the_bot_runs(
    offline_app: App, ops: str, client: httpx.AsyncClient
) -> None:
    response = await client.get(f"{ops}/healthz")
    assert (response.status_code, response.json()) == (503, {"status": "starting", "articles": 7})
    await offline_app.start()
    try:
        response = await client.get(f"{ops}/healthz")
        assert (response.status_code, response.json()) == (200, {"status": "ok", "articles": 7})
    finally:
        await offline_app.stop()


@pytest.mark.usefixtures("no_env")
def test_a_webhook_without_a_secret_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", BOT_TOKEN)
    assert main(["serve", "--webhook-url", "https://bot.example.org/hook"]) == 2
    assert "a webhook needs WEBHOOK_SECRET" in capsys.readouterr().err


class WebhookBot(Bot):
    """``announcements-bot serve --webhook-url ...`` in its own process."""

    def __init__(
        self, server: FakeBotApiServer, data_dir: Path, env: dict[str, str] | None = None
    ) -> None:
        self.port, self.metrics_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}/telegram/hook"
        options = [
            *("--webhook-url", self.url, "--listen", "127.0.0.1", "--port", str(self.port)),
            *("--metrics-port", str(self.metrics_port)),
        ]
        environment = {"WEBHOOK_SECRET": SECRET, **(env or {})}
        super().__init__(server, data_dir, options=options, env=environment)


@pytest.fixture
def webhook_bot(fake_server: FakeBotApiServer, tmp_path: Path) -> Iterator[WebhookBot]:
    bot = WebhookBot(fake_server, tmp_path)
    yield bot
    bot.kill()


async def wait_until_healthy(client: httpx.AsyncClient, bot: Bot, metrics_port: int) -> None:
    for _ in range(300):
        assert bot.process.poll() is None, bot.stop()
        try:
            if (await client.get(f"http://127.0.0.1:{metrics_port}/healthz")).is_success:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("the bot never became healthy")


async def test_the_webhook_secret_is_masked_in_debug_logs(
    fake_server: FakeBotApiServer, tmp_path: Path, client: httpx.AsyncClient
) -> None:
    bot = WebhookBot(fake_server, tmp_path, env={"LOG_LEVEL": "DEBUG"})
    try:
        await wait_until_healthy(client, bot, bot.metrics_port)
        assert fake_server.sent("setWebhook")[-1]["secret_token"] == SECRET
    finally:
        stderr = bot.stop()
    assert "setWebhook" in stderr  # PTB's debug line of the call that carries the secret
    assert SECRET not in stderr


async def test_webhook_end_to_end_with_and_without_the_secret(
    fake_server: FakeBotApiServer, webhook_bot: WebhookBot, client: httpx.AsyncClient
) -> None:
    await wait_until_healthy(client, webhook_bot, webhook_bot.metrics_port)
    registered = fake_server.sent("setWebhook")[-1]
    assert registered["url"] == webhook_bot.url
    assert registered["secret_token"] == SECRET

    question = make_message_update("When is the last ferry?", chat_id=9)
    for headers in ({}, {HEADER: "wrong-secret"}):
        response = await client.post(webhook_bot.url, json=question, headers=headers)
        assert response.status_code == 403
    await asyncio.sleep(0.3)
    assert fake_server.sent("sendMessage") == []

    response = await client.post(webhook_bot.url, json=question, headers={HEADER: SECRET})
    assert response.status_code == 200
    call = await fake_server.wait_for_call("sendMessage", timeout=15)
    assert call.params["chat_id"] == 9
    assert "The <b>last</b> crossing leaves Pier 3 at 22:10." in call.params["text"]

    url = f"http://127.0.0.1:{webhook_bot.metrics_port}/metrics"
    metrics = await counted(client, url, "announcements_bot_questions_total", 1)
    assert metric(metrics, "announcements_bot_answered_total") == 1
    stderr = webhook_bot.stop()
    assert webhook_bot.process.returncode == 0, stderr
    assert BOT_TOKEN not in stderr
    assert SECRET not in stderr


@pytest.fixture
def polling_bot(fake_server: FakeBotApiServer, tmp_path: Path) -> Iterator[tuple[Bot, int]]:
    """``serve --metrics-port N`` with long polling; the bot and N."""
    port = free_port()
    bot = Bot(fake_server, tmp_path, options=["--metrics-port", str(port)])
    yield bot, port
    bot.kill()


async def test_metrics_beside_long_polling(
    fake_server: FakeBotApiServer, polling_bot: tuple[Bot, int], client: httpx.AsyncClient
) -> None:
    bot, port = polling_bot
    await wait_until_healthy(client, bot, port)
    assert "<b>last</b> crossing" in await ask(fake_server, "When is the last ferry?")
    url = f"http://127.0.0.1:{port}/metrics"
    metrics = await counted(client, url, "announcements_bot_questions_total", 1)
    assert metric(metrics, "announcements_bot_articles") == 7
    stderr = bot.stop()
    assert bot.process.returncode == 0, stderr
