"""Tests of the evaluation: metrics against hand-computed values, a tiny set end to end, and
``--limit 200`` runs over the shared sets as a regression guard (sane ranges, not targets)."""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from bot.core.corpus import Article, load_corpus
from bot.core.library import Library
from bot.evaluate import (
    EvalSet,
    Query,
    Reach,
    RememberedQuestions,
    Report,
    answer_reach,
    evaluate,
    evaluate_offtopic,
    format_table,
    load_eval_set,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
    run_eval,
)
from tests.auxil.embedders import BagOfWords
from tests.conftest import SHARED_EVAL

LIMIT = 200

# --- Metrics -----------------------------------------------------------------------------------


def test_graded_ndcg_uses_linear_gain_and_the_ideal_from_the_qrels() -> None:
    ranking = ["d1", "d2", "d3", "d4"]
    qrels = {"d1": 1, "d2": 0, "d3": 3, "d5": 2}  # d5 is relevant but never retrieved
    # DCG@3  = 1/log2(2) + 0/log2(3) + 3/log2(4)  = 1 + 0 + 1.5         = 2.5
    # IDCG@3 = 3/log2(2) + 2/log2(3) + 1/log2(4)  = 3 + 1.26186 + 0.5   = 4.76186
    # nDCG@3 = 2.5 / 4.76186 = 0.52501
    assert ndcg_at_k(ranking, qrels, 3) == pytest.approx(0.52501, abs=1e-5)
    # At k=1 only d1 counts against the best grade: 1 / 3.
    assert ndcg_at_k(ranking, qrels, 1) == pytest.approx(1 / 3)
    assert ndcg_at_k(["d3", "d5", "d1"], qrels, 10) == pytest.approx(1.0)


def test_recall_with_several_relevant_documents() -> None:
    qrels = {"a": 1, "b": 2, "c": 1, "x": 0, "y": -1}  # x and y are judged, not relevant
    ranking = ["b", "x", "a", "y", "d"]
    assert recall_at_k(ranking, qrels, 1) == pytest.approx(1 / 3)
    assert recall_at_k(ranking, qrels, 2) == pytest.approx(1 / 3)
    assert recall_at_k(ranking, qrels, 3) == pytest.approx(2 / 3)
    assert recall_at_k(ranking, qrels, 100) == pytest.approx(2 / 3)


def test_mrr_is_the_reciprocal_rank_of_the_first_relevant_document_within_k() -> None:
    qrels = {"a": 1, "b": 1, "x": 0}
    assert mrr_at_k(["x", "d", "a", "b"], qrels, 10) == pytest.approx(1 / 3)
    assert mrr_at_k(["x", "d", "a", "b"], qrels, 2) == 0.0
    assert mrr_at_k(["b"], qrels, 10) == 1.0


def test_an_empty_ranking_or_nothing_relevant_scores_zero() -> None:
    qrels = {"a": 2, "b": 1}
    for metric in (ndcg_at_k, recall_at_k, mrr_at_k):
        assert metric([], qrels, 10) == 0.0
        assert metric(["a", "b"], {"a": 0, "b": -1}, 10) == 0.0
        assert metric(["a", "b"], {}, 10) == 0.0


# --- A tiny set, end to end --------------------------------------------------------------------

CORPUS = [
    {
        "id": "a",
        "title": "Mars shuttle",
        "text": "The Mars shuttle ticket costs 12,400 dollars. Boarding opens in March.",
    },
    {
        "id": "b",
        "title": "Office move",
        "text": "The Berlin office moves to Alexanderplatz on 1 June. Desks are packed in May.",
    },
    {"id": "c", "title": "Cafeteria", "text": "The cafeteria serves vegan ramen every Friday."},
]
QUERIES: list[dict[str, object]] = [
    {"id": "q1", "text": "What does a Mars shuttle ticket cost?", "answers": ["12,400 DOLLARS"]},
    {"id": "q2", "text": "Where does the Berlin office move?", "answers": ["", "alexanderplatz"]},
    {"id": "q3", "text": "What is the weather on Jupiter?", "answers": ["cold"]},
]
# q1 has a second relevant article that shares no word with it; q3 has no judgments at all.
QRELS = "query-id\tcorpus-id\tscore\nq1\ta\t2\nq1\tc\t1\n\nq2\tb\t1\nq2\tc\t0\n"


def write_set(folder: Path, queries: list[dict[str, object]], qrels: str = QRELS) -> Path:
    folder.mkdir()
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in CORPUS))
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (folder / "qrels.tsv").write_text(qrels)
    return folder


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_set(tmp_path / "tiny", QUERIES)


def test_load_eval_set_reads_queries_in_order_and_skips_the_qrels_header(tiny: Path) -> None:
    eval_set = load_eval_set(tiny)
    assert eval_set.corpus_path == tiny / "corpus.jsonl"
    assert [q.id for q in eval_set.queries] == ["q1", "q2", "q3"]
    assert eval_set.queries[1].answers == ("alexanderplatz",)  # the empty gold string is dropped
    assert eval_set.qrels == {"q1": {"a": 2, "c": 1}, "q2": {"b": 1, "c": 0}}


def test_load_eval_set_names_the_line_of_a_bad_judgment(tiny: Path) -> None:
    (tiny / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq1\ta\thigh\n")
    with pytest.raises(ValueError, match=r"qrels\.tsv:2: score 'high' is not an integer"):
        load_eval_set(tiny)


def test_evaluate_scores_rankings_and_replies(tiny: Path) -> None:
    library = Library(load_corpus(tiny / "corpus.jsonl").articles)
    report = evaluate(library, load_eval_set(tiny))
    # q1 finds only a (c shares no word with it): nDCG = 2 / (2 + 1/log2(3)), recall 1/2, RR 1.
    # q2 finds b first: 1 everywhere. q3 has no judgments and is left out of the ranking figures.
    assert report.queries == 2
    assert report.ndcg_at_10 == pytest.approx((2 / (2 + 1 / math.log2(3)) + 1) / 2)
    assert report.recall_at_1 == report.recall_at_100 == pytest.approx((1 / 2 + 1) / 2)
    assert report.mrr_at_10 == 1.0
    # q1 and q2 show their answer (case aside); nothing covers Jupiter's weather.
    assert report.asked == 3
    assert report.answer_shown == pytest.approx(2 / 3)
    assert report.abstained == pytest.approx(1 / 3)
    assert list(report.to_json()) == [
        "queries",
        "ndcg@10",
        "recall@1",
        "recall@5",
        "recall@10",
        "recall@100",
        "mrr@10",
        "answer_shown",
        "abstained",
        "all_shown",
    ]


def test_answer_reach_follows_each_answer_into_the_reply(tmp_path: Path) -> None:
    ferry = Article("a", "Ferry", "The ferry leaves the pier at dawn.\n\nTickets cost 3 euros.")
    library = Library([ferry, Article("b", "Park", "The park closes at dusk.")])
    question = "When does the ferry leave the pier?"
    queries = [
        # Quoted from the right article, and shown.
        Query("shown", question, ("at dawn",)),
        # In a window of the cited text, but not the one quoted.
        Query("other window", question, ("3 euros",)),
        # In the cited text, across a paragraph break that no window crosses.
        Query("no window", question, ("dawn.\n\ntickets",)),
        # Shown, though the judgments want another article.
        Query("wrong article", question.replace("When", "Why"), ("the pier",)),
        Query("declined", "What is the weather on Jupiter?", ("cold",)),
    ]
    qrels = {q.id: {"a": 1} for q in queries} | {"wrong article": {"b": 1}}
    reach = answer_reach(library, EvalSet(tmp_path / "corpus.jsonl", queries, qrels))
    assert reach == Reach(asked=5, right_article=3 / 5, in_text=4 / 5, in_window=3 / 5, shown=2 / 5)


def test_limit_takes_the_first_questions_in_file_order(tiny: Path) -> None:
    library = Library(load_corpus(tiny / "corpus.jsonl").articles)
    report = evaluate(library, load_eval_set(tiny), limit=1)
    assert (report.queries, report.asked, report.recall_at_1) == (1, 1, 0.5)


def test_a_set_without_answers_reports_no_reply_figures(tiny: Path) -> None:
    library = Library(load_corpus(tiny / "corpus.jsonl").articles)
    bare = EvalSet(tiny / "corpus.jsonl", [Query("q2", "Berlin office")], {"q2": {"b": 1}})
    report = evaluate(library, bare)
    assert report.answer_shown is None
    assert report.abstained is None
    assert set(report.to_json()) == {
        "queries",
        "ndcg@10",
        "recall@1",
        "recall@5",
        "recall@10",
        "recall@100",
        "mrr@10",
    }
    assert "answer shown" not in format_table(report)


def test_run_eval_puts_the_other_sets_questions_to_the_same_library(
    tiny: Path, tmp_path: Path
) -> None:
    offtopic = write_set(
        tmp_path / "offtopic",
        [
            {"id": "o1", "text": "Who won the chess final?"},
            {"id": "o2", "text": "What is the weather on Jupiter?"},
            {"id": "o3", "text": "When does the Mars shuttle board?"},  # on topic after all
        ],
        "query-id\tcorpus-id\tscore\n",
    )
    report, declined = run_eval(tiny, limit=None, offtopic=offtopic)
    assert report.queries == 2
    assert declined == pytest.approx(2 / 3)
    assert run_eval(tiny, limit=2, offtopic=offtopic)[1] == 1.0
    assert run_eval(tiny, limit=None, offtopic=None)[1] is None


def test_evaluate_offtopic_counts_every_kind_of_decline(tiny: Path) -> None:
    library = Library(load_corpus(tiny / "corpus.jsonl").articles)
    assert evaluate_offtopic(library, ["the of and", "Jupiter weather", "Mars shuttle"]) == 2 / 3
    assert evaluate_offtopic(library, []) == 0.0


def test_format_table_aligns_every_row() -> None:
    report = Report(3, 0.5, 0.25, 0.5, 0.75, 1.0, 0.5, 3, 2 / 3, 1 / 3)
    table = format_table(report, offtopic=0.9)
    lines = table.splitlines()
    assert len({len(line) for line in lines}) == 1
    assert lines[0].split() == ["queries", "3"]
    assert lines[-1].split() == ["off-topic", "declined", "0.9000"]
    assert "answer shown" in table
    assert "0.6667" in table


# --- The shared sets: --limit 200 as a regression guard ----------------------------------------


def shared(name: str) -> Path:
    folder = SHARED_EVAL / name
    if not (folder / "corpus.jsonl").is_file():
        pytest.skip(
            f"{folder.resolve()} is absent (a user's clone has no ../shared/eval; CI has it)"
        )
    return folder


@cache
def shared_library(name: str) -> Library:
    # Built once per corpus for the whole module: the off-topic tests reuse the same libraries.
    return Library(load_corpus(shared(name) / "corpus.jsonl").articles)


@pytest.mark.parametrize(
    ("name", "min_ndcg", "min_recall_10", "has_answers"),
    [("squad", 0.5, 0.8, True), ("cmrc2018", 0.8, 0.9, True), ("cranfield", 0.2, 0.25, False)],
)
def test_shared_set_figures_are_in_a_sane_range(
    name: str, min_ndcg: float, min_recall_10: float, has_answers: bool
) -> None:
    report = evaluate(shared_library(name), load_eval_set(shared(name)), limit=LIMIT)
    assert report.queries == LIMIT
    assert min_ndcg < report.ndcg_at_10 <= 1
    assert report.recall_at_100 >= report.recall_at_10 >= report.recall_at_5 >= report.recall_at_1
    assert report.recall_at_10 > min_recall_10
    assert 0 < report.mrr_at_10 <= 1
    if has_answers:
        assert report.answer_shown is not None
        assert report.abstained is not None
        assert report.answer_shown > 0.5
        assert report.abstained < 0.4  # the bot still answers most in-domain questions
    else:
        assert report.answer_shown is None


@pytest.mark.parametrize(
    ("corpus", "questions"),
    [("cranfield", "squad"), ("squad", "cranfield"), ("squad", "cmrc2018")],
)
def test_offtopic_questions_are_mostly_declined(corpus: str, questions: str) -> None:
    asked = [q.text for q in load_eval_set(shared(questions)).queries[:LIMIT]]
    declined = evaluate_offtopic(shared_library(corpus), asked)
    assert 0.85 < declined <= 1


def test_a_question_asked_of_two_libraries_is_embedded_once() -> None:
    """quality.py asks SQuAD's questions of three libraries: each embedding took 30 ms."""
    model = BagOfWords()
    remembered = RememberedQuestions(model)
    articles = [Article("pool", "Pool news", "The swimming pool reopens on 4 May.")]
    for _ in range(2):
        library = Library(articles, embedder=remembered)
        assert library.search("when does the pool reopen")
    assert model.asked == ["when does the pool reopen"]
    assert np.array_equal(
        remembered.queries(["when does the pool reopen"]),
        BagOfWords().queries(["when does the pool reopen"]),
    )
