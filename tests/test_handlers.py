"""Each command and a private-chat question, through the real dispatcher, offline."""

from __future__ import annotations

import threading

import pytest

from bot.config import Settings
from bot.core.corpus import load_corpus
from bot.core.library import Library
from bot.tg.app import App, build_application
from bot.tg.keys import LIBRARY
from tests.auxil.articles import ReadWhere
from tests.auxil.bot_api import JSONDict, RecordingRequest, make_message_update
from tests.conftest import DATA, feed


async def test_private_question_gets_the_answer_with_its_source(
    offline_app: App, recording_request: RecordingRequest
) -> None:
    await feed(offline_app, make_message_update("When is the last ferry crossing?", chat_id=7))
    [sent] = recording_request.sent()
    assert sent["chat_id"] == 7
    assert sent["parse_mode"] == "HTML"
    assert "The <b>last crossing</b> leaves Pier 3 at 22:10." in sent["text"]
    assert "Harbour ferry moves to a winter timetable</a> (2026-10-02)" in sent["text"]
    assert sent["link_preview_options"] == {"is_disabled": True}


def photo_update(caption: str, chat_id: int = 7, chat_type: str = "private") -> JSONDict:
    """A photo sent with ``caption``: Telegram sends the caption in place of a text."""
    update = make_message_update(caption, chat_id=chat_id, chat_type=chat_type)
    message = update["message"]
    message["caption"] = message.pop("text")
    message["photo"] = [{"file_id": "p", "file_unique_id": "u", "width": 90, "height": 90}]
    return update


async def test_a_private_photo_caption_is_a_question(
    offline_app: App, recording_request: RecordingRequest
) -> None:
    await feed(offline_app, photo_update("When is the last ferry crossing?"))
    [sent] = recording_request.sent()
    assert "The <b>last crossing</b> leaves Pier 3 at 22:10." in sent["text"]
    recording_request.clear()
    await feed(offline_app, photo_update("When is the last ferry?", -100, "supergroup"))
    assert recording_request.sent() == []  # in a group, a caption must address the bot too


async def test_off_topic_private_question_is_declined(
    offline_app: App, recording_request: RecordingRequest
) -> None:
    await feed(offline_app, make_message_update("Who won Super Bowl 50?"))
    [sent] = recording_request.sent()
    assert sent["text"].startswith("The announcements don't cover that.")


async def test_chinese_user_gets_chinese_fixed_texts(
    offline_app: App, recording_request: RecordingRequest
) -> None:
    await feed(offline_app, make_message_update("Who won Super Bowl 50?", language_code="zh-hans"))
    assert recording_request.sent()[0]["text"].startswith("现有公告中没有涉及这个问题")


async def test_start_lists_what_the_bot_knows_and_example_questions(
    offline_app: App, recording_request: RecordingRequest
) -> None:
    await feed(offline_app, make_message_update("/start"))
    [sent] = recording_request.sent()
    text = sent["text"]
    assert text.startswith("I answer questions about 7 announcements")
    # Examples come from the newest articles of the corpus.
    assert "• /ask Harbour ferry moves to a winter timetable" in text
    assert "• /ask Lantern festival returns to the riverside" in text
    assert "/sources" in text


async def test_help(offline_app: App, recording_request: RecordingRequest) -> None:
    await feed(offline_app, make_message_update("/help"))
    assert "/ask <i>question</i>" in recording_request.sent()[0]["text"]


async def test_sources_lists_titles_newest_first_with_dates_and_links(
    offline_app: App, recording_request: RecordingRequest
) -> None:
    await feed(offline_app, make_message_update("/sources"))
    lines = recording_request.sent()[0]["text"].split("\n")
    assert lines[0] == "Announcements I know (7):"
    assert lines[1] == (
        '• <a href="https://example.org/news/ferry-winter-timetable">'
        "Harbour ferry moves to a winter timetable</a> (2026-10-02)"
    )
    assert "• <b>Parking &lt;rules&gt; &amp; fines</b>" in lines


async def test_ask_command_answers_its_argument(
    offline_app: App, recording_request: RecordingRequest
) -> None:
    await feed(offline_app, make_message_update("/ask why is the Model 77 lamp recalled"))
    assert "<b>recalled</b> because its battery can overheat" in recording_request.sent()[0]["text"]


async def test_ask_without_a_question_explains_usage(
    offline_app: App, recording_request: RecordingRequest
) -> None:
    await feed(offline_app, make_message_update("/ask"))
    assert recording_request.sent()[0]["text"].startswith("Put your question after the command")


async def test_a_failing_handler_is_reported_to_the_user(
    offline_app: App, recording_request: RecordingRequest, caplog: pytest.LogCaptureFixture
) -> None:
    recording_request.errors["sendMessage"] = (400, "Bad Request: message is too long")
    await feed(offline_app, make_message_update("ferry"))
    # The answer failed; the error handler's apology was tried too (and failed the same way).
    assert recording_request.methods == ["sendMessage", "sendMessage"]
    assert recording_request.calls[1].params["text"].startswith("Sorry, something went wrong")
    # The failed apology is one line, not a second traceback.
    assert "the apology could not be sent either: Message is too long" in caplog.text
    assert caplog.text.count("Traceback") == 1


@pytest.mark.parametrize("command", ["/start", "/sources", "/latest"])
async def test_lists_say_when_nothing_is_loaded(settings: Settings, command: str) -> None:
    request = RecordingRequest()
    application = build_application(settings, Library([]), request=request)
    async with application:
        await feed(application, make_message_update(command))
    application.bot_data["store"].close()
    assert [call["text"] for call in request.sent()] == ["No announcements are loaded yet."]


@pytest.mark.parametrize("command", ["/start", "/latest", "/sources", "/ask"])
async def test_the_announcements_are_listed_off_the_event_loop(
    offline_app: App, recording_request: RecordingRequest, command: str
) -> None:
    # A saved library makes each article when it is first read: listing them all may take
    # seconds at 100k articles, and the event loop would answer no other chat meanwhile.
    library = Library(load_corpus(DATA / "good").articles)
    articles = library.articles = ReadWhere(library.articles)
    offline_app.bot_data[LIBRARY] = library
    await feed(offline_app, make_message_update(command))
    assert "Harbour ferry moves to a winter timetable" in recording_request.sent()[0]["text"]
    assert articles.threads
    assert threading.main_thread() not in articles.threads
