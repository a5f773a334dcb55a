"""Corpus folder watching: files added, edited, deleted or touched, picked up while running."""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.core.corpus import Article, load_corpus
from bot.core.library import Library
from bot.tg.app import App, build_application
from bot.tg.jobs import CORPUS_JOB, watch_corpus
from bot.watch import CorpusWatcher
from tests.auxil.bot_api import RecordingRequest
from tests.conftest import DATA

SAUNA = "Harbour sauna opens\n\nThe new harbour sauna opens on 5 December at Pier 7.\n"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(DATA / "good", folder)
    return folder


def test_first_look_reads_everything_then_only_changes(corpus: Path) -> None:
    watcher = CorpusWatcher(corpus)
    first = watcher.look()
    assert first is not None
    assert first.scope is None
    assert len(first.articles) == 7
    assert watcher.look() is None

    (corpus / "sauna.md").write_text(SAUNA)
    added = watcher.look()
    assert added is not None
    assert [a.id for a in added.articles] == ["sauna.md"]
    assert added.scope == frozenset()

    (corpus / "sauna.md").write_text(SAUNA.replace("5 December", "6 December"))
    edited = watcher.look()
    assert edited is not None
    assert "6 December" in edited.articles[0].text
    assert edited.scope == frozenset({"sauna.md"})

    (corpus / "sauna.md").unlink()
    deleted = watcher.look()
    assert deleted is not None
    assert deleted.articles == ()
    assert deleted.scope == frozenset({"sauna.md"})


def test_a_touched_file_is_no_change(corpus: Path) -> None:
    watcher = CorpusWatcher(corpus)
    watcher.look()
    path = corpus / "library-hours.txt"
    path.write_bytes(path.read_bytes())
    os.utime(path, (1, 1))
    assert watcher.look() is None


def test_a_broken_link_is_reported_once_and_again_when_it_comes_back(corpus: Path) -> None:
    watcher = CorpusWatcher(corpus)
    watcher.look()
    (corpus / "gone.md").symlink_to(corpus / "nowhere.md")
    change = watcher.look()
    assert change is not None
    assert (change.articles, change.scope) == ((), frozenset())  # nothing to serve differently
    assert [str(p) for p in change.problems] == [
        f"{corpus / 'gone.md'}: broken link: {corpus / 'nowhere.md'} does not exist"
    ]
    assert watcher.look() is None  # reported already
    (corpus / "gone.md").unlink()
    assert watcher.look() is None
    (corpus / "gone.md").symlink_to(corpus / "nowhere.md")
    again = watcher.look()
    assert again is not None
    assert len(again.problems) == 1


def test_a_jsonl_file_takes_its_records_away_when_edited(corpus: Path) -> None:
    watcher = CorpusWatcher(corpus)
    watcher.look()
    records = corpus / "records.jsonl"
    old_ids = {a.id for a in load_corpus(records).articles}
    assert len(old_ids) > 1
    records.write_text('{"id": "r-new", "title": "New record", "text": "A new record."}\n')
    change = watcher.look()
    assert change is not None
    assert [a.id for a in change.articles] == ["r-new"]
    assert change.scope == frozenset(old_ids)


@pytest.fixture
async def app(
    settings: Settings, corpus: Path, library: Library, recording_request: RecordingRequest
) -> AsyncIterator[App]:
    watched = dataclasses.replace(settings, corpus=corpus, corpus_interval=60)
    application = build_application(watched, library, request=recording_request)
    async with application:
        yield application
    application.bot_data["store"].close()


def titles(app: App) -> set[str]:
    library: Library = app.bot_data["library"]
    return {a.title for a in library.articles}


async def test_the_running_bot_follows_the_folder(app: App, corpus: Path) -> None:
    assert app.job_queue is not None
    (job,) = app.job_queue.get_jobs_by_name(CORPUS_JOB)
    watcher = job.data
    assert isinstance(watcher, CorpusWatcher)
    stored = Article(id="admin/1-1", title="Water off on Friday", text="Water is off on Friday.")
    app.bot_data["store"].store.save_article(stored, origin="admin:1")
    app.bot_data["library"] = app.bot_data["library"].replace(added=[stored])

    library = app.bot_data["library"]
    assert not await watch_corpus(app.bot_data, watcher)  # first look: nothing new
    assert app.bot_data["library"] is library

    (corpus / "sauna.md").write_text(SAUNA)
    (corpus / "news" / "ferry-timetable.md").unlink()
    change = await watch_corpus(app.bot_data, watcher)
    assert ([a.id for a in change.added], change.removed) == (
        ["sauna.md"],
        ("news/ferry-timetable.md",),
    )
    assert "Harbour sauna opens" in titles(app)
    assert "Harbour ferry moves to a winter timetable" not in titles(app)
    assert "Water off on Friday" in titles(app)  # not from the folder: kept

    (corpus / "sauna.md").write_text(SAUNA.replace("Harbour sauna opens", "Harbour sauna opening"))
    change = await watch_corpus(app.bot_data, watcher)
    assert [a.title for a in change.changed] == ["Harbour sauna opening"]
    assert "Harbour sauna opens" not in titles(app)
