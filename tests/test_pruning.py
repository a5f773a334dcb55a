"""Scoring only the passages worth scoring (bot.core.pruning) gives them every passage's scores.

The property tests draw small libraries of few words, so that scores tie and terms are shared,
and questions of those words: with a date or a count asked for (the answer's form), with CJK
terms (no sentence evidence). With pruning on at any size and depths beyond the library's, the
candidates hold every passage that scores, the evidence scores them as scoring every passage
does, bit for bit, and finds the same best articles and passages. With nine terms or more,
feedback's lent terms reorder the passages that the question's own words found. The examples
show what pruning leaves out.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core import pruning
from bot.core.analysis import tokenize
from bot.core.corpus import Article
from bot.core.forms import answer_form
from bot.core.index import top_k
from bot.core.library import Hit, Library
from bot.core.live import changed
from tests.auxil.embedders import BagOfWords

WORDS = st.sampled_from(
    ["ferry", "park", "price", "fares", "dawn", "dusk", "opens", "closes", "harbour", "new", "old",
     "winter", "pier", "market", "12", "2024", "May", "the", "at", "渡轮", "公园"]
)  # fmt: skip
SENTENCE = st.lists(WORDS, min_size=1, max_size=8).map(lambda w: " ".join(w) + ".")
PARAGRAPH = st.lists(SENTENCE, min_size=1, max_size=3).map(" ".join)
TEXT = st.lists(PARAGRAPH, min_size=1, max_size=3).map("\n\n".join)
TITLE = st.lists(WORDS, min_size=1, max_size=3).map(" ".join)
ARTICLES = st.lists(
    st.builds(Article, id=st.integers(0, 30).map(str), title=TITLE, text=TEXT),
    min_size=1,
    max_size=12,
    unique_by=lambda a: a.id,
)
# Questions of eight words at most: feedback (nine terms or more) is drawn apart.
QUESTION = st.tuples(
    st.sampled_from(["", "When does the ", "How many "]), st.lists(WORDS, min_size=1, max_size=8)
).map(lambda q: q[0] + " ".join(q[1]))
LONG_QUESTION = st.lists(WORDS, min_size=9, max_size=16, unique=True).map(" ".join)
SLOW = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@contextmanager
def pruned(articles: int = 1000, sentences: int = 1000) -> Iterator[None]:
    """Pruning on however few passages, reading ``articles`` and ``sentences`` deep."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pruning, "PRUNE_FROM", 0)
        patch.setattr(pruning, "ARTICLE_DEPTH", articles)
        patch.setattr(pruning, "SENTENCE_DEPTH", sentences)
        yield


def found(hits: list[Hit]) -> list[tuple[int, float]]:
    return [(h.row, h.score) for h in hits]


def assert_scored_as_every_passage(library: Library, question: str) -> None:
    terms, form = tokenize(question), answer_form(question)
    k = len(library.articles)  # every article ranked: no ties beyond the depth
    every = library.scores(terms, form)
    with pruned():
        evidence = library.evidence(terms, form, k=k)
        passages = library.passage_hits(terms, k, form)
    assert evidence.rows.tolist() == sorted(set(evidence.rows.tolist()))
    # The candidates hold every passage that scores, and get its scores, bit for bit.
    left = np.ones(every.size, dtype=bool)
    left[evidence.rows] = False
    assert not every[left].any()
    assert evidence.fused.tolist() == every[evidence.rows].tolist()
    ranked = library.best_per_article(evidence.fused, k, evidence.rows)
    assert found(ranked) == found(library.best_per_article(every, k))
    assert found(passages) == top_k(every, k)


@SLOW
@given(ARTICLES, QUESTION)
def test_the_passages_worth_scoring_score_as_when_every_passage_is_scored(
    articles: list[Article], question: str
) -> None:
    assert_scored_as_every_passage(Library(articles, passage_chars=60), question)


@SLOW
@given(ARTICLES, ARTICLES, st.lists(st.integers(0, 30).map(str)), QUESTION)
def test_a_changed_library_s_passages_worth_scoring_score_as_all_of_its_passages(
    base: list[Article], added: list[Article], removed: list[str], question: str
) -> None:
    # Its indexes are views of segments, scored under the statistics of the whole.
    library = changed(Library(base, passage_chars=60), added, removed)
    assert_scored_as_every_passage(library, question)


@SLOW
@given(ARTICLES, LONG_QUESTION)
def test_feedback_reorders_the_passages_the_question_s_own_words_found(
    articles: list[Article], question: str
) -> None:
    library = Library(articles, passage_chars=60)
    terms = tokenize(question)
    every = library.scores(terms)
    with pruned():
        evidence = library.evidence(terms, k=len(articles))
    assert evidence.fused.tolist() == every[evidence.rows].tolist()
    # Every passage of an article with one of the question's words is there.
    own = library.article_index.matched_weight(dict.fromkeys(terms, 1.0))[library.article_of]
    own[evidence.rows] = 0.0
    assert not own.any()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ARTICLES, QUESTION)
def test_the_fusion_reads_the_same_lexical_scores_pruned_or_not(
    articles: list[Article], question: str
) -> None:
    library = Library(articles, passage_chars=60, embedder=BagOfWords())
    terms, form, vector = tokenize(question), answer_form(question), library.encode_query(question)
    every = library.evidence(terms, form, vector)
    with pruned():
        evidence = library.evidence(terms, form, vector)
    assert evidence.rows.tolist() == every.rows.tolist()
    assert evidence.lexical.tolist() == every.lexical.tolist()
    assert evidence.fused.tolist() == every.fused.tolist()


def test_an_article_with_only_a_word_feedback_lends_is_not_scored() -> None:
    # Feedback lends "timetable" of the ferry notice; the pier notice has only that word.
    ferry = Article("f", "Ferry", "The ferry from the old harbour sails at dawn; timetable inside.")
    pier = Article("p", "Pier", "The pier timetable.")
    question = tokenize("ferry old harbour sails dawn winter fares pass ticket")
    library = Library([ferry, pier])
    assert library.scores(question)[1] > 0  # scoring every passage, "p" scores
    with pruned():
        evidence = library.evidence(question)
    assert evidence.rows.tolist() == [0]


def test_copies_past_the_best_few_are_not_scored() -> None:
    # Copies tie in every index: only the first k of them can be among the k best.
    copies = [Article(f"c{i}", "Ferry", "The ferry sails at dawn.") for i in range(30)]
    other = Article("o", "Harbour", "The harbour ferry sails at dusk from the old pier.")
    library = Library([*copies, other])
    with pruned():
        evidence = library.evidence(tokenize("when does the ferry sail"), k=3)
    assert sorted(library.passages[i].article.id for i in evidence.rows) == ["c0", "c1", "c2", "o"]
    assert [h.article.id for h in library.search("ferry sails at dawn", k=3)] == ["c0", "c1", "c2"]


def test_a_passage_is_found_by_its_article_or_by_its_best_sentence() -> None:
    # "a" has the question's words most often, each in a sentence of its own: its article ranks
    # first. "b" has them once, in one sentence: the best sentence, and the best passage.
    a = Article("a", "Harbour", "Winter winter winter. Ferry ferry ferry. Fares fares fares.")
    b = Article(
        "b",
        "Notes",
        "Winter ferry fares rise for all who travel on the long route. The pier is closed.",
    )
    library = Library([a, b])
    question = tokenize("winter ferry fares")

    def scored(articles: int, sentences: int) -> list[str]:
        with pruned(articles, sentences):
            evidence = library.evidence(question, k=1)
        return [library.passages[i].article.id for i in evidence.rows]

    assert scored(articles=1, sentences=0) == ["a"]
    assert scored(articles=0, sentences=1) == ["b"]
    assert scored(articles=1, sentences=1) == ["a", "b"]
    assert library.search("winter ferry fares", k=1)[0].article.id == "b"
