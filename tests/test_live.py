"""A library changed in segments (bot.core.live) scores as the library rebuilt from scratch.

The property tests apply random sequences of additions, replacements and removals both ways and
compare every score a question gets: lexical, then fused with the bag-of-words stand-in embedder.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core import library as library_module
from bot.core.analysis import tokenize
from bot.core.corpus import Article, load_corpus
from bot.core.forms import answer_form
from bot.core.library import Library
from bot.core.live import LiveLibrary, Picked, Rows, changed, merge
from bot.core.saved import SavedArticles, load_library_parts, save_library
from bot.core.terms import ArticleTerms
from tests.auxil.embedders import BagOfWords
from tests.conftest import DATA
from tests.test_index import assert_same_index
from tests.test_saved import CONFIG, KEY, assert_same

# Few words, so that terms are shared (document frequencies move) and some sentences repeat.
WORDS = st.sampled_from(
    ["ferry", "park", "price", "fares", "dawn", "dusk", "opens", "closes", "harbour", "new", "old",
     "winter", "12", "2024", "the", "at", "is"]
)  # fmt: skip
SENTENCE = st.lists(WORDS, min_size=1, max_size=9).map(lambda w: " ".join(w) + ".")
TEXT = st.lists(SENTENCE, min_size=1, max_size=6).map(" ".join)
TITLE = st.lists(WORDS, min_size=1, max_size=3).map(" ".join)
IDS = st.sampled_from([f"a{i}" for i in range(8)])
ARTICLE = st.builds(Article, id=IDS, title=TITLE, text=TEXT)
# A change: articles put in (an id already there is replaced) and ids taken out.
CHANGE = st.tuples(
    st.lists(ARTICLE, max_size=2, unique_by=lambda a: a.id), st.lists(IDS, max_size=2)
)
BASE = st.lists(ARTICLE, max_size=6, unique_by=lambda a: a.id)
QUESTIONS = [
    "when does the ferry open",
    "new ferry fares in winter",
    "price",
    # Nine distinct terms or more: pseudo-relevance feedback lends the query terms.
    "ferry park price fares dawn dusk opens closes harbour winter",
    "how much is the old harbour park",
    "unknown words only",
]
TIGHT = 1e-9  # relative; scores sum the same terms, maybe in another order
# Cosines are float32: a segment's matrix product may round its last bit differently from the
# whole's, and the fusion's min-max scaling magnifies that a little.
FUSED = 1e-5
SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def apply_both(
    base: Library,
    changes: Sequence[tuple[list[Article], list[str]]],
    scratch: Library | None = None,
) -> tuple[Library, Library]:
    """``changes`` applied to ``base`` in segments, and to ``scratch`` (default: ``base``) by
    building again."""
    live, scratch = base, base if scratch is None else scratch
    for added, removed in changes:
        live = changed(live, added, removed)
        scratch = scratch.replace(added, removed)
    return live, scratch


def live_rows(library: Library) -> npt.NDArray[np.bool_]:
    rows = np.ones(len(library.passages), dtype=bool)
    if library.removed_rows is not None:
        rows &= ~library.removed_rows
    return rows


def assert_same_answers(live: Library, scratch: Library) -> None:
    assert list(live.articles) == list(scratch.articles)
    rows = live_rows(live)
    assert [live.passages[i] for i in np.flatnonzero(rows).tolist()] == list(scratch.passages)
    rebuilt = np.cumsum(rows) - 1  # a live row's row in the library built from scratch
    for question in QUESTIONS:
        terms, form = tokenize(question), answer_form(question)
        every = live.scores(terms, form)
        assert np.allclose(every[rows], scratch.scores(terms, form), rtol=TIGHT, atol=1e-12)
        assert not every[~rows].any(), "a removed passage scored"
        vector = live.encode_query(question)
        ours = live.evidence(terms, form, vector)
        theirs = scratch.evidence(terms, form, scratch.encode_query(question))
        assert not ours.fused[~rows[ours.rows]].any(), "a removed passage scored"
        if vector is None:  # float32 cosines may order near-equal passages either way
            found = [(h.passage, h.score) for h in live.best_per_article(ours.fused, 10, ours.rows)]
            expected = scratch.best_per_article(theirs.fused, 10, theirs.rows)
            assert [p for p, _ in found] == [h.passage for h in expected]
            assert [s for _, s in found] == pytest.approx([h.score for h in expected], rel=TIGHT)
        else:  # a few passages: every one is a candidate of the fusion
            assert rebuilt[ours.rows].tolist() == theirs.rows.tolist()
            assert np.allclose(ours.lexical, theirs.lexical, rtol=TIGHT, atol=1e-12), question
            assert np.allclose(ours.fused, theirs.fused, rtol=FUSED, atol=FUSED / 10), question
        for term in terms:
            assert live.index.document_frequency(term) == scratch.index.document_frequency(term)
            assert live.index.term_idf(term) == pytest.approx(scratch.index.term_idf(term))
    assert set(live.index.vocabulary) == set(scratch.index.vocabulary)


@SLOW
@given(BASE, st.lists(CHANGE, min_size=1, max_size=5))
def test_a_changed_library_scores_as_one_built_from_scratch(
    base: list[Article], changes: list[tuple[list[Article], list[str]]]
) -> None:
    live, scratch = apply_both(Library(base, passage_chars=80), changes)
    assert_same_answers(live, scratch)


@SLOW
@given(BASE, st.lists(CHANGE, min_size=1, max_size=4))
def test_fused_scores_of_a_changed_library_equal_those_built_from_scratch(
    base: list[Article], changes: list[tuple[list[Article], list[str]]]
) -> None:
    embedder = BagOfWords()
    live, scratch = apply_both(Library(base, passage_chars=80, embedder=embedder), changes)
    assert_same_answers(live, scratch)
    if isinstance(live, LiveLibrary):  # a merge is the plain library of the same articles
        assert_merged_as_built(merge(live), scratch)


def assert_merged_as_built(merged: Library, built: Library) -> None:
    """A merge's library is a build's: the same tables and indexes, so the same scores."""
    assert not isinstance(merged, LiveLibrary)
    assert_same(built, merged)
    for name in ("index", "article_index", "pair_index", "sentence_index"):
        assert_same_index(getattr(merged, name), getattr(built, name))
    for name in ("article_of", "article_first", "sentence_passage", "sentence_first"):
        assert np.array_equal(getattr(merged, name), getattr(built, name)), name
    for name in ("passage_vectors", "sentence_vectors"):
        ours, theirs = getattr(merged, name), getattr(built, name)
        assert (ours is None and theirs is None) or np.array_equal(ours, theirs), name


@SLOW
@given(BASE, st.lists(st.lists(CHANGE, min_size=1, max_size=3), min_size=1, max_size=3))
def test_merging_a_changed_library_again_and_again_equals_building_it(
    base: list[Article], rounds: list[list[tuple[list[Article], list[str]]]]
) -> None:
    """Changes, a merge, more changes, another merge...: each merge equals a build, vectors too."""
    live = scratch = Library(base, passage_chars=80, embedder=BagOfWords())
    for changes in rounds:
        live, scratch = apply_both(live, changes, scratch)
        if isinstance(live, LiveLibrary):
            live = merge(live)
            assert_merged_as_built(live, scratch)


def test_a_merge_reads_a_saved_library_through_rather_than_making_its_items(
    tmp_path: Path,
) -> None:
    """A saved base's articles, passages and terms stay made when read, merge after merge."""
    built = Library(load_corpus(DATA / "good").articles, passage_chars=200)
    save_library(built.parts, tmp_path / "library", KEY)
    parts, _ = load_library_parts(tmp_path / "library")
    live: Library = Library.from_parts(parts, dataclasses.replace(CONFIG, passage_chars=200))
    scratch = built
    for number in range(3):
        post = Article(f"post{number}", f"Ferry notice {number}", f"The ferry {number} is late.")
        changes = [([post], [built.articles[number].id])]
        live, scratch = apply_both(live, changes, scratch)
        assert isinstance(live, LiveLibrary)
        live = merge(live)
        assert_merged_as_built(live, scratch)
        for rows in (live.articles, live.passages):
            # The saved sequence read through, and one list of the posts since: never deeper.
            assert isinstance(rows, Picked)
            assert isinstance(rows.items, Rows)
            assert [type(p) for p in rows.items.parts][1:] == [list]
            if rows is live.articles:
                assert isinstance(rows.items.parts[0], SavedArticles)
        # Term counts are arrays of the merged index's rows: no other index is kept for them.
        assert isinstance(live.article_terms, ArticleTerms)
        assert live.article_terms.article_index is live.article_index


def test_a_merge_tokenizes_and_embeds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    embedder = BagOfWords()
    base = Library(
        [Article(f"a{i}", f"Park {i}", f"The park {i} opens at dawn.") for i in range(5)],
        embedder=embedder,
    )
    live = changed(base, [Article("post", "Ferry", "The new ferry sails at noon.")], ["a1"])
    assert isinstance(live, LiveLibrary)
    embedder.embedded.clear()
    with monkeypatch.context() as patched:
        patched.setattr(library_module, "tokenize", None)  # calling it fails the merge
        merged = merge(live)
    assert embedder.embedded == []
    assert merged.search("when does the ferry sail")[0].article.id == "post"
    assert [a.id for a in merged.articles] == ["a0", "a2", "a3", "a4", "post"]


def test_a_change_embeds_and_serves_only_its_own_article() -> None:
    embedder = BagOfWords()
    base = Library(
        [Article(f"a{i}", f"Park {i}", f"The park {i} opens at dawn.") for i in range(5)],
        embedder=embedder,
    )
    embedder.embedded.clear()
    post = Article("post", "Ferry", "The new ferry sails at noon.")
    live = changed(base, [post], ["a1"])
    # The passage and its one sentence are the same text: embedded once.
    assert embedder.embedded == ["Ferry\nThe new ferry sails at noon."]
    assert live.search("when does the ferry sail")[0].article.id == "post"
    # Every live article is a candidate of the fusion; the removed one never is.
    assert [h.article.id for h in live.search("park 1 opens at dawn", k=10)] == [
        "a0", "a2", "a3", "a4", "post"
    ]  # fmt: skip
    # Segments are views: the base's rows are not copied into the change.
    assert isinstance(live, LiveLibrary)
    assert live.segments[0].library is base
    assert len(live.segments[1].library.passages) == 1


def test_removing_every_article_leaves_an_empty_library_that_answers_nothing() -> None:
    base = Library([Article("a", "Ferry", "The ferry sails at dawn.")])
    live = changed(base, removed=["a"])
    assert not live.articles
    assert live.search("ferry") == []


def test_the_okapi_variant_is_rebuilt_rather_than_segmented() -> None:
    base = Library([Article("a", "Ferry", "The ferry sails at dawn.")], variant="okapi")
    live = changed(base, [Article("b", "Park", "The park opens.")])
    assert not isinstance(live, LiveLibrary)
    assert [a.id for a in live.articles] == ["a", "b"]


def test_a_view_reads_its_segments_lists_as_one() -> None:
    base = Library([Article(f"a{i}", "Park", "The park opens.") for i in range(3)])
    live = changed(base, [Article("b", "Ferry", "The ferry sails.")], ["a1"])
    ids = ["a0", "a2", "b"]
    assert [a.id for a in live.articles] == ids
    assert [live.articles[i].id for i in range(-3, 3)] == ids * 2
    assert [a.id for a in live.articles[1:]] == ids[1:]
    with pytest.raises(IndexError):
        live.articles[3]
    assert len(live.passages) == 4  # a1's passage keeps its row, never scored
    assert live.passage_count == 3
