import json
import math
import random
from collections.abc import Callable, Sequence
from pathlib import Path

import bm25s
import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from bot.core import index as index_module
from bot.core.index import (
    FORMAT_VERSION,
    BM25Index,
    IndexBuilder,
    IndexFormatError,
    Variant,
    top_k,
)

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


def random_corpus(rng: random.Random, zipf: bool = True) -> list[list[str]]:
    """A corpus whose word frequencies fall off like a language's, so queries mix rare and
    frequent words (and empty passages happen)."""
    size = rng.randint(1, 40)
    vocabulary = [f"w{i}" for i in range(size)]
    frequency = [1 / (i + 1) if zipf else 1.0 for i in range(size)]
    return [
        rng.choices(vocabulary, frequency, k=rng.randint(0, 30)) for _ in range(rng.randint(1, 300))
    ]


@pytest.mark.parametrize("seed", range(15))
def test_lucene_variant_equals_bm25s(seed: int) -> None:
    rng = random.Random(seed)
    docs = [doc or ["filler"] for doc in random_corpus(rng)]  # bm25s cannot index nothing
    k1, b = rng.uniform(0.5, 2.0), rng.uniform(0.0, 1.0)
    reference = bm25s.BM25(k1=k1, b=b, method="lucene", dtype="float64")
    reference.index(docs, show_progress=False)
    index = BM25Index.build(docs, k1=k1, b=b)
    for _ in range(5):
        query = list({rng.choice([*docs[0], *docs[-1], "unseen"]) for _ in range(4)})
        np.testing.assert_allclose(
            index.scores(query), reference.get_scores(query), rtol=1e-12, atol=1e-12
        )


# Small corpora are scored whole by default: these settings make them take every pruning step.
PRUNE_ALWAYS = {
    "PRUNE_MIN_PASSAGES": 0,
    "SEED_SHARE": 1.0,
    "CANDIDATE_SHARE": 1.0,
    "FLOOR_SAMPLE": 4,
}


@pytest.mark.parametrize("tuning", [{}, PRUNE_ALWAYS], ids=["default", "prune-always"])
@pytest.mark.parametrize("seed", range(40))
def test_top_k_equals_sorting_every_score(
    seed: int, tuning: dict[str, float], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pruned or not, top_k is the exact sorted prefix of scores(): same passages, same bits."""
    for name, value in tuning.items():
        monkeypatch.setattr(index_module, name, value)
    rng = random.Random(seed)
    docs = random_corpus(rng, zipf=seed % 4 != 0)
    variant: Variant = "okapi" if seed % 3 == 0 else "lucene"
    index = BM25Index.build(docs, variant=variant)
    words = [*sorted({t for d in docs for t in d}), "unseen"]
    for _ in range(8):
        query = rng.choices(words, k=rng.randint(1, 6))  # duplicates included
        scores = index.scores(query)
        for k in (1, 3, 10, len(docs), len(docs) + 5):
            expected = sorted(
                (i for i in range(len(docs)) if scores[i] > 0), key=lambda i: (-scores[i], i)
            )[:k]
            found = index.top_k(query, k)
            assert [pos for pos, _ in found] == expected
            assert [score for _, score in found] == [scores[i] for i in expected]


@pytest.mark.parametrize("seed", range(20))
def test_scores_of_some_passages_are_those_of_scoring_every_passage(seed: int) -> None:
    """Found by binary search in the postings, bit for bit what scoring every passage gives."""
    rng = random.Random(seed)
    docs = random_corpus(rng, zipf=seed % 2 == 0)
    index = BM25Index.build(docs, variant="okapi" if seed % 3 == 0 else "lucene")
    words = [*sorted({t for d in docs for t in d}), "unseen"]
    for _ in range(8):
        weights = {t: rng.choice([1.0, 2.0, rng.random()]) for t in rng.choices(words, k=6)}
        rows = np.array(sorted(rng.sample(range(len(docs)), rng.randint(0, len(docs)))), dtype=int)
        some = index.weighted_scores_at(weights, rows)
        assert some.tolist() == index.weighted_scores(weights)[rows].tolist()
        assert index.matched_weight_at(weights, rows).tolist() == (
            index.matched_weight(weights)[rows].tolist()
        )


def test_top_k_prunes_but_finds_the_same_passages_at_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    """Enough passages that the rare term's postings seed a floor and frequent terms are spared."""
    monkeypatch.setattr(index_module, "PRUNE_MIN_PASSAGES", 1000)
    rng = np.random.default_rng(3)
    vocabulary = np.array([f"w{i}" for i in range(2000)], dtype=object)
    frequency = 1 / np.arange(1, 2001)
    docs = rng.choice(vocabulary, size=(5000, 30), p=frequency / frequency.sum()).tolist()
    index = BM25Index.build(docs)
    for query in (["w0", "w1", "w700"], ["w3", "w1500", "w1500", "w2"], ["w0", "w1", "w2"]):
        scores = index.scores(query)
        expected = sorted(range(len(docs)), key=lambda i: (-scores[i], i))[:10]
        assert [pos for pos, _ in index.top_k(query, 10)] == expected
        assert [pos for pos, _ in top_k(scores, 10)] == expected


def test_k_of_zero_or_less_finds_nothing() -> None:
    index = BM25Index.build(DOCS)
    assert index.top_k(["ferry"], 0) == []
    assert top_k(index.scores(["ferry"]), -1) == []


def test_empty_passages_and_corpora_of_empty_passages() -> None:
    index = BM25Index.build([[], [], []])
    assert len(index) == 3
    assert not index.scores(["a"]).any()
    assert index.top_k(["a"], 2) == []
    assert index.document_frequency("a") == 0


def test_save_and_load_give_the_same_index(tmp_path: Path) -> None:
    docs = random_corpus(random.Random(11))
    index = BM25Index.build(docs, k1=1.1, b=0.6, variant="okapi")
    index.save(tmp_path / "bm25")
    for mmap in (True, False):
        loaded = BM25Index.load(tmp_path / "bm25", mmap=mmap)
        assert (loaded.k1, loaded.b, loaded.variant) == (1.1, 0.6, "okapi")
        assert loaded.vocabulary == index.vocabulary
        for query in (["w0"], ["w1", "w3", "w3"], ["unseen"]):
            assert loaded.scores(query).tolist() == index.scores(query).tolist()
            assert loaded.top_k(query, 5) == index.top_k(query, 5)
        assert loaded.term_idf("w2") == index.term_idf("w2")


def test_save_replaces_an_earlier_index_and_leaves_nothing_else(tmp_path: Path) -> None:
    BM25Index.build(DOCS).save(tmp_path / "bm25")
    BM25Index.build([["other"]]).save(tmp_path / "bm25")
    assert BM25Index.load(tmp_path / "bm25").vocabulary == {"other": 0}
    assert [p.name for p in tmp_path.iterdir()] == ["bm25"]


def test_empty_index_round_trips(tmp_path: Path) -> None:
    BM25Index.build([]).save(tmp_path / "empty")
    loaded = BM25Index.load(tmp_path / "empty")
    assert len(loaded) == 0
    assert loaded.top_k(["a"], 3) == []


def _damage_truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-8])


def _damage_flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("file", "damage", "message"),
    [
        ("weights.npy", _damage_truncate, "truncated"),
        ("passage_ids.npy", _damage_flip, "SHA-256"),
        ("vocabulary.json", _damage_flip, "SHA-256"),
        ("offsets.npy", Path.unlink, "missing"),
        ("manifest.json", Path.unlink, "no saved index"),
        ("manifest.json", _damage_truncate, "unreadable manifest"),
    ],
)
def test_a_damaged_index_is_refused_with_the_reason(
    tmp_path: Path, file: str, damage: Callable[[Path], object], message: str
) -> None:
    BM25Index.build(DOCS).save(tmp_path / "bm25")
    damage(tmp_path / "bm25" / file)
    with pytest.raises(IndexFormatError, match=message):
        BM25Index.load(tmp_path / "bm25")


def test_an_index_of_another_version_is_refused(tmp_path: Path) -> None:
    BM25Index.build(DOCS).save(tmp_path / "bm25")
    manifest_path = tmp_path / "bm25" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["version"] = FORMAT_VERSION + 1
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match="format version"):
        BM25Index.load(tmp_path / "bm25")


def test_a_changed_array_that_keeps_its_size_is_caught_without_hashing(tmp_path: Path) -> None:
    """verify=False skips hashing, yet a file swapped for one of another dtype is still refused."""
    BM25Index.build(DOCS).save(tmp_path / "bm25")
    path = tmp_path / "bm25" / "doc_lengths.npy"
    np.save(path, np.load(path).astype(np.float32), allow_pickle=False)
    manifest_path = tmp_path / "bm25" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"]["doc_lengths"]["bytes"] = path.stat().st_size
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match="float32"):
        BM25Index.load(tmp_path / "bm25", verify=False)


def test_an_index_loaded_from_a_directory_can_be_saved_over_it(tmp_path: Path) -> None:
    """The mapped files are set aside, not overwritten, so the loaded index stays readable."""
    BM25Index.build(DOCS).save(tmp_path / "bm25")
    loaded = BM25Index.load(tmp_path / "bm25")
    loaded.save(tmp_path / "bm25")
    assert loaded.scores(["ferry"]).tolist() == BM25Index.build(DOCS).scores(["ferry"]).tolist()
    assert BM25Index.load(tmp_path / "bm25").top_k(["ferry"], 2) == loaded.top_k(["ferry"], 2)


def assert_same_index(found: BM25Index, expected: BM25Index) -> None:
    assert found.vocabulary == expected.vocabulary
    for name in ("idf", "offsets", "passage_ids", "weights", "max_weights", "doc_lengths"):
        np.testing.assert_array_equal(getattr(found, name), getattr(expected, name), err_msg=name)
    for name in ("dense_slot", "dense", "frequencies"):
        np.testing.assert_array_equal(getattr(found, name), getattr(expected, name), err_msg=name)


@pytest.mark.parametrize("variant", ["lucene", "okapi"])
@pytest.mark.parametrize("seed", range(12))
def test_replace_equals_building_from_scratch(seed: int, variant: Variant) -> None:
    """Any sequence of removals and additions gives the index of the passages that remain."""
    rng = random.Random(seed)
    docs = random_corpus(rng)
    index = BM25Index.build(docs, variant=variant, k1=1.3, b=0.7, epsilon=0.3)
    for _ in range(4):
        removed = rng.sample(range(len(docs)), rng.randint(0, len(docs)))
        added = random_corpus(rng)[: rng.randint(0, 20)]
        index = index.replace(removed, added)
        gone = set(removed)
        docs = [doc for i, doc in enumerate(docs) if i not in gone] + added
        expected = BM25Index.build(docs, variant=variant, k1=1.3, b=0.7, epsilon=0.3)
        assert_same_index(index, expected)
        query = rng.choices([*{t for d in docs for t in d}, "unseen"], k=3)
        assert index.scores(query).tolist() == expected.scores(query).tolist()
        assert index.top_k(query, 5) == expected.top_k(query, 5)


@pytest.mark.parametrize("variant", ["lucene", "okapi"])
@pytest.mark.parametrize("seed", range(8))
def test_merging_indexes_equals_building_from_their_kept_passages(
    seed: int, variant: Variant
) -> None:
    """Several indexes, some of whose passages are dropped, merge into the index of the rest."""
    rng = random.Random(seed)
    corpora = [random_corpus(rng)[: rng.choice([0, 3, 300])] for _ in range(rng.randint(1, 4))]
    parts = [BM25Index.build(docs, variant=variant, k1=1.1, b=0.6) for docs in corpora]
    kept = [np.array([rng.random() < 0.7 for _ in docs], dtype=bool) for docs in corpora]
    merged, rows = BM25Index.merged(parts, kept)
    for part, renumbered in zip(parts, rows, strict=True):
        assert [renumbered[row] for row in part.vocabulary.values()] == [
            merged.vocabulary.get(term, -1) for term in part.vocabulary
        ]
    rest = [
        doc
        for docs, keep in zip(corpora, kept, strict=True)
        for doc, k in zip(docs, keep, strict=True)
        if k
    ]
    expected = BM25Index.build(rest, variant=variant, k1=1.1, b=0.6)
    assert_same_index(merged, expected)
    query = rng.choices([*{t for d in rest for t in d}, "unseen"], k=3)
    assert merged.scores(query).tolist() == expected.scores(query).tolist()


def test_a_vocabulary_made_a_step_at_a_time_numbers_every_term(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(index_module, "VOCABULARY_STEP", 2)
    index = BM25Index.build(DOCS)
    terms = sorted({t for doc in DOCS for t in doc})
    assert index.vocabulary == {t: row for row, t in enumerate(terms)}
    assert [score > 0 for score in index.scores(["pass"])] == [False, False, True]


@pytest.mark.parametrize("seed", range(6))
def test_an_index_built_a_chunk_at_a_time_equals_one_built_at_once(seed: int) -> None:
    rng = random.Random(seed)
    docs = random_corpus(rng)
    builder = IndexBuilder()
    cuts = sorted(rng.sample(range(len(docs) + 1), min(4, len(docs) + 1)))
    for start, end in zip([0, *cuts], [*cuts, len(docs)], strict=True):
        builder.add(docs[start:end])  # some chunks empty
    index, rows = builder.build(k1=1.1, b=0.6)
    assert_same_index(index, BM25Index.build(docs, k1=1.1, b=0.6))
    seen = list(dict.fromkeys(t for doc in docs for t in doc))
    assert [index.vocabulary[t] for t in seen] == rows.tolist()


def test_an_index_of_every_passage_is_built_a_chunk_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Handed every passage at once, the builder sorted the whole corpus's (term, passage) keys
    # together: 1M passages peaked 1.4 GB above bm25s's build.
    docs = random_corpus(random.Random(1))
    assert len(docs) > 2 * 4  # several chunks of 4
    whole = BM25Index.build(docs)
    added: list[int] = []
    add = IndexBuilder.add

    def counted(builder: IndexBuilder, chunk: Sequence[Sequence[str]]) -> None:
        added.append(len(chunk))
        add(builder, chunk)

    monkeypatch.setattr(IndexBuilder, "add", counted)
    monkeypatch.setattr(index_module, "BUILD_PASSAGES", 4)
    chunked = BM25Index.build(docs)
    assert max(added) <= 4
    assert sum(added) == len(docs)
    assert_same_index(chunked, whole)


@pytest.mark.parametrize("variant", ["lucene", "okapi"])
def test_contributions_computed_a_few_postings_at_a_time_are_the_same(
    variant: Variant, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = random_corpus(random.Random(3))
    whole = BM25Index.build(docs, variant=variant)
    monkeypatch.setattr(index_module, "WEIGHT_BLOCK", 7)  # a term's postings span blocks
    assert_same_index(BM25Index.build(docs, variant=variant), whole)


def test_a_builder_numbers_only_the_terms_it_was_given() -> None:
    builder = IndexBuilder()
    builder.add([["ferry", "pier"], ["ferry"]])
    assert builder.numbers(["pier", "ferry"]).tolist() == [1, 0]
    with pytest.raises(KeyError):
        builder.numbers(["ferry", "harbour"])


def test_indexes_of_other_parameters_are_not_merged() -> None:
    parts = [BM25Index.build(DOCS), BM25Index.build(DOCS, k1=2.0)]
    with pytest.raises(ValueError, match="other BM25 parameters"):
        BM25Index.merged(parts, [np.ones(3, dtype=bool)] * 2)


def test_replace_refuses_a_passage_it_does_not_have() -> None:
    with pytest.raises(IndexError, match=r"0\.\.2"):
        BM25Index.build(DOCS).replace([3])


def test_replace_of_nothing_and_of_everything() -> None:
    index = BM25Index.build(DOCS)
    assert_same_index(index.replace(), index)
    emptied = index.replace(range(len(DOCS)))
    assert len(emptied) == 0
    assert emptied.top_k(["ferry"], 3) == []
    assert_same_index(emptied.replace(added=DOCS), index)


def test_files_that_disagree_are_refused(tmp_path: Path) -> None:
    """Each file intact and as the manifest says, but from two different indexes."""
    BM25Index.build(DOCS).save(tmp_path / "a")
    BM25Index.build([*DOCS, ["one", "more"]]).save(tmp_path / "b")
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    other = json.loads((tmp_path / "b" / "manifest.json").read_text())
    manifest["files"]["weights"] = other["files"]["weights"]
    (tmp_path / "a" / "weights.npy").write_bytes((tmp_path / "b" / "weights.npy").read_bytes())
    (tmp_path / "a" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match="disagree"):
        BM25Index.load(tmp_path / "a")
