"""Channel posts become announcements, are replaced by edits, and survive restarts and crashes."""

from __future__ import annotations

import pytest
from telegram import Update

from bot.config import Settings
from bot.core.library import Library
from bot.tg.app import App, build_application
from bot.tg.channels import article_from_post
from tests.auxil.bot_api import RecordingRequest, make_channel_post_update, make_message_update
from tests.conftest import feed

POST = "Halo S4 launch\nThe Halo S4 thermostat goes on sale on 3 March with a 5-inch screen."


async def ask(app: App, request: RecordingRequest, question: str) -> str:
    request.clear()
    await feed(app, make_message_update(question))
    text: str = request.sent()[0]["text"]
    return text


async def test_post_of_a_listed_channel_is_found_at_once(
    offline_app: App, recording_request: RecordingRequest
) -> None:
    await feed(offline_app, make_channel_post_update(POST, message_id=31))
    assert recording_request.calls == []  # a channel post gets no reply
    text = await ask(offline_app, recording_request, "When does the Halo S4 go on sale?")
    assert "goes on <b>sale</b> on 3 March" in text
    assert '<a href="https://t.me/examplechannel/31">Halo S4 launch</a>' in text


async def test_an_edit_replaces_the_post(
    offline_app: App, recording_request: RecordingRequest
) -> None:
    await feed(offline_app, make_channel_post_update(POST, message_id=32))
    edited = POST.replace("3 March", "10 March")
    await feed(offline_app, make_channel_post_update(edited, message_id=32, edited=True))
    text = await ask(offline_app, recording_request, "When does the Halo S4 go on sale?")
    assert "10 March" in text
    assert "3 March" not in text


async def test_post_of_an_unlisted_channel_is_ignored_and_logged_once(
    offline_app: App, recording_request: RecordingRequest, caplog: pytest.LogCaptureFixture
) -> None:
    for message_id in (1, 2):
        update = make_channel_post_update(
            POST, chat_id=-100777, username="stranger", message_id=message_id
        )
        await feed(offline_app, update)
    text = await ask(offline_app, recording_request, "When does the Halo S4 go on sale?")
    assert text.startswith("The announcements don't cover that.")
    assert caplog.text.count("ignoring posts of channel -100777") == 1


async def test_channel_listed_by_id_and_caption_posts(
    offline_app: App, recording_request: RecordingRequest
) -> None:
    update = make_channel_post_update(caption=POST, chat_id=-1009876, username=None, message_id=4)
    await feed(offline_app, update)
    text = await ask(offline_app, recording_request, "Halo S4 screen size")
    assert "5-inch <b>screen</b>" in text
    assert "<b>Halo S4 launch</b>" in text  # no public link for a channel without a username


def test_bold_heading_is_the_title() -> None:
    update = make_channel_post_update(
        "Price update: the Cloud Plus plan costs €65 a year from May.",
        entities=[{"type": "bold", "offset": 0, "length": 13}],
    )
    post = Update.de_json(update, None).channel_post
    assert post is not None
    article = article_from_post(post)
    assert article is not None
    assert article.title == "Price update:"
    assert article.text == "the Cloud Plus plan costs €65 a year from May."


async def test_channel_posts_survive_a_restart(settings: Settings, library: Library) -> None:
    first = RecordingRequest()
    app = build_application(settings, library, request=first)
    async with app:
        await feed(app, make_channel_post_update(POST, message_id=40))
    second = RecordingRequest()
    restarted = build_application(settings, library, request=second)
    async with restarted:
        text = await ask(restarted, second, "When does the Halo S4 go on sale?")
    assert "goes on <b>sale</b> on 3 March" in text
