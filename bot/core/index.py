"""BM25 over tokenized passages.

BM25 scores a passage by summing, over the query's terms, the term's rarity (idf) times a saturating
function of how often the term occurs in the passage, normalised by the passage's length:

    score(q, d) = sum over t in q of  idf(t) * tf * k1' / (tf + k1 * (1 - b + b * |d| / avgdl))

Two variants are offered:

- ``"lucene"`` (default), Lucene's BM25: ``idf = ln(1 + (N - n + 0.5) / (n + 0.5))`` and
  ``k1' = 1``. The idf is never negative, so a term found in most of a tiny corpus still counts a
  little instead of pushing its passages down, and a corpus of three articles ranks sensibly.
  Its scores equal bm25s's ``method="lucene"``.
- ``"okapi"``, rank-bm25's ``BM25Okapi``: ``idf = ln((N - n + 0.5) / (n + 0.5))``, negative values
  replaced by ``epsilon`` times the mean idf, and ``k1' = k1 + 1``; its scores equal rank-bm25's.

A term repeated in the query counts once per occurrence, as in both references.

**Building.** Passages come a chunk at a time (:class:`IndexBuilder`): every token is mapped to a
term id in one C-level pass (a ``defaultdict`` whose default is the next id) and kept as an int32
array, 4 bytes a token, so that a library's build never holds every passage's terms as strings.
Then, a chunk at a time, each (term, passage) pair becomes one int64 key ``term * n + passage``,
one sort of the chunk's keys groups its postings by term, passages ascending (runs of equal keys
give the term frequencies), and each posting is put in its place in the index's arrays, after
the same term's postings of the chunks before. No Python object is made per posting, which is
what made building slow and memory-hungry (three Python lists of 45M postings at 1M passages),
and no array of the whole index's keys is held. Every posting's contribution is computed once at
build time, a block of postings at a time, so scoring a passage for a term is one lookup.

**Top k without scoring everything.** A five-word query shares a frequent word with almost every
passage, so accumulating every posting and sorting every match costs work in proportion to the
corpus for every query. ``top_k`` instead follows MaxScore, a block at a time with numpy:

1. the contributions of the query term with the highest possible contribution (its ``bound``,
   nearly always the rarest term) are lower bounds of their passages' scores: their k-th best is a
   *floor* that the final k-th best score can only meet or beat;
2. the terms whose bounds add up to less than the floor are *spare*: a passage that has none of
   the other, *essential*, terms scores below the floor. Only the essential terms' postings are
   added up (for the passages they touch, when those are fewer than a quarter of all: an array
   of every passage costs more to touch than the postings to sort), and the seed passages'
   partial sums raise the floor;
3. only passages whose partial sum plus every spare bound reaches the floor can be among the best
   k: those candidates (a few hundred among a million) get the spare terms' contributions added,
   a passage's weight found by binary search in a term's sorted postings.

Every score, pruned or not, is summed in one order (highest bound first, :meth:`BM25Index._plan`),
so a candidate's sum is bit-identical to its :meth:`BM25Index.scores`, and when the candidates
are too many the partial sums are completed rather than started again. The same order gives
:meth:`BM25Index.weighted_scores_at` the scores of some passages, found by binary search in each
term's postings, bit for bit those of scoring every passage.

Frequent terms (in at least ``DENSE_SHARE`` of the passages) also keep a dense row of weights:
adding one is a vector add and looking a passage up is indexing. When every term is essential or
the candidates are too many (``CANDIDATE_SHARE``), every posting is added and the floor still
spares sorting every match (the module-level :func:`top_k` finds its floor in a sample). So does a
query whose best-bounded term is in more than ``SEED_SHARE`` of the passages, and every query of
an index under ``PRUNE_MIN_PASSAGES`` passages.

**Rows and changes.** Terms are numbered in sorted order and every posting keeps its term
frequency, so :meth:`BM25Index.merged` (some passages of each of several indexes, one index after
the other) produces exactly the arrays :meth:`BM25Index.build` would from those passages, without
their tokens: a posting's place in the merged arrays follows from its term's kept postings in the
indexes before it, and N, the mean length and document frequencies change every contribution, so
all are computed again. :meth:`BM25Index.replace` (passages removed, others appended) is a merge
with the index of the new ones.

**Other statistics.** A library served in segments (:mod:`bot.core.live`) scores each segment's
postings with the statistics of the whole (:class:`Statistics`, and every term's idf from its
document frequency in the whole): :meth:`BM25Index.add_scores_under` computes those
contributions at query time from the kept term frequencies and passage lengths, with the formula
:func:`_finish` uses at build time. :class:`TermIndex` is what a library scores through, an index
or a view of several.

**Saved form.** :meth:`BM25Index.save` writes a directory: ``manifest.json`` (format name,
``FORMAT_VERSION``, parameters, and for each file its dtype, shape, byte size, SHA-256 and CRC-32),
``vocabulary.json`` (the terms in row order) and one ``.npy`` file per array, written without
pickle. It is written in a temporary sibling directory and renamed into place, so a reader never
sees half of it. :meth:`BM25Index.load` memory-maps the arrays (as plain arrays over the mapped
pages: a slice of a ``np.memmap`` is another memmap, made in Python) and refuses, with
:class:`IndexFormatError`, a directory whose files are missing, truncated, altered or of another
version.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import zlib
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain, compress
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

Variant = Literal["lucene", "okapi"]
FloatArray = npt.NDArray[np.float64]
Row = TypeVar("Row", np.int32, np.int64)
IdArray = npt.NDArray[np.int32]
OffsetArray = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

FORMAT_NAME = "announcements-bot BM25Index"
FORMAT_VERSION = 1
# A term in at least this share of the passages also gets a dense row of contributions: adding a
# row to the scores is several times faster than scattering postings, and a passage's weight is
# found by indexing instead of a binary search. A row (8 bytes a passage) costs at most 2.7 times
# the postings it doubles (12 bytes each): 18 rows, 144 MB, at 1M Zipf passages. Same run, 1M
# passages, 300 queries: a half gave p50 6.1 ms, p99 33 ms; a fifth 5.3 and 31 ms.
DENSE_SHARE = 0.25
# Below this many passages a query costs numpy calls more than postings, and pruning makes more
# calls: scoring everything took p50 0.14 ms against 0.22 at 10k passages, 0.73 against 0.63 at
# 100k (benchmarks/ablation.py, same runs).
PRUNE_MIN_PASSAGES = 50_000
# Pruning starts from the postings of the best-bounded term; when that term is in more than this
# share of the passages, every query term is frequent and scoring everything costs less.
SEED_SHARE = 0.25
# Pruned top-k looks the candidates' spare weights up (a binary search each, some 20 times the
# cost of adding one posting): past this share of the passages, adding every posting is cheaper.
# Same run, 1M passages: 0.01 gave p99 38 ms, 0.05 31 ms; another run 0.05 25 ms, 0.1 21 ms.
CANDIDATE_SHARE = 0.1
# Postings whose contributions are computed at a time (see _finish): 8 MB per temporary array.
WEIGHT_BLOCK = 1 << 20
# Passages BM25Index.build numbers at a time (IndexBuilder), so that each chunk's (term, passage)
# keys are sorted apart: the whole corpus's keys, sorted at once, took 1M Zipf passages of 60
# words to a peak of 4,393 MB against bm25s's 3,024 in the same run (`announcements-bot bench`).
BUILD_PASSAGES = 1 << 16
# Terms a vocabulary dict is made of at a time (see _vocabulary): a few milliseconds' work.
VOCABULARY_STEP = 8192
# Relative slack on the pruning floor, so that rounding in a sum of bounds never drops a passage.
BOUND_SLACK = 1e-9
# A floor is the k-th best of a sample of this many lower bounds: sorting them all would cost more
# than a slightly lower floor does.
FLOOR_SAMPLE = 4096
# The module-level top_k estimates its floor from every SAMPLE_STRIDE-th score once the scores are
# many: the k-th best of a sample is never above the k-th best of all.
SAMPLE_STRIDE = 16


class IndexFormatError(ValueError):
    """A saved index that is missing, truncated, altered or of another format version."""


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


@dataclass(frozen=True, slots=True)
class Statistics:
    """What BM25 weighs a posting against: how many passages there are, and their total length."""

    passages: int
    length: int

    @property
    def avgdl(self) -> float:
        """The mean passage length (1 for a library of none or of empty passages, as at build)."""
        return self.length / self.passages if self.passages and self.length else 1.0


class TermIndex(Protocol):
    """What a library scores passages through: a :class:`BM25Index`, or a view of several."""

    @property
    def vocabulary(self) -> Collection[str]: ...

    def __len__(self) -> int: ...

    def document_frequency(self, term: str) -> int: ...

    def term_idf(self, term: str) -> float: ...

    def weighted_scores(self, query_weights: Mapping[str, float]) -> FloatArray: ...

    def matched_weight(self, term_weights: Mapping[str, float]) -> FloatArray: ...

    def weighted_scores_at(
        self, query_weights: Mapping[str, float], rows: npt.NDArray[np.int64]
    ) -> FloatArray: ...

    def matched_weight_at(
        self, term_weights: Mapping[str, float], rows: npt.NDArray[np.int64]
    ) -> FloatArray: ...

    def best(
        self, query_weights: Mapping[str, float], k: int
    ) -> tuple[npt.NDArray[np.int64], FloatArray]: ...


# The arrays of an index, as saved: attribute name -> dtype.
_ARRAYS: dict[str, str] = {
    "idf": "float64",
    "offsets": "int64",
    "passage_ids": "int32",
    "weights": "float64",
    "max_weights": "float64",
    "doc_lengths": "int32",
    "dense_slot": "int32",
    "dense": "float64",
    "frequencies": "int32",
}


@dataclass(frozen=True, slots=True, eq=False)
class BM25Index:
    """An inverted index whose postings already hold each (term, passage) contribution.

    ``vocabulary`` maps a term to its row; row ``r``'s postings are
    ``passage_ids[offsets[r]:offsets[r + 1]]`` (ascending) with contributions ``weights[...]``,
    the largest of which is ``max_weights[r]``. A term in at least ``DENSE_SHARE`` of the passages
    also has its contributions as one dense row, ``dense[dense_slot[r]]`` (0 where absent;
    ``dense_slot[r]`` is -1 for other terms).
    """

    vocabulary: dict[str, int]
    idf: FloatArray
    offsets: OffsetArray
    passage_ids: IdArray
    weights: FloatArray
    max_weights: FloatArray
    doc_lengths: IdArray
    dense_slot: IdArray
    dense: npt.NDArray[np.float64]
    frequencies: IdArray
    k1: float
    b: float
    variant: Variant
    epsilon: float

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
        builder = IndexBuilder()
        for start in range(0, len(docs), BUILD_PASSAGES):
            builder.add(docs[start : start + BUILD_PASSAGES])
        index, _ = builder.build(k1=k1, b=b, variant=variant, epsilon=epsilon)
        return index

    @classmethod
    def merged(
        cls, parts: Sequence[BM25Index], kept: Sequence[Mask]
    ) -> tuple[BM25Index, list[npt.NDArray[np.int64]]]:
        """The index :meth:`build` makes of each part's ``kept`` passages, part after part; and
        for each part, each of its rows' row in that index (-1: no kept passage has the term).

        Exact: the same terms, statistics and arrays, so the same scores bit for bit, made from
        the parts' term frequencies and lengths without their tokens (see the module's
        docstring). A part's postings are in term order, then passage order, and the merged
        terms keep the order of each part's, so a kept posting's place is computed rather than
        sorted: the cost is a few numpy passes over the postings, during which other threads
        run, and a pass over each part's vocabulary in Python.
        """
        first = parts[0]
        settings = (first.k1, first.b, first.variant, first.epsilon)
        if any((p.k1, p.b, p.variant, p.epsilon) != settings for p in parts):
            raise ValueError("indexes of other BM25 parameters can't be merged")
        stays = [keep[part.passage_ids] for part, keep in zip(parts, kept, strict=True)]
        rows = [_posting_rows(part.offsets)[stay] for part, stay in zip(parts, stays, strict=True)]
        terms, renumbered = _merged_terms(parts, rows)
        new_rows = [number[row] for number, row in zip(renumbered, rows, strict=True)]
        counts = [np.bincount(row, minlength=len(terms)) for row in new_rows]
        offsets = _offsets(np.sum(counts, axis=0, dtype=np.int64))
        passage_ids = np.empty(int(offsets[-1]), dtype=np.int32)
        tf = np.empty(int(offsets[-1]), dtype=np.int32)
        after = offsets[:-1].copy()
        start = 0
        for part, keep, stay, row in zip(parts, kept, stays, new_rows, strict=True):
            place = _placed(row, after)
            position = np.cumsum(keep) - 1 + start  # a kept passage's merged position
            passage_ids[place] = position[part.passage_ids[stay]]
            tf[place] = part.frequencies[stay]
            start += int(np.count_nonzero(keep))
        lengths = np.concatenate(
            [part.doc_lengths[keep] for part, keep in zip(parts, kept, strict=True)]
        ).astype(np.int64)
        index = _finish(
            terms,
            offsets,
            passage_ids,
            tf,
            lengths,
            k1=first.k1,
            b=first.b,
            variant=first.variant,
            epsilon=first.epsilon,
        )
        return index, renumbered

    def replace(
        self, removed: Iterable[int] = (), added: Sequence[Sequence[str]] = ()
    ) -> BM25Index:
        """The index :meth:`build` makes of the passages not ``removed`` (in order), then ``added``.

        Exact (see :meth:`merged`): the kept passages are not counted again, but every weight is
        computed again (N, the mean length and document frequencies change).
        """
        total = len(self)
        kept = np.ones(total, dtype=bool)
        gone = np.fromiter(removed, dtype=np.int64)
        if gone.size and (gone.min() < 0 or gone.max() >= total):
            raise IndexError(f"passages to remove must be in 0..{total - 1}")
        kept[gone] = False
        new = BM25Index.build(
            added, k1=self.k1, b=self.b, variant=self.variant, epsilon=self.epsilon
        )
        index, _ = BM25Index.merged([self, new], [kept, np.ones(len(new), dtype=bool)])
        return index

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

    def statistics(self) -> Statistics:
        """The index's own statistics: those its stored contributions were computed with."""
        return Statistics(len(self), int(self.doc_lengths.sum(dtype=np.int64)))

    def add_scores_under(
        self,
        query: Sequence[tuple[str, float, float]],
        statistics: Statistics,
        scores: FloatArray,
        rows: npt.NDArray[np.int64] | None = None,
    ) -> None:
        """Add ``query``'s (term, weight, idf) contributions to ``scores`` under other statistics.

        The contributions are those :meth:`build` would store in an index whose passage count,
        mean length and idfs were ``statistics`` and the given idfs: computed now, from the kept
        term frequencies and passage lengths, for the query terms' postings only. ``scores`` are
        every passage's, or with ``rows`` (ascending) those passages' only, bit for bit the same.
        """
        scale = 1.0 if self.variant == "lucene" else self.k1 + 1.0
        avgdl = statistics.avgdl
        for term, weight, idf in query:
            row = self.vocabulary.get(term)
            if row is None:
                continue
            lo, hi = self.offsets[row], self.offsets[row + 1]
            if rows is None:
                at: slice | npt.NDArray[np.int64] = slice(lo, hi)
                target: npt.NDArray[Any] = self.passage_ids[lo:hi]
            else:
                target, at = self._locate(row, rows)
            ids = self.passage_ids[at]
            tf = self.frequencies[at].astype(np.float64)
            norm = self.doc_lengths[ids].astype(np.float64)
            norm *= self.b
            norm /= avgdl
            norm += 1.0 - self.b
            norm *= self.k1
            norm += tf
            tf *= scale
            tf /= norm
            scores[target] += weight * (tf * idf)

    def scores(self, query_tokens: Sequence[str]) -> FloatArray:
        """Return the BM25 score of every passage for the query, in build order."""
        return self.weighted_scores(Counter(query_tokens))

    def weighted_scores(self, query_weights: Mapping[str, float]) -> FloatArray:
        """Return every passage's score for query terms that count ``query_weights[term]`` times.

        A weight of 1 per occurrence gives :meth:`scores`; fractional weights let a caller add
        terms of its own (query expansion) without them counting as much as the user's words.
        """
        return self._scores_of(self._plan(query_weights))

    def matched_weight(self, term_weights: Mapping[str, float]) -> FloatArray:
        """Return, for every passage, the sum of ``term_weights`` of the terms it contains.

        Each term counts once, however often the passage repeats it: this measures how much of
        a query a passage holds (a coordination factor), which BM25's saturation blurs.
        """
        found = np.zeros(len(self), dtype=np.float64)
        for row, weight in self._rows(term_weights):
            found[self.passage_ids[self.offsets[row] : self.offsets[row + 1]]] += weight
        return found

    def weighted_scores_at(
        self, query_weights: Mapping[str, float], rows: npt.NDArray[np.int64]
    ) -> FloatArray:
        """``weighted_scores(query_weights)[rows]`` bit for bit, the other passages left alone.

        ``rows`` must be ascending: each term's postings are searched for them at once.
        """
        return self._add_at(self._plan(query_weights), rows, np.zeros(rows.shape[0]))

    def matched_weight_at(
        self, term_weights: Mapping[str, float], rows: npt.NDArray[np.int64]
    ) -> FloatArray:
        """``matched_weight(term_weights)[rows]`` bit for bit (``rows`` ascending)."""
        found = np.zeros(rows.shape[0], dtype=np.float64)
        for row, weight in self._rows(term_weights):
            present, _ = self._locate(row, rows)
            found[present] += weight
        return found

    def top_k(self, query_tokens: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Return up to ``k`` (passage, score) pairs that match a query term, best first.

        Equal scores are ordered by passage position, so results are deterministic. The scores
        are those of :meth:`scores`, bit for bit; most passages are never scored (see the
        module's docstring).
        """
        return _pairs(*self.best(Counter(query_tokens), k))

    def best(
        self, query_weights: Mapping[str, float], k: int
    ) -> tuple[npt.NDArray[np.int64], FloatArray]:
        """:meth:`top_k` as two arrays, passages and scores, for query terms that count
        ``query_weights[term]`` times."""
        if k <= 0 or not (query := self._plan(query_weights)):
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        rows = np.array([row for row, _ in query], dtype=np.int64)
        lo, hi = self.offsets[rows[0]], self.offsets[rows[0] + 1]
        if (
            len(self) < PRUNE_MIN_PASSAGES
            or k >= len(self)
            or not k <= hi - lo <= SEED_SHARE * len(self)
            or self.idf[rows].min() <= 0
        ):
            # Too few or too many passages to prune with, or (okapi) a term that lowers scores.
            return top(self._scores_of(query), k)
        # The best-bounded term's own contributions are lower bounds of real scores.
        floor = _lower_kth(query[0][1] * self.weights[lo:hi], k) * (1.0 - BOUND_SLACK)
        bounds = np.array([w for _, w in query]) * self.max_weights[rows]
        reach = np.cumsum(bounds[::-1])[::-1]  # reach[i]: the most terms i, i + 1, ... can add
        essential = max(1, int(np.count_nonzero(reach >= floor)))
        if essential == len(query):
            return top(self._scores_of(query), k, floor=floor)
        postings = [self._postings(row) for row, _ in query[:essential]]
        touched = None  # the passages that scores are of: all of them
        if sum(p.shape[0] for p in postings) > len(self) // 4:
            scores = self._accumulate(query[:essential], np.zeros(len(self), dtype=np.float64))
        else:
            # Fewer postings than passages: the sums are kept for the passages they touch, not
            # in an array of every passage, whose pages cost more to touch (2.6M sentences:
            # 5,000 pages) than the postings to sort.
            touched = sorted_unique(np.concatenate(postings))
            scores = np.zeros(touched.shape[0], dtype=np.float64)
            for (row, weight), ids in zip(query[:essential], postings, strict=True):
                lo_, hi_ = self.offsets[row], self.offsets[row + 1]
                scores[np.searchsorted(touched, ids)] += weight * self.weights[lo_:hi_]
        # The seed passages' sums over the essential terms are lower bounds too, and tighter.
        seed = self.passage_ids[lo:hi]
        seed = seed[:: _stride(seed, k)]
        sample = seed if touched is None else np.searchsorted(touched, seed)
        floor = max(floor, _kth_best(scores[sample], k) * (1.0 - BOUND_SLACK))
        # A passage whose essential terms fall short of the floor by more than the spare terms
        # could add cannot be among the best k.
        spare = float(reach[essential]) * (1.0 + BOUND_SLACK)
        at = np.flatnonzero(scores >= floor - spare)
        candidates = (at if touched is None else touched[at]).astype(np.int64)
        partial = scores[at]
        if candidates.shape[0] > FLOOR_SAMPLE // 4:
            # The best partial sums, completed, are real scores: their k-th best raises the floor.
            pick = min(8 * k, partial.shape[0])
            best = np.argpartition(partial, partial.shape[0] - pick)[partial.shape[0] - pick :]
            sure = self._add_at(query[essential:], candidates[best], partial[best])
            floor = max(floor, _kth_best(sure, k) * (1.0 - BOUND_SLACK))
            keep = partial >= floor - spare
            candidates, partial = candidates[keep], partial[keep]
        if candidates.shape[0] > CANDIDATE_SHARE * len(self):
            if touched is not None:  # the sums, in an array of every passage
                sums, scores = scores, np.zeros(len(self), dtype=np.float64)
                scores[touched] = sums
            return top(self._accumulate(query[essential:], scores), k, floor=floor)
        return _best(candidates, self._add_at(query[essential:], candidates, partial), k, floor)

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write the index to ``directory`` (replaced if it exists), atomically."""
        with _staged(Path(directory)) as staging:
            files: dict[str, dict[str, Any]] = {}
            for name in _ARRAYS:
                files[name] = _write_array(staging / f"{name}.npy", getattr(self, name))
            terms = [""] * len(self.vocabulary)
            for term, row in self.vocabulary.items():
                terms[row] = term
            files["vocabulary"] = _write_bytes(
                staging / "vocabulary.json", json.dumps(terms, ensure_ascii=False).encode()
            )
            manifest = {
                "format": FORMAT_NAME,
                "version": FORMAT_VERSION,
                "passages": len(self),
                "terms": len(terms),
                "postings": int(self.passage_ids.shape[0]),
                "k1": self.k1,
                "b": self.b,
                "variant": self.variant,
                "epsilon": self.epsilon,
                "files": files,
            }
            # The manifest is written last: a directory without one was never finished.
            _write_bytes(staging / "manifest.json", json.dumps(manifest, indent=2).encode())

    @classmethod
    def load(
        cls, directory: str | os.PathLike[str], *, mmap: bool = True, verify: bool = True
    ) -> BM25Index:
        """Read an index written by :meth:`save`.

        ``mmap`` maps the arrays instead of reading them (pages load as queries touch them);
        ``verify`` checks every file's SHA-256 against the manifest (it reads every byte once).
        Sizes, dtypes and shapes are always checked. Raises :class:`IndexFormatError`.
        """
        source = Path(directory)
        manifest = _read_manifest(
            source / "manifest.json", FORMAT_NAME, FORMAT_VERSION, {*_ARRAYS, "vocabulary"}
        )
        files: dict[str, dict[str, Any]] = manifest["files"]
        arrays = {
            name: _load_array(source, name, dtype, files, verify=verify, mmap=mmap)
            for name, dtype in _ARRAYS.items()
        }
        vocabulary_path = _checked_file(source, "vocabulary", files, verify)
        try:
            terms = json.loads(vocabulary_path.read_bytes())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise IndexFormatError(f"{vocabulary_path}: not a JSON list of terms ({exc})") from exc
        counts = (
            len(terms),
            arrays["offsets"].shape[0] - 1,
            arrays["idf"].shape[0],
            arrays["max_weights"].shape[0],
            arrays["dense_slot"].shape[0],
        )
        passages = (arrays["doc_lengths"].shape[0], arrays["dense"].shape[1], manifest["passages"])
        postings = (
            int(arrays["offsets"][-1]),
            arrays["passage_ids"].shape[0],
            arrays["weights"].shape[0],
            arrays["frequencies"].shape[0],
        )
        if any(len(set(sizes)) != 1 for sizes in (counts, passages, postings)):
            raise IndexFormatError(
                f"{source}: the files disagree on the number of terms, passages or postings"
            )
        variant = manifest.get("variant")
        if variant not in ("lucene", "okapi"):
            raise IndexFormatError(f"{source}: unknown BM25 variant {variant!r}")
        try:
            k1, b, epsilon = (float(manifest[name]) for name in ("k1", "b", "epsilon"))
        except (KeyError, TypeError, ValueError) as exc:
            raise IndexFormatError(f"{source}: the manifest lacks a parameter ({exc})") from exc
        return cls(
            _vocabulary(terms),
            k1=k1,
            b=b,
            variant=variant,
            epsilon=epsilon,
            **arrays,
        )

    def _rows(self, query_weights: Mapping[str, float]) -> list[tuple[int, float]]:
        """The (row, weight) of each query term the index knows, in the query's order."""
        known = ((self.vocabulary.get(term), weight) for term, weight in query_weights.items())
        return [(row, float(weight)) for row, weight in known if row is not None]

    def _postings(self, row: int) -> IdArray:
        return self.passage_ids[self.offsets[row] : self.offsets[row + 1]]

    def _plan(self, query_weights: Mapping[str, float]) -> list[tuple[int, float]]:
        """The known query terms in the order every score is summed in: highest bound first.

        One order for all, so that pruned and full scoring give bit-identical sums, and the
        essential terms of pruning (the highest bounds) come first.
        """
        query = self._rows(query_weights)
        return sorted(query, key=lambda term: (-term[1] * self.max_weights[term[0]], term[0]))

    def _scores_of(self, query: list[tuple[int, float]]) -> FloatArray:
        """Every passage's score for ``query`` (a plan: see :meth:`_plan`)."""
        return self._accumulate(query, np.zeros(len(self), dtype=np.float64))

    def _accumulate(self, query: list[tuple[int, float]], scores: FloatArray) -> FloatArray:
        """Add the query terms' contributions to every passage's ``scores``, in query order."""
        for row, weight in query:
            slot = self.dense_slot[row]
            if slot >= 0:
                scores += weight * self.dense[slot]
                continue
            lo, hi = self.offsets[row], self.offsets[row + 1]
            # Passage ids are unique within a term's postings, so fancy-index += is exact.
            scores[self.passage_ids[lo:hi]] += weight * self.weights[lo:hi]
        return scores

    def _add_at(
        self, query: list[tuple[int, float]], passages: npt.NDArray[np.int64], scores: FloatArray
    ) -> FloatArray:
        """Add the query terms' contributions to the ``scores`` of ``passages`` (ascending)."""
        for row, weight in query:
            slot = self.dense_slot[row]
            if slot >= 0:
                scores += weight * self.dense[slot][passages]
                continue
            found, at = self._locate(row, passages)
            scores[found] += weight * self.weights[at]
        return scores

    def _locate(
        self, row: int, passages: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
        """Which of ``passages`` (ascending) have term ``row``, and where their postings are.

        They are searched as the postings' own dtype: numpy would otherwise convert every
        posting of the term to theirs first, a copy as long as the postings (ten times the
        search's time for a frequent term).
        """
        lo, hi = int(self.offsets[row]), int(self.offsets[row + 1])
        ids = self.passage_ids[lo:hi]
        at = np.minimum(np.searchsorted(ids, passages.astype(ids.dtype)), hi - lo - 1)
        found: npt.NDArray[np.bool_] = ids[at] == passages
        return found, at[found] + lo


def top_k(scores: FloatArray, k: int, *, floor: float = 0.0) -> list[tuple[int, float]]:
    """Return up to ``k`` (position, score) pairs of the positive ``scores``, best first.

    Equal scores are ordered by position, so results are deterministic. ``floor``, when given,
    must be at most the k-th best score: only scores at or above it are considered.
    """
    return _pairs(*top(scores, k, floor=floor))


def top(
    scores: FloatArray, k: int, *, floor: float = 0.0
) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """:func:`top_k`'s positions and scores as two arrays."""
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    if floor <= 0 and scores.shape[0] >= SAMPLE_STRIDE * k * 4:
        sample = scores[::SAMPLE_STRIDE]
        sample = sample[sample > 0]
        if sample.shape[0] >= k:
            floor = _kth_best(sample, k)
    matched = np.flatnonzero(scores >= floor) if floor > 0 else np.flatnonzero(scores > 0)
    return _best(matched, scores[matched], k, floor)


class IndexBuilder:
    """The index of passages added a chunk at a time, in order: :meth:`BM25Index.build`'s, made
    without holding every passage's terms.

    A term is numbered the first time it is seen (one dict per index: a missing term gets the
    next number, so a chunk is numbered without a Python loop), and a chunk is kept as an int32
    array of its terms' numbers and its passages' lengths: 4 bytes a token, where a list of
    terms holds 8 and the string. :meth:`build` then counts each chunk's postings (one sort of
    the chunk's (term, passage) keys) and puts them in their places in the index's arrays, a
    chunk at a time: the whole index's keys are never held either.
    """

    def __init__(self) -> None:
        self._numbers: defaultdict[str, int] = defaultdict()
        self._numbers.default_factory = self._numbers.__len__
        self._chunks: list[tuple[IdArray, npt.NDArray[np.int64]]] = []

    def add(self, docs: Sequence[Sequence[str]]) -> None:
        """Add the passages ``docs`` (each a list of terms) after those added before."""
        lengths = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
        numbers = np.fromiter(
            map(self._numbers.__getitem__, chain.from_iterable(docs)),
            dtype=np.int32,
            count=int(lengths.sum()),
        )
        self._chunks.append((numbers, lengths))

    def numbers(self, terms: Iterable[str]) -> IdArray:
        """The numbers of ``terms``, each a term of a passage added already."""
        numbers = np.fromiter((self._numbers.get(t, -1) for t in terms), dtype=np.int32)
        if numbers.size and numbers.min() < 0:
            raise KeyError("a term of no passage added")
        return numbers

    def build(
        self,
        *,
        k1: float = 1.2,
        b: float = 0.75,
        variant: Variant = "lucene",
        epsilon: float = 0.25,
    ) -> tuple[BM25Index, IdArray]:
        """The index of every passage added, and each term number's row in it.

        The chunks are let go once counted: a builder builds once.
        """
        if variant not in ("lucene", "okapi"):
            raise ValueError(f"unknown BM25 variant {variant!r}")
        seen = list(self._numbers)
        self._numbers.clear()
        # Rows follow the terms' sorted order, so that merged() numbers them as build() does.
        order = sorted(range(len(seen)), key=seen.__getitem__)
        rank = np.empty(len(order), dtype=np.int32)
        rank[order] = np.arange(len(order), dtype=np.int32)
        chunks, self._chunks = self._chunks, []
        lengths = np.concatenate([np.zeros(0, dtype=np.int64), *(n for _, n in chunks)])
        # Two passes over the chunks: how many postings each term has, then where each goes.
        frequency = np.zeros(len(seen), dtype=np.int64)
        for rows, _, _ in _chunk_postings(rank, chunks):
            frequency += np.bincount(rows, minlength=len(seen))
        offsets = _offsets(frequency)
        passage_ids = np.empty(int(offsets[-1]), dtype=np.int32)
        tf = np.empty(int(offsets[-1]), dtype=np.int32)
        after = offsets[:-1].copy()
        for rows, passages, counts in _chunk_postings(rank, chunks):
            place = _placed(rows, after)
            passage_ids[place] = passages
            tf[place] = counts
        del chunks
        index = _finish(
            [seen[i] for i in order],
            offsets,
            passage_ids,
            tf,
            lengths,
            k1=k1,
            b=b,
            variant=variant,
            epsilon=epsilon,
        )
        return index, rank


def _chunk_postings(
    rank: IdArray, chunks: Sequence[tuple[IdArray, npt.NDArray[np.int64]]]
) -> Iterator[tuple[npt.NDArray[np.int64], IdArray, IdArray]]:
    """Each chunk's postings, sorted by row, then passage: rows, passage ids, term frequencies."""
    first = 0
    for numbers, lengths in chunks:
        stride = max(lengths.shape[0], 1)
        keys = rank[numbers].astype(np.int64)
        keys *= stride
        keys += np.repeat(np.arange(lengths.shape[0], dtype=np.int64), lengths)
        keys.sort()
        starts = np.flatnonzero(_run_starts(keys))
        unique = keys[starts]
        tf = np.diff(starts, append=keys.shape[0]).astype(np.int32)
        yield unique // stride, (unique % stride + first).astype(np.int32), tf
        first += lengths.shape[0]


def _offsets(counts: npt.NDArray[np.int64]) -> OffsetArray:
    """Where each row's postings start, and (last) how many there are, from each row's count."""
    offsets = np.zeros(counts.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets


def _placed(rows: npt.NDArray[np.int64], after: OffsetArray) -> npt.NDArray[np.int64]:
    """Where postings go in an index's arrays, given their ``rows`` (ascending; a row's postings
    in passage order) and ``after[row]``, where a row's next posting goes: advanced past them.

    Postings put in this way, part after part, are in row order, then passage order.
    """
    starts = _run_starts(rows)
    first = np.flatnonzero(starts)  # each row's first posting
    run = np.cumsum(starts) - 1  # each posting's row, counted from this part's first
    place: npt.NDArray[np.int64] = np.arange(rows.shape[0]) - first[run] + after[rows]
    after[rows[first]] += np.diff(first, append=rows.shape[0])
    return place


def _run_starts(values: npt.NDArray[Any]) -> Mask:
    """Where each run of equal ``values`` starts."""
    starts = np.empty(values.shape[0], dtype=bool)
    starts[:1] = True
    np.not_equal(values[1:], values[:-1], out=starts[1:])
    return starts


def _merged_terms(
    parts: Sequence[BM25Index], rows: Sequence[npt.NDArray[np.int64]]
) -> tuple[list[str], list[npt.NDArray[np.int64]]]:
    """The sorted terms of the kept postings (each part's ``rows``), and for each part, each of
    its rows' row among them (-1 for a term no kept posting has).

    The largest vocabulary (a merge's base, most often) is renumbered with numpy: a term keeps
    its row, less the terms before it that are gone, plus the other parts' new terms before it.
    Only the other parts' terms are looked at one by one: a merge costs the changes' vocabulary
    in Python, not the whole library's, which would hold the GIL long at a million terms.
    """
    # A part's rows follow its terms' sorted order: sorting them finds one run, in linear time.
    names = [sorted(part.vocabulary) for part in parts]
    anchor = max(range(len(parts)), key=lambda number: len(names[number]))
    alive = np.bincount(rows[anchor], minlength=len(names[anchor])) > 0
    others = {
        term
        for number, row in enumerate(rows)
        if number != anchor
        for term in compress(names[number], np.bincount(row, minlength=len(names[number])))
    }
    found = [parts[anchor].vocabulary.get(term) for term in others]
    alive[[row for row in found if row is not None]] = True
    extra = sorted(term for term, row in zip(others, found, strict=True) if row is None)
    # Two sorted runs: sorting them one after the other merges them.
    terms = sorted([*compress(names[anchor], alive.tolist()), *extra])
    # A new term goes before the first of the anchor's that sorts after it.
    before = np.array([bisect_left(names[anchor], term) for term in extra], dtype=np.int64)
    shift = np.searchsorted(before, np.arange(len(names[anchor])), side="right")
    renumbered = np.where(alive, np.cumsum(alive) - 1 + shift, -1)
    return terms, [
        renumbered
        if number == anchor
        else np.array([_row_in(terms, term) for term in names[number]], dtype=np.int64)
        for number in range(len(parts))
    ]


def _row_in(terms: Sequence[str], term: str) -> int:
    """``term``'s position in the sorted ``terms``, -1 if it is not there."""
    row = bisect_left(terms, term)
    return row if row < len(terms) and terms[row] == term else -1


def _posting_rows(
    offsets: OffsetArray, lo: int = 0, hi: int | None = None
) -> npt.NDArray[np.int64]:
    """The row of each posting from ``lo`` to ``hi`` (default: every one), from the rows'
    ``offsets``: the first's row, then 1 where a row starts, summed.

    ``np.repeat`` would hold the GIL throughout (tens of milliseconds at 10M postings), and a
    merge in the background must let questions run; these steps let go of it. Every row has a
    posting, so no two rows start at one place.
    """
    hi = int(offsets[-1]) if hi is None else hi
    rows = np.zeros(hi - lo, dtype=np.int64)
    if hi > lo:
        first = int(np.searchsorted(offsets, lo, side="right")) - 1
        last = int(np.searchsorted(offsets, hi - 1, side="right")) - 1
        rows[0] = first
        rows[offsets[first + 1 : last + 1] - lo] = 1
        np.cumsum(rows, out=rows)
    return rows


def _vocabulary(terms: Sequence[str]) -> dict[str, int]:
    """Each of ``terms`` mapped to its position, made ``VOCABULARY_STEP`` terms at a time.

    One ``dict(zip(...))`` holds the GIL for as long as it takes (some 100 ms for 125k terms on
    the loaded 2-core machine); between steps a question's thread can take it.
    """
    vocabulary: dict[str, int] = {}
    for start in range(0, len(terms), VOCABULARY_STEP):
        step = terms[start : start + VOCABULARY_STEP]
        vocabulary.update(zip(step, range(start, start + len(step)), strict=True))
    return vocabulary


def _finish(
    terms: list[str],
    offsets: OffsetArray,
    passage_ids: IdArray,
    tf: IdArray,
    lengths: npt.NDArray[np.int64],
    *,
    k1: float,
    b: float,
    variant: Variant,
    epsilon: float,
) -> BM25Index:
    """The index of these postings: idf, every posting's contribution, bounds, dense rows."""
    total = int(lengths.shape[0])
    df = np.diff(offsets).astype(np.float64)
    if variant == "lucene":
        idf, scale = lucene_idf(df, total), 1.0
    else:
        idf, scale = okapi_idf(df, total, epsilon), k1 + 1.0
    # rank-bm25 divides by the mean length over all documents, empty ones included.
    avgdl = float(lengths.mean()) if total and lengths.any() else 1.0
    # idf * tf * scale / (tf + k1 * (1 - b + b * |d| / avgdl)), in place a block at a time:
    # the temporaries of the whole index's postings would double building's peak.
    length = lengths.astype(np.float64)
    weights = np.empty(passage_ids.shape[0], dtype=np.float64)
    for lo in range(0, weights.shape[0], WEIGHT_BLOCK):
        hi = min(lo + WEIGHT_BLOCK, weights.shape[0])
        norm = length[passage_ids[lo:hi]]
        norm *= b
        norm /= avgdl
        norm += 1.0 - b
        norm *= k1
        norm += tf[lo:hi]
        block = weights[lo:hi]
        np.multiply(tf[lo:hi], scale, out=block)
        block /= norm
        block *= idf[_posting_rows(offsets, lo, hi)]
    # Every term has at least one posting, so each reduceat segment is non-empty.
    max_weights = np.maximum.reduceat(weights, offsets[:-1]) if terms else np.zeros(0)
    dense_slot, dense = _dense_rows(offsets, passage_ids, weights, total)
    return BM25Index(
        _vocabulary(terms),
        idf,
        offsets,
        passage_ids,
        weights,
        max_weights,
        lengths.astype(np.int32),
        dense_slot,
        dense,
        tf,
        k1,
        b,
        variant,
        epsilon,
    )


def _dense_rows(
    offsets: OffsetArray, passage_ids: IdArray, weights: FloatArray, total: int
) -> tuple[IdArray, FloatArray]:
    """The dense rows of the terms in at least DENSE_SHARE of the passages, and their slots."""
    frequent = np.flatnonzero(np.diff(offsets) >= max(DENSE_SHARE * total, 1))
    dense_slot = np.full(offsets.shape[0] - 1, -1, dtype=np.int32)
    dense_slot[frequent] = np.arange(frequent.shape[0], dtype=np.int32)
    dense = np.zeros((frequent.shape[0], total), dtype=np.float64)
    for slot, row in enumerate(frequent):
        lo, hi = offsets[row], offsets[row + 1]
        dense[slot, passage_ids[lo:hi]] = weights[lo:hi]
    return dense_slot, dense


def sorted_unique(rows: npt.NDArray[Row]) -> npt.NDArray[Row]:
    """``rows`` sorted, each once: ``np.unique`` hashes integers, 30 times slower at 100k."""
    rows = np.sort(rows)
    return rows[run_starts(rows)]


def run_starts(values: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    """Whether each of ``values`` starts a run of equal ones (differs from the one before)."""
    starts = np.ones(values.shape[0], dtype=bool)
    starts[1:] = values[1:] != values[:-1]
    return starts


def _stride(values: npt.NDArray[Any], k: int) -> int:
    """Every how many of ``values`` to sample so that about FLOOR_SAMPLE remain (at least k)."""
    size = int(values.shape[0])
    return max(1, min(size // max(FLOOR_SAMPLE, k), size // k))


def _lower_kth(values: FloatArray, k: int) -> float:
    """A value at most the k-th best of ``values`` (k <= len): the k-th best of a sample of them."""
    return _kth_best(values[:: _stride(values, k)], k)


def _kth_best(scores: FloatArray, k: int) -> float:
    return float(np.partition(scores, scores.shape[0] - k)[scores.shape[0] - k])


def _best(
    positions: npt.NDArray[np.integer[Any]], scores: FloatArray, k: int, floor: float
) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """The ``k`` best of ``positions`` by score, then position, among scores above 0 and floor."""
    keep = (scores > 0) & (scores >= floor)
    positions, scores = positions[keep], scores[keep]
    if positions.shape[0] > k:
        # Keep every position tied with the k-th best, then order them exactly.
        keep = scores >= _kth_best(scores, k)
        positions, scores = positions[keep], scores[keep]
    order = np.lexsort((positions, -scores))[:k]
    return positions[order].astype(np.int64), scores[order]


def _pairs(positions: npt.NDArray[np.int64], scores: FloatArray) -> list[tuple[int, float]]:
    """Positions and their scores as (position, score) pairs."""
    return list(zip(positions.tolist(), scores.tolist(), strict=True))


class _HashingWriter:
    """A binary file that hashes and counts what is written to it (np.save writes in chunks).

    Besides the SHA-256, it keeps the CRC-32 that a saved library checks at every start: the
    same protection from a damaged disk or a partial copy at 2.6 times the speed (3.7 against
    1.4 GB/s here), and SHA-256's strength buys nothing against someone who can rewrite the
    manifest next to the file.
    """

    def __init__(self, path: Path) -> None:
        self.file = path.open("wb")
        self.digest = hashlib.sha256()
        self.crc = 0
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)
        return self.file.write(data)

    def close(self) -> dict[str, Any]:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        return {"bytes": self.size, "sha256": self.digest.hexdigest(), "crc32": self.crc}


def _write_array(path: Path, array: npt.NDArray[Any]) -> dict[str, Any]:
    writer = _HashingWriter(path)
    try:
        np.save(writer, np.ascontiguousarray(array), allow_pickle=False)
    finally:
        record = writer.close()
    return {"file": path.name, "dtype": str(array.dtype), "shape": list(array.shape), **record}


def _write_bytes(path: Path, data: bytes) -> dict[str, Any]:
    writer = _HashingWriter(path)
    try:
        writer.write(data)
    finally:
        record = writer.close()
    return {"file": path.name, **record}


@contextmanager
def _staged(target: Path) -> Iterator[Path]:
    """A temporary sibling of ``target`` to write in, renamed to ``target`` when the block ends
    well (so a reader never sees half of it) and removed when it fails."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield staging
        _replace_directory(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _replace_directory(staging: Path, target: Path) -> None:
    """Move ``staging`` to ``target``; an existing ``target`` is set aside, then removed."""
    aside = None
    if target.exists():
        aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
        os.replace(target, aside / target.name)
    os.replace(staging, target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the renames themselves survive a crash
    finally:
        os.close(directory)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def _read_manifest(
    path: Path, name: str, version: int, files: set[str], optional: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The manifest at ``path`` if it is of format ``name`` and ``version`` and lists ``files``
    (and maybe some of ``optional``); else :class:`IndexFormatError`. Shared with
    :mod:`bot.core.saved`."""
    try:
        manifest = json.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise IndexFormatError(f"{path} is missing: no saved index there") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexFormatError(f"{path}: unreadable manifest ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != name:
        raise IndexFormatError(f"{path}: not a manifest of a saved {name}")
    if manifest.get("version") != version:
        raise IndexFormatError(
            f"{path}: format version {manifest.get('version')!r}, this program reads {version}"
        )
    listed = manifest.get("files")
    if not isinstance(listed, dict) or set(listed) - optional != files:
        raise IndexFormatError(f"{path}: the manifest does not list the saved files")
    return manifest


def _load_array(
    source: Path,
    name: str,
    dtype: str,
    files: dict[str, dict[str, Any]],
    *,
    verify: bool,
    mmap: bool = True,
) -> npt.NDArray[Any]:
    """The array ``name`` of a saved directory, checked against its manifest record."""
    path = _checked_file(source, name, files, verify)
    try:
        array: npt.NDArray[Any] = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except ValueError as exc:
        raise IndexFormatError(f"{path}: not a readable array ({exc})") from exc
    if str(array.dtype) != dtype or list(array.shape) != files[name]["shape"]:
        raise IndexFormatError(
            f"{path}: {array.dtype}{list(array.shape)}, the manifest says"
            f" {dtype}{files[name]['shape']}"
        )
    # A plain array over the same mapped pages: every slice of a np.memmap is a memmap made in
    # Python (15 us each), and a question slices postings thousands of times.
    return array.view(np.ndarray)


def _checked_file(source: Path, name: str, files: dict[str, dict[str, Any]], verify: bool) -> Path:
    record = files[name]
    path = source / str(record["file"])
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise IndexFormatError(f"{path} is missing") from exc
    if size != record["bytes"]:
        raise IndexFormatError(
            f"{path}: {size} bytes, the manifest says {record['bytes']} (truncated or altered)"
        )
    if verify:
        digest = hashlib.sha256()
        with path.open("rb") as file:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
        if digest.hexdigest() != record["sha256"]:
            raise IndexFormatError(f"{path}: its SHA-256 differs from the manifest's (altered)")
    return path
