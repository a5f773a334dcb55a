"""The deployment examples in deploy/ stay true to the settings and the command line."""

from __future__ import annotations

import shlex

import pytest

from bot.__main__ import _parser
from bot.config import Settings
from tests.conftest import REPO

DEPLOY = REPO / "deploy"


@pytest.mark.usefixtures("no_env")
def test_the_example_settings_load() -> None:
    settings = Settings.load({}, DEPLOY / "announcements-bot.toml")
    assert settings.webhook_url == "https://bot.example.org/telegram/hook"
    assert settings.feed_interval == 15 * 60
    assert settings.admin_ids == {123456789}
    assert (settings.semantic, settings.rate_limit) == (True, 30)
    assert settings.token is None  # secrets stay out of the file


def test_the_unit_runs_commands_that_exist() -> None:
    unit = (DEPLOY / "announcements-bot@.service").read_text()
    commands = [
        shlex.split(line.partition("=")[2])
        for line in unit.splitlines()
        if line.startswith(("ExecStart=", "ExecStartPre="))
    ]
    assert [c[-1] for c in commands] == ["config", "serve"]
    for command in commands:
        assert command[0].endswith("/.venv/bin/announcements-bot")
        args = _parser().parse_args(command[1:])
        assert str(args.config) == "/etc/announcements-bot/%i.toml"
