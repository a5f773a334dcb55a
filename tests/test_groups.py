"""Groups: the bot speaks only when addressed, quotes the asker, and follows a thread."""

from __future__ import annotations

from typing import Any

import pytest

from bot.tg.app import App
from tests.auxil.bot_api import (
    RecordingRequest,
    make_bot_message,
    make_message,
    make_message_update,
)
from tests.conftest import feed

GROUP = -100555


def group_update(text: str, **kwargs: Any) -> dict[str, Any]:
    return make_message_update(text, chat_id=GROUP, chat_type="supergroup", **kwargs)


@pytest.mark.parametrize(
    "text",
    [
        "When is the last ferry crossing?",  # a question, but not to the bot
        "/ask@OtherBot When is the last ferry crossing?",
        "@someone When is the last ferry crossing?",
        "email me at alice@AnnouncementsBot.org",
    ],
)
async def test_chatter_that_does_not_address_the_bot_gets_no_call(
    offline_app: App, recording_request: RecordingRequest, text: str
) -> None:
    await feed(offline_app, group_update(text))
    assert recording_request.calls == []


async def test_a_mention_is_answered_quoting_the_asker(
    offline_app: App, recording_request: RecordingRequest
) -> None:
    await feed(
        offline_app,
        group_update("@AnnouncementsBot when is the last ferry crossing?", message_id=77),
    )
    [sent] = recording_request.sent()
    assert sent["chat_id"] == GROUP
    assert sent["reply_parameters"]["message_id"] == 77
    assert "The <b>last crossing</b> leaves Pier 3 at 22:10." in sent["text"]


async def test_a_mention_in_the_middle_is_removed_from_the_question(
    offline_app: App, recording_request: RecordingRequest
) -> None:
    await feed(offline_app, group_update("Why is the Model 77 lamp recalled, @AnnouncementsBot?"))
    assert "<b>recalled</b> because its battery" in recording_request.sent()[0]["text"]


@pytest.mark.parametrize("command", ["/ask", "/ask@AnnouncementsBot"])
async def test_ask_commands_are_answered(
    offline_app: App, recording_request: RecordingRequest, command: str
) -> None:
    await feed(offline_app, group_update(f"{command} how many lanterns are released", message_id=5))
    [sent] = recording_request.sent()
    assert "About 3,000 <b>lanterns</b>" in sent["text"]
    assert sent["reply_parameters"]["message_id"] == 5


async def test_reply_to_an_answer_is_a_follow_up_with_the_earlier_topic(
    offline_app: App, recording_request: RecordingRequest
) -> None:
    await feed(offline_app, group_update("/ask Model 77 bicycle lamp recall"))
    [first] = recording_request.sent()
    answer_message = make_bot_message(first["text"], chat_id=GROUP, message_id=1000)
    recording_request.clear()
    # Alone, "what should owners do?" names no product; as a follow-up it keeps the lamp.
    await feed(offline_app, group_update("What should owners do?", reply_to=answer_message))
    [sent] = recording_request.sent()
    assert "<b>Owners</b> should stop using the <b>lamp</b>" in sent["text"]
    # The follow-up is itself an answer one can follow up on.
    assert sent["reply_markup"]["inline_keyboard"]


async def test_reply_to_a_user_message_is_ignored(
    offline_app: App, recording_request: RecordingRequest
) -> None:
    someone = make_message("ferry timetable?", chat_id=GROUP, chat_type="supergroup", user_id=9)
    await feed(offline_app, group_update("me too", reply_to=someone))
    assert recording_request.calls == []


async def test_automatic_forward_of_a_channel_post_is_not_a_question(
    offline_app: App, recording_request: RecordingRequest
) -> None:
    update = group_update("@AnnouncementsBot new ferry timetable")
    update["message"]["is_automatic_forward"] = True
    await feed(offline_app, update)
    assert recording_request.calls == []


async def test_private_follow_up(offline_app: App, recording_request: RecordingRequest) -> None:
    await feed(offline_app, make_message_update("Model 77 bicycle lamp recall", chat_id=3))
    reply_to = make_bot_message(recording_request.sent()[0]["text"], chat_id=3, message_id=1000)
    recording_request.clear()
    await feed(
        offline_app, make_message_update("what should owners do", chat_id=3, reply_to=reply_to)
    )
    [sent] = recording_request.sent()
    assert "reply_parameters" not in sent  # a private chat needs no quoting
    assert "<b>Owners</b> should stop using the <b>lamp</b>" in sent["text"]


async def test_a_bare_mention_explains_how_to_ask(
    offline_app: App, recording_request: RecordingRequest
) -> None:
    await feed(offline_app, group_update("@AnnouncementsBot"))
    [sent] = recording_request.sent()
    assert sent["text"] == (
        "Put your question after the command, e.g. /ask Harbour ferry moves to a winter timetable"
    )
