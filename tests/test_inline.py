"""Inline mode through the real dispatcher, offline: "@AnnouncementsBot question" in any chat."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from telegram import InputTextMessageContent
from telegram.ext import InlineQueryHandler

from bot.core.answer import TITLE_CHARS
from bot.core.corpus import Article, load_corpus
from bot.core.library import Library
from bot.core.semantic import E5Embedder, EmbeddingCache
from bot.tg import inline
from bot.tg.app import App
from bot.tg.keys import LIBRARY
from tests.auxil.bot_api import JSONDict, RecordingRequest, make_inline_query_update
from tests.conftest import DATA, feed

FERRY = "Harbour ferry moves to a winter timetable"
FERRY_SOURCE = (
    '<a href="https://example.org/news/ferry-winter-timetable">'
    "Harbour ferry moves to a winter timetable</a> (2026-10-02)"
)


@pytest.fixture
def app(offline_app: App) -> App:
    """The offline application, with inline queries routed even where app.py doesn't yet."""
    if not any(isinstance(h, InlineQueryHandler) for h in offline_app.handlers.get(0, [])):
        offline_app.add_handler(InlineQueryHandler(inline.inline_query))
    return offline_app


async def ask_inline(
    app: App, recording_request: RecordingRequest, query: str, **update: Any
) -> JSONDict:
    """Send an inline query; return the parameters of the one Bot API call it makes."""
    recording_request.clear()
    await feed(app, make_inline_query_update(query, **update))
    assert recording_request.methods == ["answerInlineQuery"]
    [params] = recording_request.sent("answerInlineQuery")
    return params


def message_of(result: JSONDict) -> str:
    text: str = result["input_message_content"]["message_text"]
    return text


async def test_question_lists_the_passage_that_answers_it(
    app: App, recording_request: RecordingRequest
) -> None:
    params = await ask_inline(app, recording_request, "When is the last ferry crossing?")
    assert params["cache_time"] <= 10
    assert params["is_personal"] is True
    [first, *_] = params["results"]
    assert first["type"] == "article"
    assert first["title"] == FERRY
    assert first["description"].startswith("2026-10-02 · ")
    assert "The last crossing leaves Pier 3 at 22:10." in first["description"]
    content = first["input_message_content"]
    assert content["parse_mode"] == "HTML"
    assert content["link_preview_options"] == {"is_disabled": True}
    assert "The <b>last crossing</b> leaves Pier 3 at 22:10." in content["message_text"]
    assert content["message_text"].endswith(f"\n\nSource: {FERRY_SOURCE}")


async def test_several_passages_of_one_article_are_listed(
    app: App, recording_request: RecordingRequest
) -> None:
    results = (await ask_inline(app, recording_request, "ferry"))["results"]
    assert [r["title"] for r in results] == [FERRY, FERRY]
    assert "monthly pass costs 64 euros" in results[0]["description"]
    assert "<b>ferry</b> runs every 40 minutes" in message_of(results[1])


async def test_empty_query_lists_the_latest_announcements(
    app: App, recording_request: RecordingRequest
) -> None:
    params = await ask_inline(app, recording_request, "")
    results = params["results"]
    assert [r["title"] for r in results] == [
        FERRY,
        "Lantern festival returns to the riverside",
        "Recall of the Model 77 bicycle lamp",
        "滨江公园夜间开放公告",
        # Undated articles come last, in corpus order.
        "Central library extends its opening hours",
        "Water tariff for 2027",
        "Parking <rules> & fines",
    ]
    assert params.get("next_offset", "") == ""
    assert results[0]["description"].startswith("2026-10-02 · From 1 November 2026 the harbour")
    # The lead skips the article's opening heading ("Winter service").
    assert message_of(results[0]).startswith(
        f"<b>{FERRY}</b>\n\nFrom 1 November 2026 the harbour ferry runs every 40 minutes"
    )
    assert message_of(results[0]).endswith(f"\n\nSource: {FERRY_SOURCE}")
    assert message_of(results[-1]).startswith("<b>Parking &lt;rules&gt; &amp; fines</b>\n\n")


@pytest.mark.parametrize("query", ["Who won Super Bowl 50?", "what is the"])
async def test_a_query_the_announcements_dont_cover_has_no_results(
    app: App, recording_request: RecordingRequest, query: str
) -> None:
    params = await ask_inline(app, recording_request, query)
    assert params["results"] == []
    assert params.get("next_offset", "") == ""


async def test_chinese_question_from_a_chinese_user(
    app: App, recording_request: RecordingRequest
) -> None:
    params = await ask_inline(
        app, recording_request, "滨江公园开放到几点？", language_code="zh-hans"
    )
    [result] = params["results"]
    assert result["description"] == "2026-07-01 · 自2026年7月15日起，滨江公园每晚开放至22点。"
    assert message_of(result) == (
        "自2026年7月15日起，<b>滨江公园</b>每晚<b>开放</b>至22点。\n\n"
        "来源: <b>滨江公园夜间开放公告</b> (2026-07-01)"
    )


@pytest.mark.parametrize(
    ("language_code", "source"), [("zh-hans", "来源: "), ("fr", "Source: "), (None, "Source: ")]
)
async def test_fixed_texts_follow_the_users_language(
    app: App, recording_request: RecordingRequest, language_code: str | None, source: str
) -> None:
    for query in ("Why is the lamp recalled?", ""):
        params = await ask_inline(app, recording_request, query, language_code=language_code)
        assert f"\n\n{source}" in message_of(params["results"][0])


@pytest.mark.parametrize("query", ["", "ferry", "euros", "fine"])
async def test_result_ids_are_unique_and_short(
    app: App, recording_request: RecordingRequest, query: str
) -> None:
    ids = [r["id"] for r in (await ask_inline(app, recording_request, query))["results"]]
    assert ids
    assert len(set(ids)) == len(ids)
    assert all(len(i.encode()) <= 64 for i in ids)


def test_result_ids_survive_a_reload(library: Library) -> None:
    def ids(lib: Library) -> set[str]:
        return {r.id for r in inline.inline_results(lib, "ferry")[0]}

    # Removing an article moves the ferry passages to other rows of the index.
    assert ids(library.replace(removed=["festival.html"])) == ids(library)


def notices(count: int) -> Library:
    return Library(
        Article(
            f"n{i}", f"Ferry notice {i}", f"The ferry sails at {i} o'clock.", dt.date(2026, 1, 1)
        )
        for i in range(count)
    )


async def test_results_come_in_pages_of_ten_up_to_fifty(
    app: App, recording_request: RecordingRequest
) -> None:
    app.bot_data[LIBRARY] = notices(60)
    seen: list[str] = []
    offset = ""
    for expected in ("10", "20", "30", "40", ""):
        params = await ask_inline(app, recording_request, "ferry", offset=offset)
        assert len(params["results"]) == 10
        assert params.get("next_offset", "") == expected
        seen += [r["id"] for r in params["results"]]
        offset = expected
    assert len(set(seen)) == 50


@pytest.mark.parametrize(("offset", "count"), [("junk", 10), ("50", 0)])
def test_offset_outside_the_pages(offset: str, count: int) -> None:
    results, next_offset = inline.inline_results(notices(60), "", offset=offset)
    assert len(results) == count
    assert next_offset == ("10" if count else "")


def test_long_texts_are_clipped_for_the_list_and_the_message() -> None:
    sentence = "The ferry timetable " + "changes again and again " * 200 + "in winter."
    library = Library([Article("long", "Ferry news " * 50, sentence, dt.date(2026, 1, 2))])
    for query in ("", "ferry timetable"):
        [result] = inline.inline_results(library, query)[0]
        assert len(result.title) <= TITLE_CHARS
        assert result.description is not None
        assert len(result.description) <= len("2026-01-02 · ") + inline.DESCRIPTION_CHARS
        assert result.description.endswith("…")
        message = result.input_message_content
        assert isinstance(message, InputTextMessageContent)
        assert len(message.message_text) <= 4096


def test_empty_library_has_no_results() -> None:
    assert inline.inline_results(Library([]), "") == ([], "")
    assert inline.inline_results(Library([]), "ferry") == ([], "")


@pytest.fixture(scope="module")
def semantic_library(e5: E5Embedder, tmp_path_factory: pytest.TempPathFactory) -> Library:
    """The fixture corpus with the real model's semantic stage."""
    cache = EmbeddingCache(tmp_path_factory.mktemp("embeddings"))
    return Library(load_corpus(DATA / "good").articles, embedder=e5, cache=cache)


async def test_with_meaning_a_question_in_other_words_lists_its_answer(
    app: App, recording_request: RecordingRequest, semantic_library: Library
) -> None:
    app.bot_data[LIBRARY] = semantic_library
    # "boat", "late" and "catch" are not in the article: "ferry", "last crossing" and "leaves" are.
    params = await ask_inline(
        app, recording_request, "How late can I catch a boat across the harbour?"
    )
    [first, *_] = params["results"]
    assert first["title"] == FERRY
    assert "22:10" in first["description"]
    assert "The last crossing leaves Pier 3 at 22:10." in message_of(first)
    assert FERRY_SOURCE in message_of(first)


async def test_with_meaning_what_the_chat_would_decline_lists_nothing(
    app: App, recording_request: RecordingRequest, semantic_library: Library
) -> None:
    app.bot_data[LIBRARY] = semantic_library
    params = await ask_inline(app, recording_request, "Who won the football final in 2019?")
    assert params["results"] == []
