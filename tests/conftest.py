"""Shared fixtures: the fixture corpus and its library, and a guard that keeps tests offline."""

from __future__ import annotations

import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from telegram import Update
from telegram.error import TelegramError

from bot.config import ENV_NAMES, Settings
from bot.core.corpus import load_corpus
from bot.core.library import Library
from bot.core.semantic import E5Embedder
from bot.store import Store
from bot.tg.app import App, build_application
from tests.auxil.bot_api import BOT_TOKEN, JSONDict, RecordingRequest
from tests.auxil.fake_server import FakeBotApiServer
from tests.auxil.serving import Bot

# Property tests check what is computed, never how fast: on the shared 2-core machine one example
# took longer than hypothesis's default 200 ms deadline and failed a correct run.
hypothesis.settings.register_profile("untimed", deadline=None)
hypothesis.settings.load_profile("untimed")

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parent.parent
SHARED_EVAL = REPO.parent / "shared" / "eval"


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that opens a connection to anything but this machine."""
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in (
            "127.0.0.1",
            "::1",
            "localhost",
        ):
            raise AssertionError(f"test tried to reach the network: {address!r}")
        real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture(scope="session")
def good_dir() -> Path:
    return DATA / "good"


@pytest.fixture(scope="session")
def library(good_dir: Path) -> Library:
    """The library over tests/data/good: seven small articles in four formats, one Chinese."""
    corpus = load_corpus(good_dir)
    assert not corpus.problems
    return Library(corpus.articles)


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Clear the bot's environment variables so a developer's shell can't change a test.

    The commands run lexical (SEMANTIC=off) unless a test says otherwise: embedding the corpus
    again in every test's fresh data directory would cost seconds each, and the semantic stage
    has tests of its own. DATA_DIR is the test's own folder, never the checkout's ./data.
    """
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SEMANTIC", "off")


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A copy of the fixture corpus that a test may change."""
    folder = tmp_path / "corpus"
    shutil.copytree(DATA / "good", folder)
    return folder


@pytest.fixture(scope="session")
def e5() -> E5Embedder:
    """The real model: its weights checked, loaded once for the whole run."""
    return E5Embedder()


@pytest.fixture
def recording_request() -> RecordingRequest:
    return RecordingRequest()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings of a bot with its own data directory, listening to one channel."""
    return Settings(
        token=BOT_TOKEN,
        corpus=DATA / "good",
        data_dir=tmp_path / "data",
        channels=("@examplechannel", "-1009876"),
    )


@pytest.fixture
async def offline_app(
    settings: Settings, library: Library, recording_request: RecordingRequest
) -> AsyncIterator[App]:
    """The real Application over the fixture library, its Bot API calls recorded, never sent."""
    application = build_application(settings, library, request=recording_request)
    async with application:
        recording_request.clear()  # forget getMe: tests look at what the handlers send
        yield application
    application.bot_data["store"].close()


async def feed(application: App, update: JSONDict, *, settle: bool = True) -> None:
    """Run one update through the application's real dispatcher; with ``settle``, also wait for
    the store writes it queued (the answer's record, a vote), as the next update would in life."""
    await application.process_update(Update.de_json(update, application.bot))
    if settle:
        await application.bot_data["store"].flush()


@pytest.fixture
def fake_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBotApiServer]:
    """A fake Bot API server on 127.0.0.1, for tests that go over real HTTP."""
    # httpx honours *_PROXY variables; traffic to the fake server must stay on loopback.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with FakeBotApiServer() as server:
        yield server


@pytest.fixture
def bots() -> Iterator[list[Bot]]:
    """The bots (``serve`` processes) a test starts; each is killed at the end if still running."""
    started: list[Bot] = []
    yield started
    for bot in started:
        bot.kill()


@asynccontextmanager
async def polling(
    server: FakeBotApiServer,
    library: Library,
    tmp_path: Path,
    delays: tuple[float, ...] = (0.01, 0.01, 0.01),
    store: Store | None = None,
) -> AsyncIterator[App]:
    """The real application, polling ``server`` over HTTP in this process."""
    settings = Settings(
        token=BOT_TOKEN, base_url=server.base_url, data_dir=tmp_path, channels=("@examplechannel",)
    )
    application = build_application(settings, library, retry_delays=delays, store=store)
    async with application:
        assert application.updater is not None
        await application.start()

        def polling_error(error: TelegramError) -> None:
            # To the error handler, as run_polling (the serve command) sends them.
            application.create_task(application.process_error(update=None, error=error))

        await application.updater.start_polling(
            poll_interval=0, timeout=1, error_callback=polling_error
        )
        try:
            yield application
        finally:
            await application.updater.stop()
            await application.stop()
    application.bot_data["store"].close()
