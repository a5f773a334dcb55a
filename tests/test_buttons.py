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
    message = make_bot_message(text, chat_id=1, message_id=1000)  # the chat ask() asks in
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
    store: Store = offline_app.bot_data["store"].store
    record = store.answer_by_token(buttons(sent)["👎"].split(":")[1])
    assert record is not None
    answer_id = record.id
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
    await press(offline_app, recording_request, "more:NoSuchAnswer0000:1")
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


# --- Hostile or stale callback data ------------------------------------------------------------


async def test_a_huge_page_number_is_answered_not_raised(
    offline_app: App, recording_request: RecordingRequest
) -> None:
    first = await ask(offline_app, recording_request, "free")
    token = buttons(first)["More ›"].split(":")[1]
    for data in (f"more:{token}:{'9' * 57}", f"more:{'9' * 57}:0", f"src:{'9' * 57}"):
        await press(offline_app, recording_request, data)
        assert "sendMessage" not in recording_request.methods  # no apology: nothing failed
        assert recording_request.methods[-1] == "answerCallbackQuery"


async def test_data_matching_no_pattern_still_stops_the_spinner(
    offline_app: App, recording_request: RecordingRequest
) -> None:
    for data in ("bogus", "more:x:y", "vote::+2", ""):
        await press(offline_app, recording_request, data)
        assert recording_request.methods == ["answerCallbackQuery"], data
        assert "no longer available" in recording_request.sent("answerCallbackQuery")[0]["text"]


async def test_an_answers_buttons_work_only_in_its_own_chat(
    offline_app: App, recording_request: RecordingRequest
) -> None:
    sent = await ask(offline_app, recording_request, "free")  # asked in chat 1
    more, vote = buttons(sent)["More ›"], buttons(sent)["👍"]
    store: Store = offline_app.bot_data["store"].store
    for data in (more, vote):
        recording_request.clear()
        elsewhere = make_bot_message("x", chat_id=666, message_id=1000)
        await feed(offline_app, make_callback_query_update(data, message=elsewhere, user_id=666))
        assert recording_request.methods == ["answerCallbackQuery"]
        assert "no longer available" in recording_request.sent("answerCallbackQuery")[0]["text"]
    record = store.answer_by_token(more.split(":")[1])
    assert record is not None
    assert store.feedback(record.id) == {}


async def test_button_ids_cannot_be_guessed_from_the_answer_count(
    offline_app: App, recording_request: RecordingRequest
) -> None:
    first = await ask(offline_app, recording_request, "free")
    second = await ask(offline_app, recording_request, "free")
    tokens = {buttons(sent)["More ›"].split(":")[1] for sent in (first, second)}
    assert len(tokens) == 2
    assert all(len(token) >= 16 and not token.isdigit() for token in tokens)
    # The sequential ids of the two answers open nothing.
    for guess in ("more:1:1", "more:2:1", "vote:1:+1"):
        await press(offline_app, recording_request, guess)
        assert recording_request.methods == ["answerCallbackQuery"]
