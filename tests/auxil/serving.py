"""``announcements-bot serve`` in its own process, polling a fake Bot API on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.auxil.bot_api import BOT_TOKEN
from tests.auxil.fake_server import FakeBotApiServer

REPO = Path(__file__).resolve().parent.parent.parent
GOOD = REPO / "tests" / "data" / "good"


class Bot:
    """The real command line serving ``server``; ``env`` adds to or overrides its environment,
    ``options`` are more options of ``serve``."""

    def __init__(
        self,
        server: FakeBotApiServer,
        data_dir: Path,
        crash: str | None = None,
        *,
        env: Mapping[str, str] | None = None,
        base_url: str | None = None,
        options: Sequence[str] = (),
    ) -> None:
        environment = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
            "DATA_DIR": str(data_dir),
            "CHANNELS": "@examplechannel",
            "NO_PROXY": "127.0.0.1",
            # Lexical unless a test asks for the model: embedding the corpus in every test's
            # fresh data directory would cost seconds each.
            "SEMANTIC": "off",
            **(env or {}),
        }
        args = [
            "serve",
            "--corpus",
            str(GOOD),
            "--base-url",
            base_url or server.base_url,
            *options,
        ]
        runner = ["-m", "tests.auxil.crash", crash] if crash else ["-m", "bot"]
        self.process = subprocess.Popen(
            [sys.executable, *runner, *args],
            cwd=REPO,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def stop(self) -> str:
        """Stop the bot as Ctrl-C would; return what it logged."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        _, stderr = self.process.communicate(timeout=20)
        return stderr

    def wait(self, timeout: float = 30) -> tuple[int, str, str]:
        """Wait for the bot to exit by itself: its exit code, standard output and error."""
        stdout, stderr = self.process.communicate(timeout=timeout)
        return self.process.returncode, stdout, stderr

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate(timeout=20)
