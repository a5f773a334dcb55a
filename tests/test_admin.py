"""Admin commands, from an admin and from a stranger, through the real Application."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.core.library import Library
from bot.store import Store
from bot.tg.app import App, build_application
from bot.tg.keys import LIBRARY
from tests.auxil.articles import ReadWhere
from tests.auxil.bot_api import (
    RecordingRequest,
    make_document_update,
    make_message,
    make_message_update,
)
from tests.conftest import feed

ADMIN = 42
STRANGER = 77
SAUNA = "Harbour sauna opens\nThe new harbour sauna opens on 5 December at Pier 7."
SAUNA_QUESTION = "When does the harbour sauna open?"
MAX_BYTES = 2000


@pytest.fixture
async def app(
    settings: Settings, corpus: Path, library: Library, recording_request: RecordingRequest
) -> AsyncIterator[App]:
    admin_settings = dataclasses.replace(
        settings, admin_ids=frozenset({ADMIN, 43}), corpus=corpus, max_document_bytes=MAX_BYTES
    )
    application = build_application(admin_settings, library, request=recording_request)
    async with application:
        recording_request.clear()
        yield application
    application.bot_data["store"].close()


def library_of(app: App) -> Library:
    library: Library = app.bot_data["library"]
    return library


def store_of(app: App) -> Store:
    store: Store = app.bot_data["store"].store
    return store


async def say(app: App, request: RecordingRequest, text: str, **kwargs: object) -> str:
    """Send ``text`` as a private message and return the bot's one reply."""
    mark = len(request.calls)
    await feed(app, make_message_update(text, **kwargs))  # type: ignore[arg-type]
    replies = [c.params["text"] for c in request.calls[mark:] if c.method == "sendMessage"]
    assert len(replies) == 1, replies
    reply: str = replies[0]
    return reply


async def test_add_text_after_the_command_is_searchable_at_once(
    app: App, recording_request: RecordingRequest
) -> None:
    assert "don't cover" in await say(app, recording_request, SAUNA_QUESTION)
    reply = await say(app, recording_request, f"/add {SAUNA}")
    assert reply.startswith("Added <b>Harbour sauna opens</b>")
    stored = store_of(app).articles()
    assert [a.title for a in stored] == ["Harbour sauna opens"]
    assert f"/delete {stored[0].id}" in reply
    assert stored[0].date is not None  # the day it was added
    answer = await say(app, recording_request, SAUNA_QUESTION)
    assert "The new <b>harbour sauna opens</b> on 5 December at Pier 7." in answer


async def test_add_in_reply_to_a_message_adds_that_message(
    app: App, recording_request: RecordingRequest
) -> None:
    original = make_message(SAUNA, user_id=ADMIN, chat_id=ADMIN)
    await say(app, recording_request, "/add", reply_to=original)
    assert [a.title for a in store_of(app).articles()] == ["Harbour sauna opens"]
    assert "5 December" in await say(app, recording_request, SAUNA_QUESTION)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        (
            "sauna.md",
            b"---\ntitle: Harbour sauna opens\ndate: 2026-11-20\nurl: https://example.org/s\n---\n"
            b"The new harbour sauna opens on 5 December at Pier 7.\n",
        ),
        (
            "sauna.html",
            b"<html><head><link rel='canonical' href='https://example.org/s'></head><body>"
            b"<h1>Harbour sauna opens</h1><p>The new harbour sauna opens on 5 December at"
            b" Pier 7.</p></body></html>",
        ),
        ("sauna.txt", SAUNA.encode()),
    ],
)
async def test_add_a_document(
    app: App, recording_request: RecordingRequest, name: str, content: bytes
) -> None:
    recording_request.files["doc-1"] = content
    await feed(app, make_document_update(name, file_size=len(content)))
    assert recording_request.sent()[-1]["text"].startswith("Added <b>Harbour sauna opens</b>")
    (article,) = store_of(app).articles()
    if name != "sauna.txt":
        assert article.url == "https://example.org/s"
    assert "5 December" in await say(app, recording_request, SAUNA_QUESTION)


async def test_add_in_reply_to_a_document(app: App, recording_request: RecordingRequest) -> None:
    recording_request.files["doc-1"] = SAUNA.encode()
    document = make_document_update("sauna.txt", caption=None)["message"]
    await say(app, recording_request, "/add", reply_to=document)
    assert [a.title for a in store_of(app).articles()] == ["Harbour sauna opens"]


@pytest.mark.parametrize(
    ("name", "content", "size", "expected"),
    [
        ("big.txt", b"x" * 10, MAX_BYTES + 1, "too large"),  # refused before downloading
        ("big.txt", b"Title\n" + b"x" * MAX_BYTES, 10, "too large"),  # file_size lied
        ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", None, "not text"),
        ("latin1.txt", "Café opens\nThe café opens at nine.".encode("latin-1"), None, "UTF-8"),
        ("report.pdf", b"%PDF-1.4", None, ".txt, .md or .html"),
        ("empty.md", b"   \n", None, "empty"),
    ],
)
async def test_a_bad_document_is_refused_with_a_clear_message(
    app: App,
    recording_request: RecordingRequest,
    name: str,
    content: bytes,
    size: int | None,
    expected: str,
) -> None:
    before = library_of(app)
    recording_request.files["doc-1"] = content
    await feed(app, make_document_update(name, file_size=size or len(content)))
    reply = recording_request.sent()[-1]["text"]
    assert reply.startswith("Nothing was added:")
    assert expected in reply
    assert store_of(app).articles() == []
    assert library_of(app) is before


@pytest.mark.parametrize(
    ("text", "expected"),
    [("/add", "Put the announcement after /add"), ("/add Title\n" + "y" * MAX_BYTES, "too large")],
)
async def test_bad_text_is_refused(
    app: App, recording_request: RecordingRequest, text: str, expected: str
) -> None:
    before = library_of(app)
    reply = await say(app, recording_request, text)
    assert reply.startswith("Nothing was added:")
    assert expected in reply
    assert store_of(app).articles() == []
    assert library_of(app) is before


async def test_delete_removes_an_added_announcement_from_answers_and_store(
    app: App, recording_request: RecordingRequest
) -> None:
    await say(app, recording_request, f"/add {SAUNA}")
    (article,) = store_of(app).articles()
    reply = await say(app, recording_request, f"/delete {article.id}")
    assert reply == f"Deleted <b>Harbour sauna opens</b> ({article.id})."
    assert store_of(app).articles() == []
    assert "don't cover" in await say(app, recording_request, SAUNA_QUESTION)


async def test_delete_of_a_corpus_article_says_it_comes_back_on_reload(
    app: App, recording_request: RecordingRequest
) -> None:
    reply = await say(app, recording_request, "/delete news/ferry-timetable.md")
    assert reply.startswith("Deleted <b>Harbour ferry moves to a winter timetable</b>")
    assert "corpus folder" in reply
    assert "news/ferry-timetable.md" not in {a.id for a in library_of(app).articles}


async def test_delete_finds_the_article_off_the_event_loop(
    app: App, recording_request: RecordingRequest
) -> None:
    library = Library(library_of(app).articles)
    articles = library.articles = ReadWhere(library.articles)
    app.bot_data[LIBRARY] = library
    reply = await say(app, recording_request, "/delete news/ferry-timetable.md")
    assert reply.startswith("Deleted <b>Harbour ferry moves to a winter timetable</b>")
    assert articles.threads
    assert threading.main_thread() not in articles.threads


@pytest.mark.parametrize("text", ["/delete nope.md", "/delete"])
async def test_delete_of_an_unknown_id(
    app: App, recording_request: RecordingRequest, text: str
) -> None:
    before = library_of(app)
    reply = await say(app, recording_request, text)
    assert "/sources" in reply
    assert library_of(app) is before


async def test_reload_picks_up_added_edited_and_removed_files(
    app: App, recording_request: RecordingRequest, corpus: Path
) -> None:
    (corpus / "sauna.txt").write_text(SAUNA)
    (corpus / "news" / "ferry-timetable.md").unlink()
    path = corpus / "zh-park.md"
    path.write_text(path.read_text().replace("滨江公园夜间开放公告", "滨江公园夜间开放时间调整"))
    reply = await say(app, recording_request, "/reload")
    assert reply == "Reloaded the corpus folder: 1 added, 1 changed, 1 removed."
    titles = {a.title for a in library_of(app).articles}
    assert {"Harbour sauna opens", "滨江公园夜间开放时间调整"} <= titles
    assert "Harbour ferry moves to a winter timetable" not in titles
    assert "滨江公园夜间开放公告" not in titles


async def test_reload_keeps_announcements_added_at_run_time(
    app: App, recording_request: RecordingRequest
) -> None:
    await say(app, recording_request, f"/add {SAUNA}")
    assert await say(app, recording_request, "/reload") == (
        "Reloaded the corpus folder: 0 added, 0 changed, 0 removed."
    )
    assert "5 December" in await say(app, recording_request, SAUNA_QUESTION)


async def test_stats_and_unanswered_after_a_few_questions(
    app: App, recording_request: RecordingRequest
) -> None:
    await say(app, recording_request, "When is the last ferry?")
    await say(app, recording_request, "Who won Super Bowl 50?")
    await say(app, recording_request, "What is the capital of Peru?")
    stats = await say(app, recording_request, "/stats")
    assert "Articles: 7" in stats
    assert "Questions today: 3 (answered 33%, declined 67%)" in stats
    assert "Median answer time:" in stats
    assert "Feedback: 👍 0 / 👎 0" in stats
    unanswered = await say(app, recording_request, "/unanswered")
    assert unanswered.splitlines()[1:] == [
        "• What is the capital of Peru?",
        "• Who won Super Bowl 50?",
    ]


@pytest.mark.parametrize(
    "text", [f"/add {SAUNA}", "/delete news/ferry-timetable.md", "/reload", "/stats", "/unanswered"]
)
async def test_a_stranger_is_refused_and_nothing_changes(
    app: App, recording_request: RecordingRequest, corpus: Path, text: str
) -> None:
    (corpus / "sauna.txt").write_text(SAUNA)  # what a /reload would pick up
    before = library_of(app)
    reply = await say(app, recording_request, text, user_id=STRANGER, chat_id=STRANGER)
    assert reply == "Sorry, only the bot's administrators can use that command."
    assert library_of(app) is before
    assert store_of(app).articles() == []


async def test_a_stranger_s_document_is_refused(
    app: App, recording_request: RecordingRequest
) -> None:
    recording_request.files["doc-1"] = SAUNA.encode()
    await feed(app, make_document_update("sauna.txt", user_id=STRANGER))
    assert recording_request.sent()[-1]["text"].startswith("Sorry, only the bot's administrators")
    assert store_of(app).articles() == []


async def test_admins_get_the_admin_commands_in_their_menu(
    app: App, recording_request: RecordingRequest
) -> None:
    assert app.post_init is not None
    await app.post_init(app)
    calls = recording_request.sent("setMyCommands")
    scoped = [c for c in calls if c.get("scope", {}).get("type") == "chat"]
    assert {c["scope"]["chat_id"] for c in scoped} == {ADMIN, 43}
    names = {c["command"] for c in scoped[0]["commands"]}
    assert {"ask", "add", "delete", "reload", "stats", "unanswered"} <= names
    default = [c for c in calls if "scope" not in c]
    assert all("add" not in {c["command"] for c in d["commands"]} for d in default)


async def test_admin_replies_follow_the_admin_s_language(
    app: App, recording_request: RecordingRequest
) -> None:
    reply = await say(app, recording_request, "/add", language_code="zh-hans")
    assert reply.startswith("未添加任何内容：请在 /add 后写上公告")
    assert (await say(app, recording_request, "/stats", language_code="zh")).startswith(
        "<b>统计</b>\n公告：7"
    )
    refusal = await say(
        app, recording_request, "/stats", user_id=STRANGER, chat_id=STRANGER, language_code="zh"
    )
    assert refusal == "抱歉，只有机器人的管理员可以使用该命令。"
