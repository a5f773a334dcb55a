"""Settings, read once from the environment and an optional TOML file into a frozen object.

Every setting has one name: ``PASSAGE_CHARS`` in the environment, ``passage_chars`` in the TOML
file (``--config``). The environment wins over the file, so a secret can stay out of the file and
a one-off change needs no edit. Every value is checked before the bot starts, and all problems are
reported together in one :class:`ConfigError`, so a broken deployment is fixed in one round.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.core.corpus import DEFAULT_PASSAGE_CHARS

REPO_CORPUS = Path(__file__).resolve().parent.parent / "corpus"
TELEGRAM_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_FEED_INTERVAL = 15 * 60.0  # seconds: a newsroom publishes a few times a day at most
DEFAULT_CORPUS_INTERVAL = 60.0  # seconds between two looks at the corpus folder
DEFAULT_MAX_DOCUMENT_BYTES = 512 * 1024  # an announcement is a page or two, not a book
DEFAULT_PORT = 8443  # one of the four ports Telegram sends webhooks to
MIN_INTERVAL = 10.0  # shorter polls only load the feed's server and the disk
# Telegram's rule for setWebhook's secret_token.
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smh]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}
MASK = "********"
# Telegram's own limit on a bot's messages: about 30 a second over all chats.
DEFAULT_RATE_LIMIT = 30


class ConfigError(ValueError):
    """Settings the bot cannot use; the message lists every problem, one a line."""


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
    admin_ids: frozenset[int] = frozenset()
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES
    feeds: tuple[str, ...] = ()
    feed_interval: float = DEFAULT_FEED_INTERVAL
    corpus_interval: float = DEFAULT_CORPUS_INTERVAL  # 0: the corpus folder is read once
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    listen: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    metrics_port: int | None = None
    rate_limit: int = DEFAULT_RATE_LIMIT  # messages a second over all chats; 0: no limits
    semantic: bool = True  # the semantic stage (SEMANTIC=off: a purely lexical bot)

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, path: Path | None = None) -> Settings:
        """Read the TOML file at ``path`` (if any), then ``env`` over it; check every value.

        Raises :class:`ConfigError` listing every problem found.
        """
        env = os.environ if env is None else env
        problems: list[str] = []
        raw: dict[str, object] = {}
        if path is not None:
            raw.update(_read_toml(path, problems))
        raw.update({key: env[key] for key in _SPECS if env.get(key, "").strip()})
        values: dict[str, Any] = {}
        for key, value in raw.items():
            attribute, parse = _SPECS[key]
            try:
                values[attribute] = parse(value)
            except ValueError as exc:
                problems.append(f"{key} {exc}, not {_shown(key, value)}")
        port, metrics_port = values.get("port", DEFAULT_PORT), values.get("metrics_port")
        if values.get("webhook_url") and metrics_port == port:
            problems.append(f"METRICS_PORT must differ from PORT ({port}): the webhook uses it")
        if problems:
            raise ConfigError("invalid configuration:\n" + "\n".join(f"  {p}" for p in problems))
        return cls(**values)

    def describe(self) -> str:
        """The effective settings as TOML, the token and the webhook secret masked."""
        lines = []
        for key, (attribute, _) in _SPECS.items():
            value = getattr(self, attribute)
            if value is None:
                lines.append(f"# {key.lower()} is not set")
                continue
            if key in _SECRETS:
                value = MASK
            lines.append(f"{key.lower()} = {_toml_value(value)}")
        return "\n".join(lines)


def _read_toml(path: Path, problems: list[str]) -> dict[str, object]:
    """The file's settings by their environment names; unknown keys are problems (typos)."""
    try:
        with path.open("rb") as file:
            table = tomllib.load(file)
    except OSError as exc:
        problems.append(f"{path}: cannot read: {exc.strerror or exc}")
        return {}
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{path}: not valid TOML: {exc}")
        return {}
    found: dict[str, object] = {}
    for key, value in table.items():
        if key.upper() in _SPECS:
            found[key.upper()] = value
        else:
            problems.append(f"{path}: unknown setting {key!r}")
    return found


def _shown(key: str, value: object) -> str:
    return MASK if key in _SECRETS else repr(value)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):  # before int: a bool is an int, and TOML spells it in lower case
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, frozenset):
        return _toml_value(tuple(sorted(value)))
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- Parsers: a TOML value (typed) or an environment value (a string) into the setting --------


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value.strip()


def _items(value: object) -> list[str]:
    """A list: from TOML an array, from the environment words separated by commas or spaces."""
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return _text(value).replace(",", " ").split()


def _whole(minimum: int, maximum: int | None = None) -> Callable[[object], int]:
    def parse(value: object) -> int:
        text = str(value).strip()
        number = int(text) if text.isdigit() and not isinstance(value, bool) else minimum - 1
        if maximum is None and number < minimum:
            raise ValueError(f"must be a whole number >= {minimum}")
        if maximum is not None and not minimum <= number <= maximum:
            raise ValueError(f"must be a whole number from {minimum} to {maximum}")
        return number

    return parse


_port = _whole(1, 65535)


def _interval(*, off: bool) -> Callable[[object], float]:
    """Seconds, or a number with a unit: ``900``, ``15m``, ``1h``; 0 turns it off if ``off``."""

    def parse(value: object) -> float:
        match = _DURATION.fullmatch(str(value).strip()) if not isinstance(value, bool) else None
        seconds = float(match[1]) * _UNITS[match[2]] if match else -1.0
        if (off and seconds == 0) or seconds >= MIN_INTERVAL:
            return seconds
        rule = "0 (off) or " if off else ""
        raise ValueError(f"must be {rule}at least {MIN_INTERVAL:g} seconds, like 900, 15m or 1h")

    return parse


def _ids(value: object) -> frozenset[int]:
    items = _items(value)
    if not all(item.isdigit() and int(item) > 0 for item in items):
        raise ValueError("must be Telegram user ids (positive whole numbers)")
    return frozenset(int(item) for item in items)


def _url(value: object) -> str:
    url = _text(value)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// address")
    return url


def _urls(value: object) -> tuple[str, ...]:
    return tuple(_url(item) for item in _items(value))


def _secret(value: object) -> str:
    secret = _text(value)
    if not _SECRET.fullmatch(secret):
        raise ValueError("must be 1 to 256 characters A-Z, a-z, 0-9, _ and -")
    return secret


def _level(value: object) -> str:
    level = _text(value).upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return level


def _path(value: object) -> Path:
    return Path(_text(value))


_SWITCH = {"on": True, "off": False, "true": True, "false": False, "1": True, "0": False}


def _switch(value: object) -> bool:
    """On or off: a TOML boolean, or on/off (true/false, 1/0) from the environment."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().casefold()
    if word not in _SWITCH:
        raise ValueError("must be on or off")
    return _SWITCH[word]


# Environment name -> (Settings attribute, parser). The order is the order `config` prints.
_SPECS: dict[str, tuple[str, Callable[[object], Any]]] = {
    "TELEGRAM_BOT_TOKEN": ("token", _text),
    "TELEGRAM_BASE_URL": ("base_url", _url),
    "CORPUS": ("corpus", _path),
    "DATA_DIR": ("data_dir", _path),
    "CHANNELS": ("channels", lambda v: tuple(_items(v))),
    "PASSAGE_CHARS": ("passage_chars", _whole(100)),
    "LOG_LEVEL": ("log_level", _level),
    "ADMIN_IDS": ("admin_ids", _ids),
    "MAX_DOCUMENT_BYTES": ("max_document_bytes", _whole(1)),
    "FEEDS": ("feeds", _urls),
    "FEED_INTERVAL": ("feed_interval", _interval(off=False)),
    "CORPUS_INTERVAL": ("corpus_interval", _interval(off=True)),
    "WEBHOOK_URL": ("webhook_url", _url),
    "WEBHOOK_SECRET": ("webhook_secret", _secret),
    "LISTEN": ("listen", _text),
    "PORT": ("port", _port),
    "METRICS_PORT": ("metrics_port", _port),
    "RATE_LIMIT": ("rate_limit", _whole(0)),
    "SEMANTIC": ("semantic", _switch),
}
_SECRETS = frozenset({"TELEGRAM_BOT_TOKEN", "WEBHOOK_SECRET"})
ENV_NAMES = tuple(_SPECS)  # every environment variable the bot reads
assert {a for a, _ in _SPECS.values()} == {f.name for f in fields(Settings)}
