"""Settings: the environment over an optional TOML file, every problem reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.__main__ import main
from bot.config import DEFAULT_RATE_LIMIT, ConfigError, Settings

pytestmark = pytest.mark.usefixtures("no_env")

TOKEN = "123456:SECRET-TOKEN-VALUE"


def test_defaults_without_anything() -> None:
    settings = Settings.load({})
    assert settings.admin_ids == frozenset()
    assert settings.feeds == ()
    assert settings.feed_interval == 15 * 60
    assert settings.webhook_secret is None
    assert settings.metrics_port is None


def test_environment_values_are_parsed() -> None:
    settings = Settings.load(
        {
            "ADMIN_IDS": "11, 22 33",
            "FEEDS": "https://news.example.org/feed.xml http://127.0.0.1:8000/atom",
            "FEED_INTERVAL": "5m",
            "CORPUS_INTERVAL": "0",
            "WEBHOOK_SECRET": "s3cret_-X",
            "PORT": "8080",
            "METRICS_PORT": "9100",
            "LOG_LEVEL": "debug",
        }
    )
    assert settings.admin_ids == {11, 22, 33}
    assert settings.feeds == ("https://news.example.org/feed.xml", "http://127.0.0.1:8000/atom")
    assert settings.feed_interval == 300
    assert settings.corpus_interval == 0
    assert settings.webhook_secret == "s3cret_-X"
    assert (settings.port, settings.metrics_port, settings.log_level) == (8080, 9100, "DEBUG")


def test_toml_file_with_the_environment_over_it(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text(
        'admin_ids = [7, 8]\nfeeds = ["https://a.example/feed"]\nfeed_interval = 600\n'
        'data_dir = "/var/lib/bot"\nport = 8000\n'
    )
    settings = Settings.load({"PORT": "9000"}, path)
    assert settings.admin_ids == {7, 8}
    assert settings.feeds == ("https://a.example/feed",)
    assert settings.feed_interval == 600
    assert settings.data_dir == Path("/var/lib/bot")
    assert settings.port == 9000


def test_every_problem_is_listed_in_one_message(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text('admin_id = [1]\nfeeds = ["ftp://x"]\n')
    with pytest.raises(ConfigError) as caught:
        Settings.load(
            {
                "PASSAGE_CHARS": "lots",
                "ADMIN_IDS": "alice",
                "FEED_INTERVAL": "1s",
                "PORT": "70000",
                "WEBHOOK_SECRET": "has spaces and a ! mark",
                "RATE_LIMIT": "fast",
                "SEMANTIC": "maybe",
            },
            path,
        )
    message = str(caught.value)
    assert message.splitlines()[0] == "invalid configuration:"
    for expected in (
        "unknown setting 'admin_id'",
        "FEEDS must be an http:// or https:// address, not ['ftp://x']",
        "PASSAGE_CHARS must be a whole number >= 100, not 'lots'",
        "ADMIN_IDS must be Telegram user ids",
        "FEED_INTERVAL must be at least 10 seconds",
        "PORT must be a whole number from 1 to 65535",
        "WEBHOOK_SECRET must be 1 to 256 characters",
        "RATE_LIMIT must be a whole number >= 0, not 'fast'",
        "SEMANTIC must be on or off, not 'maybe'",
    ):
        assert expected in message
    assert "has spaces" not in message  # a secret is never echoed, even a wrong one


def test_a_broken_toml_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text("feeds = [")
    with pytest.raises(ConfigError, match=r"bot\.toml: not valid TOML"):
        Settings.load({}, path)
    with pytest.raises(ConfigError, match=r"missing\.toml: cannot read"):
        Settings.load({}, tmp_path / "missing.toml")


def test_config_command_masks_the_token_and_the_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bot.toml"
    path.write_text('webhook_secret = "file-secret"\nadmin_ids = [10, 9]\n')
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    assert main(["--config", str(path), "config"]) == 0
    out = capsys.readouterr().out
    assert TOKEN not in out
    assert "file-secret" not in out
    assert 'telegram_bot_token = "********"' in out
    assert 'webhook_secret = "********"' in out
    assert "admin_ids = [9, 10]" in out
    assert "feed_interval = 900.0" in out
    assert "# webhook_url is not set" in out
    assert "rate_limit = 30" in out
    assert "semantic = false" in out  # the no_env fixture turns it off


def test_a_bad_config_file_exits_2_with_the_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bot.toml"
    path.write_text('port = "x"\nmetrics_port = 0\n')
    assert main(["config", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "PORT must be a whole number" in err
    assert "METRICS_PORT must be a whole number" in err


def test_the_webhook_and_the_metrics_need_two_ports() -> None:
    with pytest.raises(ConfigError, match="METRICS_PORT must differ from PORT"):
        Settings.load({"WEBHOOK_URL": "https://bot.example.org/hook", "METRICS_PORT": "8443"})
    assert Settings.load({"METRICS_PORT": "8443"}).metrics_port == 8443  # polling: no clash


def test_serve_lists_every_missing_setting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--webhook-url", "https://bot.example.org/hook"]) == 2
    err = capsys.readouterr().err
    assert "TELEGRAM_BOT_TOKEN is not set" in err
    assert "a webhook needs WEBHOOK_SECRET" in err


def test_rate_limit_defaults_to_telegrams_and_zero_turns_it_off() -> None:
    assert Settings.load({}).rate_limit == DEFAULT_RATE_LIMIT == 30
    assert Settings.load({"RATE_LIMIT": "0"}).rate_limit == 0
    with pytest.raises(ConfigError, match="RATE_LIMIT must be a whole number"):
        Settings.load({"RATE_LIMIT": "fast"})


def test_semantic_and_rate_limit_come_from_the_toml_file_too(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text("semantic = false\nrate_limit = 5\n")
    settings = Settings.load({}, path)
    assert (settings.semantic, settings.rate_limit) == (False, 5)
    assert Settings.load({"SEMANTIC": "ON"}, path).semantic is True  # the environment wins
    assert "semantic = false" in settings.describe()
