"""Settings read from the environment."""

from __future__ import annotations

import pytest

from bot.config import DEFAULT_RATE_LIMIT, ConfigError, Settings


def test_rate_limit_defaults_to_telegrams_and_zero_turns_it_off() -> None:
    assert Settings.from_env({}).rate_limit == DEFAULT_RATE_LIMIT == 30
    assert Settings.from_env({"RATE_LIMIT": "0"}).rate_limit == 0
    with pytest.raises(ConfigError, match="RATE_LIMIT must be a whole number"):
        Settings.from_env({"RATE_LIMIT": "fast"})
