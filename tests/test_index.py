import math
import random

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from bot.core.index import BM25Index

DOCS = [["ferry", "winter", "ferry"], ["library", "sunday"], ["ferry", "fare", "ticket", "pass"]]


def test_lucene_scores_match_a_hand_computation() -> None:
    index = BM25Index.build(DOCS, k1=1.2, b=0.75)
    # "ferry" is in 2 of 3 passages: idf = ln(1 + (3 - 2 + 0.5) / (2 + 0.5)) = ln(1.6).
    idf = math.log(1.6)
    avgdl = 9 / 3
    doc0 = idf * 2 / (2 + 1.2 * (1 - 0.75 + 0.75 * 3 / avgdl))
    doc2 = idf * 1 / (1 + 1.2 * (1 - 0.75 + 0.75 * 4 / avgdl))
    assert index.scores(["ferry"]) == pytest.approx([doc0, 0.0, doc2], abs=1e-12)
    # A term in every passage still counts for a little: Lucene's idf is never negative.
    everywhere = BM25Index.build([["a", "x"], ["a"], ["a", "y"]])
    assert (everywhere.scores(["a"]) > 0).all()


def test_repeated_query_terms_count_each_time() -> None:
    index = BM25Index.build(DOCS)
    assert index.scores(["ferry", "ferry"]) == pytest.approx(2 * index.scores(["ferry"]))


def test_unknown_terms_score_nothing() -> None:
    index = BM25Index.build(DOCS)
    assert not index.scores(["submarine"]).any()
    assert index.top_k(["submarine"], 5) == []


def test_top_k_orders_by_score_then_position() -> None:
    index = BM25Index.build([["b"], ["a"], ["a"], ["a", "a", "z"], ["c"]])
    # Length normalisation: one "a" in a 1-term passage beats two in a 3-term passage.
    assert [pos for pos, _ in index.top_k(["a"], 3)] == [1, 2, 3]
    ties = BM25Index.build([["a"], ["b"], ["a"], ["a"]]).top_k(["a"], 2)
    assert [pos for pos, _ in ties] == [0, 2]
    assert ties[0][1] == ties[1][1]


def test_top_k_is_the_sorted_prefix_of_scores() -> None:
    rng = random.Random(7)
    docs = [[rng.choice("abcdefgh") for _ in range(rng.randint(1, 12))] for _ in range(200)]
    index = BM25Index.build(docs)
    query = ["a", "c", "h"]
    scores = index.scores(query)
    expected = sorted(range(len(docs)), key=lambda i: (-scores[i], i))[:10]
    assert [pos for pos, _ in index.top_k(query, 10)] == expected


@pytest.mark.parametrize("seed", range(25))
def test_okapi_variant_equals_rank_bm25(seed: int) -> None:
    rng = random.Random(seed)
    vocabulary = [f"w{i}" for i in range(rng.randint(2, 40))]
    docs = [
        [rng.choice(vocabulary) for _ in range(rng.randint(1, 25))]
        for _ in range(rng.randint(1, 60))
    ]
    k1, b = rng.uniform(0.5, 2.0), rng.uniform(0.0, 1.0)
    reference = BM25Okapi(docs, k1=k1, b=b, epsilon=0.25)
    index = BM25Index.build(docs, k1=k1, b=b, variant="okapi", epsilon=0.25)
    for _ in range(5):
        query = [rng.choice([*vocabulary, "unseen"]) for _ in range(rng.randint(1, 6))]
        np.testing.assert_allclose(
            index.scores(query), reference.get_scores(query), rtol=0, atol=1e-9
        )


def test_unknown_variant_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown BM25 variant"):
        BM25Index.build(DOCS, variant="bm25+")  # type: ignore[arg-type]


def test_empty_index() -> None:
    index = BM25Index.build([])
    assert len(index) == 0
    assert index.top_k(["a"], 3) == []


def test_document_frequency_and_idf() -> None:
    index = BM25Index.build(DOCS)
    assert index.document_frequency("ferry") == 2
    assert index.document_frequency("nothing") == 0
    assert index.term_idf("nothing") > index.term_idf("library") > index.term_idf("ferry") > 0


def test_weighted_scores_scale_each_term() -> None:
    index = BM25Index.build(DOCS)
    expected = index.scores(["ferry"]) + 0.25 * index.scores(["ticket"])
    assert index.weighted_scores({"ferry": 1.0, "ticket": 0.25}) == pytest.approx(expected)


def test_matched_weight_sums_the_weights_of_the_terms_a_passage_has() -> None:
    index = BM25Index.build([["ferry", "ferry", "ticket"], ["ticket"], []])
    found = index.matched_weight({"ferry": 2.0, "ticket": 0.5, "nothing": 9.0})
    assert found.tolist() == [2.5, 0.5, 0.0]
