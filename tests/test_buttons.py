"""Buttons under answers and lists: "More", 👍 / 👎, /sources pages, /latest."""

from __future__ import annotations

from typing import Any

from bot.config import Settings
from bot.core.corpus import Article
from bot.core.library import Library
from bot.store import Store
from bot.tg.app import App, build_application
from tests.auxil.bot_api import (
    RecordingRequest,
    make_bot_message,
    make_callback_query_update,
    make_message_update,
)
from tests.conftest import feed


def buttons(sent: dict[str, Any]) -> dict[str, str]:
    """Button label -> callback data."""
    rows = sent.get("reply_markup", {}).get("inline_keyboard", [])
    return {b["text"]: b["callback_data"] for row in rows for b in row}


async def ask(app: App, request: RecordingRequest, question: str) -> dict[str, Any]:
    request.clear()
    await feed(app, make_message_update(question))
    [sent] = request.sent()
    return sent


async def press(app: App, request: RecordingRequest, data: str, text: str = "x") -> None:
    request.clear()
    message = make_bot_message(text, chat_id=42, message_id=1000)
    await feed(app, make_callback_query_update(data, message=message))


async def test_answer_has_more_and_feedback_buttons_within_64_bytes(
    offline_app: App, recording_request: RecordingRequest
) -> None:
    sent = await ask(offline_app, recording_request, "opening hours Sundays free")
    labels = buttons(sent)
    assert set(labels) >= {"👍", "👎"}
    assert all(len(data.encode()) <= 64 for data in labels.values())


async def test_more_pages_through_further_matches(
    offline_app: App, recording_request: RecordingRequest
) -> None:
    first = await ask(offline_app, recording_request, "free")
    more = buttons(first)["More ›"]
    await press(offline_app, recording_request, more)
    [edit] = recording_request.sent("editMessageText")
    assert edit["text"] != first["text"]
    assert "<b>free</b>" in edit["text"].casefold()
    assert "‹ Back" in buttons(edit)
    [toast] = recording_request.sent("answerCallbackQuery")
    assert toast["text"].startswith("Match 2 of ")


async def test_feedback_is_stored_with_question_and_sources(
    offline_app: App, recording_request: RecordingRequest
) -> None:
    sent = await ask(offline_app, recording_request, "Why is the Model 77 lamp recalled?")
    await press(offline_app, recording_request, buttons(sent)["👎"])
    assert recording_request.sent("answerCallbackQuery")[0]["text"] == "Thanks for the feedback!"
    answer_id = int(buttons(sent)["👎"].split(":")[1])
    store: Store = offline_app.bot_data["store"]
    record = store.get_answer(answer_id)
    assert record is not None
    assert record.question == "Why is the Model 77 lamp recalled?"
    assert record.source_ids[0] == "recall-77"
    assert store.feedback(answer_id) == {42: -1}


async def test_buttons_work_after_a_restart(settings: Settings, library: Library) -> None:
    first_request = RecordingRequest()
    app = build_application(settings, library, request=first_request)
    async with app:
        sent = await ask(app, first_request, "free")
    more = buttons(sent)["More ›"]

    second_request = RecordingRequest()
    restarted = build_application(settings, library, request=second_request)
    async with restarted:
        await press(restarted, second_request, more)
        [edit] = second_request.sent("editMessageText")
    assert "<b>free</b>" in edit["text"].casefold()


async def test_unknown_answer_id_says_expired(
    offline_app: App, recording_request: RecordingRequest
) -> None:
    await press(offline_app, recording_request, "more:999999:1")
    assert recording_request.methods == ["answerCallbackQuery"]
    assert "no longer available" in recording_request.sent("answerCallbackQuery")[0]["text"]


async def test_latest_lists_newest_first(
    offline_app: App, recording_request: RecordingRequest
) -> None:
    sent = await ask(offline_app, recording_request, "/latest")
    lines = sent["text"].split("\n")
    assert lines[0] == "Latest announcements:"
    assert "Harbour ferry moves to a winter timetable" in lines[1]
    assert "Lantern festival returns to the riverside" in lines[2]


async def test_sources_pages_when_long(settings: Settings) -> None:
    articles = [
        Article(id=f"n{i}", title=f"Notice number {i}", text=f"Notice {i} text.") for i in range(45)
    ]
    request = RecordingRequest()
    app = build_application(settings, Library(articles), request=request)
    async with app:
        sent = await ask(app, request, "/sources")
        assert sent["text"].startswith("Announcements I know (45): page 1 of 3")
        assert sent["text"].count("•") == 20
        await press(app, request, buttons(sent)["Next ›"])
        [edit] = request.sent("editMessageText")
    assert edit["text"].startswith("Announcements I know (45): page 2 of 3")
    assert set(buttons(edit)) == {"‹ Previous", "Next ›"}
