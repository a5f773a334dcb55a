"""Settings, read once from the environment into a frozen object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.core.corpus import DEFAULT_PASSAGE_CHARS

REPO_CORPUS = Path(__file__).resolve().parent.parent / "corpus"
TELEGRAM_BASE_URL = "https://api.telegram.org/bot"
# Telegram's own limit on a bot's messages: about 30 a second over all chats.
DEFAULT_RATE_LIMIT = 30


class ConfigError(ValueError):
    """A setting has a value the bot cannot use; the message names it."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the bot reads from its environment. See the README's configuration table."""

    token: str | None = field(default=None, repr=False)  # never printed: it is a password
    corpus: Path = REPO_CORPUS
    base_url: str = TELEGRAM_BASE_URL
    data_dir: Path = Path("data")
    channels: tuple[str, ...] = ()
    passage_chars: int = DEFAULT_PASSAGE_CHARS
    log_level: str = "INFO"
    rate_limit: int = DEFAULT_RATE_LIMIT  # messages a second over all chats; 0: no limits
    semantic: bool = True  # the semantic stage (SEMANTIC=off: a purely lexical bot)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from ``env`` (the process environment by default)."""
        env = os.environ if env is None else env
        passage_chars = env.get("PASSAGE_CHARS", str(DEFAULT_PASSAGE_CHARS))
        if not passage_chars.isdigit() or int(passage_chars) < 100:
            raise ConfigError(f"PASSAGE_CHARS must be a whole number >= 100, not {passage_chars!r}")
        rate_limit = env.get("RATE_LIMIT", str(DEFAULT_RATE_LIMIT)).strip()
        if not rate_limit.isdigit():
            raise ConfigError(f"RATE_LIMIT must be a whole number >= 0, not {rate_limit!r}")
        channels = env.get("CHANNELS", "").replace(",", " ").split()
        semantic = env.get("SEMANTIC", "on").strip().casefold() or "on"
        if semantic not in _SWITCH:
            raise ConfigError(f"SEMANTIC must be on or off, not {semantic!r}")
        return cls(
            token=env.get("TELEGRAM_BOT_TOKEN", "").strip() or None,
            corpus=Path(env["CORPUS"]) if env.get("CORPUS") else REPO_CORPUS,
            base_url=env.get("TELEGRAM_BASE_URL", "").strip() or TELEGRAM_BASE_URL,
            data_dir=Path(env.get("DATA_DIR", "").strip() or "data"),
            channels=tuple(channels),
            passage_chars=int(passage_chars),
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
            rate_limit=int(rate_limit),
            semantic=_SWITCH[semantic],
        )


_SWITCH = {"on": True, "off": False, "true": True, "false": False, "1": True, "0": False}
