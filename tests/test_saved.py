"""The saved library: loaded, it answers as built; damage and change build it again."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from bot.__main__ import main
from bot.config import Settings
from bot.core import analysis, corpus, index, library, semantic
from bot.core.analysis import tokenize
from bot.core.corpus import Article, load_corpus
from bot.core.forms import answer_form
from bot.core.library import Library, LibraryConfig, LibraryParts
from bot.core.saved import (
    SavedArticles,
    SavedKey,
    SavedLibraryError,
    code_digest,
    load_library_parts,
    save_library,
)
from bot.loading import LIBRARY_DIR, load_library
from bot.store import Store
from bot.tg.app import build_application
from bot.tg.keys import LIBRARY, STORE
from tests.auxil.bot_api import RecordingRequest
from tests.auxil.embedders import BagOfWords
from tests.conftest import DATA

QUESTIONS = [
    "When is the last ferry?",
    "library Sundays",
    "港湾 公园",
    "unknownword",
    # Nine or more distinct words: feedback lends terms, read from the saved term counts.
    "ferry timetable winter crossing pier harbour festival library opening hours",
]
CONFIG = LibraryConfig()
KEY = SavedKey(CONFIG, None, {"corpus:a.md": "0" * 64})


def assert_same(built: Library, loaded: Library) -> None:
    """Every passage's scores and every question's hits are the same, bit for bit."""
    assert tuple(loaded.articles) == tuple(built.articles)
    assert list(loaded.passages) == list(built.passages)
    assert list(loaded.passage_terms) == list(built.passage_terms)
    assert [list(c.items()) for c in loaded.article_terms] == [
        list(c.items()) for c in built.article_terms
    ]
    for question in QUESTIONS:
        terms, form = tokenize(question), answer_form(question)
        vector = built.encode_query(question)
        one, two = built.evidence(terms, form, vector), loaded.evidence(terms, form, vector)
        assert np.array_equal(one.rows, two.rows)
        assert np.array_equal(one.fused, two.fused)
        assert np.array_equal(one.lexical, two.lexical)
        assert np.array_equal(built.scores(terms, form), loaded.scores(terms, form))
        assert [(h.row, h.score) for h in built.search(question)] == [
            (h.row, h.score) for h in loaded.search(question)
        ]


def test_a_saved_library_loads_with_the_same_scores(tmp_path: Path) -> None:
    built = Library(load_corpus(DATA / "good").articles, passage_chars=200)
    config = dataclasses.replace(CONFIG, passage_chars=200)
    save_library(built.parts, tmp_path / "library", KEY)
    parts, problems = load_library_parts(tmp_path / "library")
    assert problems == []
    assert_same(built, Library.from_parts(parts, config))
    assert [h.article.id for h in built.search(QUESTIONS[-1])]  # feedback had articles to read


def test_a_loaded_librarys_article_positions_make_no_article(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The bot reads every article's position after it starts, for its first change. Made from
    # the articles themselves, at 959k passages that decoded every text: 7.5 s and 1.1 GB kept.
    built = Library(load_corpus(DATA / "good").articles, passage_chars=200)
    save_library(built.parts, tmp_path / "library", KEY)
    parts, _ = load_library_parts(tmp_path / "library")
    loaded = Library.from_parts(parts, dataclasses.replace(CONFIG, passage_chars=200))

    def read(*_: object) -> Article:
        raise AssertionError("an article was made")

    with monkeypatch.context() as patched:
        patched.setattr(SavedArticles, "_read", read)
        positions = loaded.article_position
    assert positions == {a.id: i for i, a in enumerate(built.articles)}


def test_the_vectors_are_saved_too(tmp_path: Path) -> None:
    embedder = BagOfWords()
    built = Library(load_corpus(DATA / "good").articles, embedder=embedder)
    save_library(built.parts, tmp_path / "library", dataclasses.replace(KEY, model=embedder.name))
    parts, _ = load_library_parts(tmp_path / "library")
    loaded = Library.from_parts(parts, CONFIG, embedder)
    assert built.sentence_vectors is not None
    assert loaded.sentence_vectors is not None
    assert np.array_equal(built.sentence_vectors, loaded.sentence_vectors)
    assert_same(built, loaded)


def test_an_empty_library_round_trips(tmp_path: Path) -> None:
    save_library(Library([]).parts, tmp_path / "library", KEY)
    parts, _ = load_library_parts(tmp_path / "library")
    loaded = Library.from_parts(parts, CONFIG)
    assert len(loaded) == 0
    assert loaded.search("ferry") == []


def test_odd_text_round_trips(tmp_path: Path) -> None:
    # A lone surrogate (JSON allows "\ud800"), text beyond the BMP and every optional field.
    article = Article(
        "x",
        "Ferry 🚢",
        "Odd \ud800 text 渡轮. Second sentence.",
        None,
        "https://e.org",
        "en",
        ("a",),
    )
    save_library(Library([article]).parts, tmp_path / "library", KEY)
    parts, _ = load_library_parts(tmp_path / "library")
    assert tuple(parts.articles) == (article,)
    assert parts.passages[0].text == Library([article]).passages[0].text


def damage_truncate(directory: Path) -> None:
    path = directory / "passage_start.npy"
    path.write_bytes(path.read_bytes()[:-8])


def damage_alter(directory: Path) -> None:
    path = directory / "index" / "weights.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # same size, other value: only the hash tells
    path.write_bytes(bytes(data))


def damage_remove(directory: Path) -> None:
    (directory / "article_fields.npy").unlink()


def damage_manifest(directory: Path) -> None:
    (directory / "manifest.json").write_text("{not json")


def damage_version(directory: Path) -> None:
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["version"] = 99
    (directory / "manifest.json").write_text(json.dumps(manifest))


def damage_text(directory: Path) -> None:
    # Consistent sizes, altered content: another text of the same length.
    path = directory / "article_text.npy"
    data = bytearray(path.read_bytes())
    data[-2] = ord("!") if data[-2] != ord("!") else ord("?")
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage",
    [damage_truncate, damage_alter, damage_remove, damage_manifest, damage_version, damage_text],
)
def test_a_damaged_library_is_refused(tmp_path: Path, damage: object) -> None:
    save_library(Library(load_corpus(DATA / "good").articles).parts, tmp_path / "library", KEY)
    assert callable(damage)
    damage(tmp_path / "library")
    with pytest.raises(SavedLibraryError):
        load_library_parts(tmp_path / "library")


@pytest.fixture
def lexical(tmp_path: Path, corpus: Path) -> Settings:
    return Settings(corpus=corpus, data_dir=tmp_path / "data", semantic=False)


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of articles of each library built (not loaded) from now on."""
    built: list[int] = []
    derive = LibraryParts.derive.__func__  # type: ignore[attr-defined]

    def counted(
        cls: type[LibraryParts], /, articles: list[Article], *args: object, **kwargs: object
    ) -> LibraryParts:
        articles = list(articles)
        built.append(len(articles))
        parts: LibraryParts = derive(cls, articles, *args, **kwargs)
        return parts

    monkeypatch.setattr(LibraryParts, "derive", classmethod(counted))
    return built


@pytest.mark.parametrize("damage", [damage_truncate, damage_alter, damage_manifest])
def test_a_damaged_library_is_built_again_with_a_warning(
    lexical: Settings, builds: list[int], caplog: pytest.LogCaptureFixture, damage: object
) -> None:
    first = load_library(None, lexical)
    assert callable(damage)
    damage(lexical.data_dir / LIBRARY_DIR)
    with caplog.at_level(logging.WARNING):
        again = load_library(None, lexical)
    assert "building it again" in caplog.text
    assert len(builds) == 2
    assert_same(first, again)
    caplog.clear()
    load_library(None, lexical)  # saved whole again: loaded, no warning
    assert len(builds) == 2
    assert "building it again" not in caplog.text


def test_an_unchanged_corpus_is_loaded_and_a_changed_one_built(
    lexical: Settings, corpus: Path, builds: list[int]
) -> None:
    load_library(None, lexical)
    load_library(None, lexical)
    assert len(builds) == 1
    (corpus / "news" / "pool.md").write_text("---\ntitle: Pool\n---\nThe pool reopens in May.\n")
    library = load_library(None, lexical)
    assert len(builds) == 2
    assert library.search("pool reopens")[0].article.id == "news/pool.md"
    (corpus / "library-hours.txt").unlink()
    library = load_library(None, lexical)
    assert len(builds) == 3
    assert "library-hours.txt" not in {a.id for a in library.articles}
    load_library(None, lexical)
    assert len(builds) == 3


def test_a_few_changed_files_are_brought_up_to_date_not_built_again(
    tmp_path: Path, builds: list[int]
) -> None:
    folder = tmp_path / "notices"
    folder.mkdir()
    for number in range(40):
        text = f"Berth {number}\n\nThe harbour board's berth {number} closes for repairs."
        (folder / f"notice-{number}.txt").write_text(text)
    settings = Settings(corpus=folder, data_dir=tmp_path / "data", semantic=False)
    load_library(None, settings)
    assert builds == [40]
    (folder / "notice-3.txt").write_text("Berth 3\n\nThe pontoon at berth 3 reopens after a storm.")
    (folder / "notice-40.txt").write_text("Pier\n\nA new ferry pier opens at the marina on Friday.")
    (folder / "notice-7.txt").unlink()
    library = load_library(None, settings)
    # The edited and the new file are indexed, and the two taken out counted off (no vectors).
    assert builds == [40, 2, 2]
    assert library.search("pontoon reopens after a storm")[0].article.id == "notice-3.txt"
    assert library.search("ferry pier marina")[0].article.id == "notice-40.txt"
    assert "notice-7.txt" not in {a.id for a in library.articles}
    rebuilt = Library(load_corpus(folder).articles)
    for question in ("berth closes for repairs", "harbour board berth 12", "storm"):
        got = {h.article.id: h.score for h in library.search(question, k=50)}
        want = {h.article.id: h.score for h in rebuilt.search(question, k=50)}
        assert got == pytest.approx(want, rel=1e-9)


def test_settings_and_stored_announcements_are_part_of_the_key(
    lexical: Settings, builds: list[int]
) -> None:
    load_library(None, lexical)
    load_library(None, dataclasses.replace(lexical, passage_chars=300))
    assert len(builds) == 2
    post = Article("channel:1", "Ferry fares", "Ferry fares fall by a tenth on 1 June.")
    library = load_library(None, lexical, stored=[post])
    assert len(builds) == 3
    assert library.search("ferry fares fall")[0].article.id == "channel:1"
    load_library(None, lexical, stored=[post])
    assert len(builds) == 3


def test_corpus_problems_are_reported_at_every_start(
    tmp_path: Path, builds: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(corpus=DATA / "bad", data_dir=tmp_path / "data", semantic=False)
    load_library(None, settings)
    caplog.clear()
    load_library(None, settings)
    assert len(builds) == 1
    assert "latin1.txt: not UTF-8 text (byte 3)" in caplog.text


@pytest.mark.usefixtures("no_env")
def test_the_index_command_builds_ahead_and_ask_loads_it(
    tmp_path: Path, builds: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["index", "--corpus", str(DATA / "good")]) == 0
    out = capsys.readouterr().out
    assert f"in {tmp_path / 'data' / LIBRARY_DIR}" in out
    assert (tmp_path / "data" / LIBRARY_DIR / "manifest.json").is_file()
    assert main(["ask", "--corpus", str(DATA / "good"), "When is the last ferry?"]) == 0
    assert "22:10" in capsys.readouterr().out
    assert main(["search", "--corpus", str(DATA / "good"), "ferry"]) == 0
    assert len(builds) == 1  # ask and search loaded what index built


@pytest.mark.usefixtures("no_env")
def test_ask_serves_the_stored_announcements_too(
    tmp_path: Path, builds: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    with Store.open(tmp_path / "data") as store:
        post = Article("channel:7", "Ferry fares", "Ferry fares fall by a tenth on 1 June.")
        store.save_article(post, origin="channel")
    assert main(["ask", "--corpus", str(DATA / "good"), "--json", "Do ferry fares fall?"]) == 0
    assert json.loads(capsys.readouterr().out)["sources"][0]["id"] == "channel:7"
    assert main(["ask", "--corpus", str(DATA / "good"), "Do ferry fares fall?"]) == 0
    assert len(builds) == 1


def test_serve_builds_the_library_once(settings: Settings) -> None:
    # serve loads the library with the stored announcements in it: the application keeps it as
    # it is instead of indexing every article again; what it lacks still joins.
    library = Library(load_corpus(DATA / "good").articles)
    application = build_application(settings, library, request=RecordingRequest())
    assert application.bot_data[LIBRARY] is library
    store: Store = application.bot_data[STORE].store
    post = Article("channel:9", "Ferry fares", "Ferry fares fall by a tenth on 1 June.")
    store.save_article(post, origin="channel")
    store.close()
    application = build_application(settings, library, request=RecordingRequest())
    served: Library = application.bot_data[LIBRARY]
    assert served.search("ferry fares fall")[0].article.id == "channel:9"
    application.bot_data[STORE].store.close()
    with_post = Library([*library.articles, post])
    application = build_application(settings, with_post, request=RecordingRequest())
    assert application.bot_data[LIBRARY] is with_post
    application.bot_data[STORE].store.close()


@pytest.mark.parametrize("module", [analysis, corpus, index, library, semantic])
def test_a_change_to_the_code_that_makes_the_parts_makes_a_saved_library_stale(
    module: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Passage vectors are sentences' centroids (bot.core.semantic): its code makes parts too."""
    before = code_digest()
    assert module.__file__ is not None
    changed = tmp_path / "changed.py"
    changed.write_bytes(Path(module.__file__).read_bytes() + b"\n# changed\n")
    monkeypatch.setattr(module, "__file__", str(changed))
    assert code_digest() != before
