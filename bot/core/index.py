"""BM25 over tokenized passages.

BM25 scores a passage by summing, over the query's terms, the term's rarity (idf) times a saturating
function of how often the term occurs in the passage, normalised by the passage's length:

    score(q, d) = sum over t in q of  idf(t) * tf * k1' / (tf + k1 * (1 - b + b * |d| / avgdl))

Two variants are offered:

- ``"lucene"`` (default), Lucene's BM25: ``idf = ln(1 + (N - n + 0.5) / (n + 0.5))`` and
  ``k1' = 1``. The idf is never negative, so a term found in most of a tiny corpus still counts a
  little instead of pushing its passages down, and a corpus of three articles ranks sensibly.
- ``"okapi"``, rank-bm25's ``BM25Okapi``: ``idf = ln((N - n + 0.5) / (n + 0.5))``, negative values
  replaced by ``epsilon`` times the mean idf, and ``k1' = k1 + 1``; its scores equal rank-bm25's.

A term repeated in the query counts once per occurrence, as in both references. Every posting's
contribution is computed once at build time, so a query costs one scatter-add per query term.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

Variant = Literal["lucene", "okapi"]
FloatArray = npt.NDArray[np.float64]


def lucene_idf(n: FloatArray, total: int) -> FloatArray:
    """Lucene's idf of terms found in ``n`` of ``total`` passages; always positive."""
    result: FloatArray = np.log1p((total - n + 0.5) / (n + 0.5))
    return result


def okapi_idf(n: FloatArray, total: int, epsilon: float) -> FloatArray:
    """rank-bm25's idf: negative values become ``epsilon`` times the mean idf."""
    idf: FloatArray = np.log(total - n + 0.5) - np.log(n + 0.5)
    if idf.size:
        floor = epsilon * float(idf.mean())
        idf = np.where(idf < 0, floor, idf)
    return idf


def term_weights(
    tf: FloatArray, doc_len: FloatArray, avgdl: float, k1: float, b: float, scale: float
) -> FloatArray:
    """BM25's saturating term-frequency factor, before multiplying by the idf."""
    result: FloatArray = tf * scale / (tf + k1 * (1.0 - b + b * doc_len / avgdl))
    return result


@dataclass(frozen=True, slots=True, eq=False)
class BM25Index:
    """An inverted index whose postings already hold each (term, passage) contribution.

    ``vocabulary`` maps a term to its row; row ``r``'s postings are
    ``passage_ids[offsets[r]:offsets[r + 1]]`` with contributions ``weights[...]``.
    """

    vocabulary: dict[str, int]
    idf: FloatArray
    offsets: npt.NDArray[np.int64]
    passage_ids: npt.NDArray[np.int32]
    weights: FloatArray
    doc_lengths: npt.NDArray[np.int32]
    k1: float
    b: float
    variant: Variant

    @classmethod
    def build(
        cls,
        docs: Sequence[Sequence[str]],
        *,
        k1: float = 1.2,
        b: float = 0.75,
        variant: Variant = "lucene",
        epsilon: float = 0.25,
    ) -> BM25Index:
        """Index ``docs`` (each a list of terms); positions in ``docs`` are the passage ids."""
        if variant not in ("lucene", "okapi"):
            raise ValueError(f"unknown BM25 variant {variant!r}")
        total = len(docs)
        vocabulary: dict[str, int] = {}
        rows: list[int] = []
        ids: list[int] = []
        tfs: list[int] = []
        for position, doc in enumerate(docs):
            for term, count in Counter(doc).items():
                rows.append(vocabulary.setdefault(term, len(vocabulary)))
                ids.append(position)
                tfs.append(count)
        doc_lengths = np.fromiter((len(d) for d in docs), dtype=np.int32, count=total)
        row_arr = np.asarray(rows, dtype=np.int64)
        order = np.argsort(row_arr, kind="stable")  # group postings by term, passages ascending
        passage_ids = np.asarray(ids, dtype=np.int32)[order]
        tf = np.asarray(tfs, dtype=np.float64)[order]
        df = np.bincount(row_arr, minlength=len(vocabulary)).astype(np.float64)
        offsets = np.zeros(len(vocabulary) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum(df, dtype=np.int64)
        if variant == "lucene":
            idf, scale = lucene_idf(df, total), 1.0
        else:
            idf, scale = okapi_idf(df, total, epsilon), k1 + 1.0
        # rank-bm25 divides by the mean length over all documents, empty ones included.
        avgdl = float(doc_lengths.mean()) if total and doc_lengths.any() else 1.0
        row_of_posting = np.repeat(np.arange(len(vocabulary)), df.astype(np.int64))
        weights = idf[row_of_posting] * term_weights(
            tf, doc_lengths[passage_ids].astype(np.float64), avgdl, k1, b, scale
        )
        return cls(vocabulary, idf, offsets, passage_ids, weights, doc_lengths, k1, b, variant)

    def __len__(self) -> int:
        return int(self.doc_lengths.shape[0])

    def document_frequency(self, term: str) -> int:
        """How many passages contain ``term``."""
        row = self.vocabulary.get(term)
        return 0 if row is None else int(self.offsets[row + 1] - self.offsets[row])

    def term_idf(self, term: str) -> float:
        """The idf of ``term``; a term no passage has gets the idf of the rarest possible term."""
        row = self.vocabulary.get(term)
        if row is not None:
            return float(self.idf[row])
        zero = np.zeros(1)
        if self.variant == "lucene":
            return float(lucene_idf(zero, len(self))[0])
        return math.log(len(self) + 0.5) - math.log(0.5)

    def scores(self, query_tokens: Sequence[str]) -> FloatArray:
        """Return the BM25 score of every passage for the query, in build order."""
        return self.weighted_scores(Counter(query_tokens))

    def weighted_scores(self, query_weights: Mapping[str, float]) -> FloatArray:
        """Return every passage's score for query terms that count ``query_weights[term]`` times.

        A weight of 1 per occurrence gives :meth:`scores`; fractional weights let a caller add
        terms of its own (query expansion) without them counting as much as the user's words.
        """
        scores = np.zeros(len(self), dtype=np.float64)
        for term, weight in query_weights.items():
            row = self.vocabulary.get(term)
            if row is None:
                continue
            lo, hi = self.offsets[row], self.offsets[row + 1]
            # Passage ids are unique within a term's postings, so fancy-index += is exact.
            scores[self.passage_ids[lo:hi]] += weight * self.weights[lo:hi]
        return scores

    def matched_weight(self, term_weights: Mapping[str, float]) -> FloatArray:
        """Return, for every passage, the sum of ``term_weights`` of the terms it contains.

        Each term counts once, however often the passage repeats it: this measures how much of
        a query a passage holds (a coordination factor), which BM25's saturation blurs.
        """
        found = np.zeros(len(self), dtype=np.float64)
        for term, weight in term_weights.items():
            row = self.vocabulary.get(term)
            if row is not None:
                found[self.passage_ids[self.offsets[row] : self.offsets[row + 1]]] += weight
        return found

    def top_k(self, query_tokens: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Return up to ``k`` (passage, score) pairs that match a query term, best first.

        Equal scores are ordered by passage position, so results are deterministic.
        """
        return top_k(self.scores(query_tokens), k)


def top_k(scores: FloatArray, k: int) -> list[tuple[int, float]]:
    """Return up to ``k`` (position, score) pairs of the positive ``scores``, best first.

    Equal scores are ordered by position, so results are deterministic.
    """
    if k <= 0:
        return []
    matched = np.flatnonzero(scores > 0)
    if matched.size > k:
        # Keep every position tied with the k-th best, then order them exactly.
        kth = np.partition(scores[matched], matched.size - k)[matched.size - k]
        matched = matched[scores[matched] >= kth]
    order = np.lexsort((matched, -scores[matched]))[:k]
    return [(int(matched[i]), float(scores[matched[i]])) for i in order]
