"""Changes reach questions at once and never hold them up: a large ingestion or a merge runs in
its own thread while other chats are answered, and a channel post is seen by the next question."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.core.corpus import Article
from bot.core.library import Library
from bot.core.live import LiveLibrary, merge
from bot.tg import changes
from bot.tg.app import App
from bot.tg.keys import LIBRARY
from tests.auxil.bot_api import RecordingRequest, make_channel_post_update, make_message_update
from tests.conftest import feed

POST = "Halo S4 launch\nThe Halo S4 thermostat goes on sale on 3 March with a 5-inch screen."
LATER = "Pebble P2 recall\nThe Pebble P2 kettle is recalled from 9 May because its lid may open."
BULK = [
    Article(f"bulk{i}", f"Bulk notice {i}", f"Office {i} moves to hall {i}.") for i in range(60)
]


class Gate:
    """Holds library work in its thread until released: a long ingestion or merge."""

    def __init__(self) -> None:
        self.entered, self.released = threading.Event(), threading.Event()

    def wrap(self, method: Callable[..., Library], when: Callable[[Any], bool]) -> Any:
        def held(library: Library, *args: Any, **kwargs: Any) -> Library:
            if when(args):
                self.entered.set()
                self.released.wait(timeout=30)
            return method(library, *args, **kwargs)

        return held

    async def reached(self) -> None:
        assert await asyncio.to_thread(self.entered.wait, 10)


@pytest.fixture
def gate() -> Iterator[Gate]:
    held = Gate()
    yield held
    held.released.set()  # never leave a thread waiting


async def ask(app: App, request: RecordingRequest, question: str, chat_id: int) -> str:
    request.clear()
    await feed(app, make_message_update(question, chat_id=chat_id, user_id=chat_id))
    text: str = request.sent()[0]["text"]
    return text


async def test_other_chats_are_answered_while_a_large_change_is_ingested(
    offline_app: App,
    recording_request: RecordingRequest,
    gate: Gate,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        Library, "like", gate.wrap(Library.like, lambda args: len(list(args[0])) == len(BULK))
    )
    ingestion = asyncio.ensure_future(changes.change_library(offline_app.bot_data, BULK))
    await gate.reached()
    # A post that arrives meanwhile is searchable at once, and a question in another chat sees it.
    await feed(offline_app, make_channel_post_update(POST, message_id=31))
    text = await ask(offline_app, recording_request, "When does the Halo S4 go on sale?", 7)
    assert "goes on <b>sale</b> on 3 March" in text
    assert not ingestion.done()
    gate.released.set()
    await ingestion
    served: Library = offline_app.bot_data[LIBRARY]
    assert {"bulk0", "bulk59"} <= {a.id for a in served.articles}
    assert any(a.title == "Halo S4 launch" for a in served.articles)


async def test_questions_and_posts_go_on_during_a_merge_and_the_merge_keeps_them(
    offline_app: App,
    recording_request: RecordingRequest,
    gate: Gate,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(changes, "MERGE_DELAY", 0.0)
    monkeypatch.setattr(changes, "MERGE_PARTS", 2)  # the base and one change
    monkeypatch.setattr(changes, "merge", gate.wrap(merge, lambda _: True))
    await feed(offline_app, make_channel_post_update(POST, message_id=31))
    assert isinstance(offline_app.bot_data[LIBRARY], LiveLibrary)
    await gate.reached()  # merging the first post in
    await feed(offline_app, make_channel_post_update(LATER, message_id=32))
    text = await ask(offline_app, recording_request, "Why is the Pebble P2 recalled?", 8)
    assert "lid may open" in text
    gate.released.set()
    await changes.merging_done(offline_app.bot_data)
    served: Library = offline_app.bot_data[LIBRARY]
    assert not isinstance(served, LiveLibrary)
    titles = {a.title for a in served.articles}
    assert {"Halo S4 launch", "Pebble P2 recall"} <= titles
    text = await ask(offline_app, recording_request, "When does the Halo S4 go on sale?", 9)
    assert "3 March" in text


async def test_changes_made_during_a_merge_are_applied_to_its_result(
    library: Library, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(changes, "MERGE_DELAY", 0.0)
    monkeypatch.setattr(changes, "MERGE_PARTS", 2)  # the base and one change
    monkeypatch.setattr(changes, "merge", gate.wrap(merge, lambda _: True))
    bot_data: dict[str, Any] = {LIBRARY: library}
    first, second = BULK[0], BULK[1]
    await changes.change_library(bot_data, [first])
    await gate.reached()
    edited = Article(first.id, first.title, "Office 0 stays where it is.")
    await changes.change_library(bot_data, [edited, second], removed=[library.articles[0].id])
    gate.released.set()
    await changes.merging_done(bot_data)
    served: Library = bot_data[LIBRARY]
    assert not isinstance(served, LiveLibrary)
    assert list(served.articles) == [*library.articles[1:], edited, second]
    assert served.search("where does office 0 stay")[0].article == edited


async def test_a_view_of_few_changes_is_served_without_merging(library: Library) -> None:
    bot_data: dict[str, Any] = {LIBRARY: library}
    await changes.change_library(bot_data, [BULK[0]])
    await changes.merging_done(bot_data)  # none is due: this returns at once
    assert isinstance(bot_data[LIBRARY], LiveLibrary)


@pytest.mark.skipif(sys.platform != "linux", reason="Linux gives each thread a nice value")
async def test_a_merge_runs_at_the_lowest_cpu_priority_and_leaves_the_others_as_they_were(
    library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(changes, "MERGE_DELAY", 0.0)
    monkeypatch.setattr(changes, "MERGE_PARTS", 2)  # the base and one change
    seen: list[int] = []

    def observed(view: LiveLibrary) -> Library:
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return merge(view)

    monkeypatch.setattr(changes, "merge", observed)
    ours = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    bot_data: dict[str, Any] = {LIBRARY: library}
    await changes.change_library(bot_data, [BULK[0]])
    await changes.merging_done(bot_data)
    assert seen == [changes.MERGE_NICE] == [19]
    assert not isinstance(bot_data[LIBRARY], LiveLibrary)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == ours
