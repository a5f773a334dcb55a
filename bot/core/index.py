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

**Building.** Every token is mapped to a term id in one C-level pass (a ``defaultdict`` whose
default is the next id), each (term, passage) pair becomes one int64 key ``term * N + passage``,
and one sort of the keys groups the postings by term, passages ascending; runs of equal keys give
the term frequencies. No Python object is made per posting, which is what made building slow and
memory-hungry (three Python lists of 45M postings at 1M passages). Every posting's contribution is
computed once at build time, so scoring a passage for a term is one lookup.

**Top k without scoring everything.** A five-word query shares a frequent word with almost every
passage, so accumulating every posting and sorting every match costs O(N) per query. ``top_k``
instead (MaxScore, done a block at a time with numpy):

1. scores exactly the passages of the query term with the highest possible contribution (nearly
   always the rarest): the k-th best of those real scores is a floor that the final k-th best
   score can only meet or beat;
2. orders the terms by their highest contribution ``bound``; the terms whose bounds add up to less
   than the floor are *non-essential*: a passage that has none of the other, *essential*, terms
   scores below the floor and cannot be among the best k;
3. scores exactly (every term, in the query's order, so the sums are bit-identical to
   :meth:`BM25Index.scores`) only the passages of the essential terms, looking a passage's weight
   up in a term's sorted postings by binary search.

When the essential terms' postings still cover more than ``PRUNE_SHARE`` of the passages (every
query word is frequent), scoring all postings is cheaper, and the floor still spares sorting all
matches. ``PRUNE_SHARE`` is where the two cost the same in ``benchmarks/`` on this 2-core machine.

**Saved form.** :meth:`BM25Index.save` writes a directory: ``manifest.json`` (format name,
``FORMAT_VERSION``, parameters, and for each file its dtype, shape, byte size and SHA-256),
``vocabulary.json`` (the terms in row order) and one ``.npy`` file per array, written without
pickle. It is written in a temporary sibling directory and renamed into place, so a reader never
sees half of it. :meth:`BM25Index.load` memory-maps the arrays and refuses, with
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
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Variant = Literal["lucene", "okapi"]
FloatArray = npt.NDArray[np.float64]
IdArray = npt.NDArray[np.int32]
OffsetArray = npt.NDArray[np.int64]

FORMAT_NAME = "announcements-bot BM25Index"
FORMAT_VERSION = 1
# Pruned top-k is used while the passages it must score are at most this share of the corpus.
PRUNE_SHARE = 0.25
# Relative slack on the pruning floor, so that rounding in a sum of bounds never drops a passage.
BOUND_SLACK = 1e-9
# module-level top_k estimates its floor from every SAMPLE_STRIDE-th score once the scores are
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


def term_weights(
    tf: FloatArray, doc_len: FloatArray, avgdl: float, k1: float, b: float, scale: float
) -> FloatArray:
    """BM25's saturating term-frequency factor, before multiplying by the idf."""
    result: FloatArray = tf * scale / (tf + k1 * (1.0 - b + b * doc_len / avgdl))
    return result


# The arrays of an index, as saved: attribute name -> dtype.
_ARRAYS: dict[str, str] = {
    "idf": "float64",
    "offsets": "int64",
    "passage_ids": "int32",
    "weights": "float64",
    "max_weights": "float64",
    "doc_lengths": "int32",
}


@dataclass(frozen=True, slots=True, eq=False)
class BM25Index:
    """An inverted index whose postings already hold each (term, passage) contribution.

    ``vocabulary`` maps a term to its row; row ``r``'s postings are
    ``passage_ids[offsets[r]:offsets[r + 1]]`` (ascending) with contributions ``weights[...]``,
    the largest of which is ``max_weights[r]``.
    """

    vocabulary: dict[str, int]
    idf: FloatArray
    offsets: OffsetArray
    passage_ids: IdArray
    weights: FloatArray
    max_weights: FloatArray
    doc_lengths: IdArray
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
        lengths = np.fromiter(map(len, docs), dtype=np.int64, count=total)
        # A missing term gets the next id: the whole corpus is mapped without a Python loop.
        ids: defaultdict[str, int] = defaultdict()
        ids.default_factory = ids.__len__
        keys = np.fromiter(
            map(ids.__getitem__, chain.from_iterable(docs)),
            dtype=np.int64,
            count=int(lengths.sum()),
        )
        vocabulary = dict(ids)  # a plain dict: looking up a query's unknown term adds nothing
        keys *= max(total, 1)
        keys += np.repeat(np.arange(total, dtype=np.int64), lengths)
        keys.sort()
        first = np.empty(keys.size, dtype=bool)
        first[:1] = True
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        del first
        tf = np.diff(starts, append=keys.size).astype(np.float64)
        keys = keys[starts]
        del starts
        rows = keys // max(total, 1)
        passage_ids = (keys - rows * total).astype(np.int32)
        del keys
        df = np.bincount(rows, minlength=len(vocabulary))
        offsets = np.zeros(len(vocabulary) + 1, dtype=np.int64)
        np.cumsum(df, out=offsets[1:])
        if variant == "lucene":
            idf, scale = lucene_idf(df.astype(np.float64), total), 1.0
        else:
            idf, scale = okapi_idf(df.astype(np.float64), total, epsilon), k1 + 1.0
        doc_lengths = lengths.astype(np.int32)
        # rank-bm25 divides by the mean length over all documents, empty ones included.
        avgdl = float(lengths.mean()) if total and lengths.any() else 1.0
        weights = term_weights(tf, doc_lengths[passage_ids].astype(np.float64), avgdl, k1, b, scale)
        del tf
        weights *= idf[rows]
        del rows
        # Every term has at least one posting, so each reduceat segment is non-empty.
        max_weights = np.maximum.reduceat(weights, offsets[:-1]) if len(vocabulary) else np.zeros(0)
        return cls(
            vocabulary, idf, offsets, passage_ids, weights, max_weights, doc_lengths, k1, b, variant
        )

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
        return self._scores_of(self._rows(query_weights))

    def matched_weight(self, term_weights: Mapping[str, float]) -> FloatArray:
        """Return, for every passage, the sum of ``term_weights`` of the terms it contains.

        Each term counts once, however often the passage repeats it: this measures how much of
        a query a passage holds (a coordination factor), which BM25's saturation blurs.
        """
        found = np.zeros(len(self), dtype=np.float64)
        for row, weight in self._rows(term_weights):
            found[self.passage_ids[self.offsets[row] : self.offsets[row + 1]]] += weight
        return found

    def top_k(self, query_tokens: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Return up to ``k`` (passage, score) pairs that match a query term, best first.

        Equal scores are ordered by passage position, so results are deterministic. The scores
        are those of :meth:`scores`, bit for bit; most passages are never scored (see the
        module's docstring).
        """
        if k <= 0:
            return []
        query = self._rows(Counter(query_tokens))
        if not query:
            return []
        rows = np.array([row for row, _ in query], dtype=np.int64)
        bounds = np.array([w for _, w in query]) * self.max_weights[rows]
        budget = PRUNE_SHARE * len(self)
        seed = self._postings(int(rows[int(np.argmax(bounds))]))
        if k >= len(self) or seed.size < k or seed.size > budget or (self.idf[rows] <= 0).any():
            # Too few or too many passages to prune with, or (okapi) a term that lowers scores.
            return top_k(self._scores_of(query), k)
        floor = _kth_best(self._scores_at(query, seed), k) * (1.0 - BOUND_SLACK)
        ascending = np.argsort(bounds, kind="stable")
        spare = np.cumsum(bounds[ascending]) < floor
        spare[-1] = False  # the best-bounded term is essential even if rounding said otherwise
        essential = rows[ascending[~spare]]
        if int(np.sum(self.offsets[essential + 1] - self.offsets[essential])) > budget:
            return top_k(self._scores_of(query), k, floor=floor)
        parts = [self._postings(int(row)) for row in essential]
        candidates = parts[0] if len(parts) == 1 else np.unique(np.concatenate(parts))
        return _best(candidates, self._scores_at(query, candidates), k, floor)

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write the index to ``directory`` (replaced if it exists), atomically."""
        target = Path(directory)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
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
                "files": files,
            }
            # The manifest is written last: a directory without one was never finished.
            _write_bytes(staging / "manifest.json", json.dumps(manifest, indent=2).encode())
            _replace_directory(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

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
        manifest = _read_manifest(source / "manifest.json")
        files: dict[str, dict[str, Any]] = manifest["files"]
        arrays: dict[str, Any] = {}
        for name, dtype in _ARRAYS.items():
            path = _checked_file(source, name, files, verify)
            try:
                array = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
            except ValueError as exc:
                raise IndexFormatError(f"{path}: not a readable array ({exc})") from exc
            if str(array.dtype) != dtype or list(array.shape) != files[name]["shape"]:
                raise IndexFormatError(
                    f"{path}: {array.dtype}{list(array.shape)}, the manifest says"
                    f" {dtype}{files[name]['shape']}"
                )
            arrays[name] = array
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
        )
        if len(set(counts)) != 1 or arrays["doc_lengths"].shape[0] != manifest["passages"]:
            raise IndexFormatError(f"{source}: the files disagree on the number of terms")
        return cls(
            dict(zip(terms, range(len(terms)), strict=True)),
            k1=float(manifest["k1"]),
            b=float(manifest["b"]),
            variant=manifest["variant"],
            **arrays,
        )

    def _rows(self, query_weights: Mapping[str, float]) -> list[tuple[int, float]]:
        """The (row, weight) of each query term the index knows, in the query's order."""
        known = ((self.vocabulary.get(term), weight) for term, weight in query_weights.items())
        return [(row, float(weight)) for row, weight in known if row is not None]

    def _postings(self, row: int) -> IdArray:
        return self.passage_ids[self.offsets[row] : self.offsets[row + 1]]

    def _scores_of(self, query: list[tuple[int, float]]) -> FloatArray:
        scores = np.zeros(len(self), dtype=np.float64)
        for row, weight in query:
            lo, hi = self.offsets[row], self.offsets[row + 1]
            # Passage ids are unique within a term's postings, so fancy-index += is exact.
            scores[self.passage_ids[lo:hi]] += weight * self.weights[lo:hi]
        return scores

    def _scores_at(self, query: list[tuple[int, float]], passages: IdArray) -> FloatArray:
        """The scores of ``passages`` (ascending), summed in the query's order like scores()."""
        scores = np.zeros(passages.shape[0], dtype=np.float64)
        for row, weight in query:
            lo, hi = int(self.offsets[row]), int(self.offsets[row + 1])
            at = np.minimum(np.searchsorted(self.passage_ids[lo:hi], passages), hi - lo - 1) + lo
            found = self.passage_ids[at] == passages
            scores += weight * np.where(found, self.weights[at], 0.0)
        return scores


def top_k(scores: FloatArray, k: int, *, floor: float = 0.0) -> list[tuple[int, float]]:
    """Return up to ``k`` (position, score) pairs of the positive ``scores``, best first.

    Equal scores are ordered by position, so results are deterministic. ``floor``, when given,
    must be at most the k-th best score: only scores at or above it are considered.
    """
    if k <= 0:
        return []
    if floor <= 0 and scores.shape[0] >= SAMPLE_STRIDE * k * 4:
        sample = scores[::SAMPLE_STRIDE]
        sample = sample[sample > 0]
        if sample.shape[0] >= k:
            floor = _kth_best(sample, k)
    matched = np.flatnonzero(scores >= floor) if floor > 0 else np.flatnonzero(scores > 0)
    return _best(matched, scores[matched], k, floor)


def _kth_best(scores: FloatArray, k: int) -> float:
    return float(np.partition(scores, scores.shape[0] - k)[scores.shape[0] - k])


def _best(
    positions: npt.NDArray[np.integer[Any]], scores: FloatArray, k: int, floor: float
) -> list[tuple[int, float]]:
    """The ``k`` best of ``positions`` by score, then position, among scores above 0 and floor."""
    keep = (scores > 0) & (scores >= floor)
    positions, scores = positions[keep], scores[keep]
    if positions.shape[0] > k:
        # Keep every position tied with the k-th best, then order them exactly.
        keep = scores >= _kth_best(scores, k)
        positions, scores = positions[keep], scores[keep]
    order = np.lexsort((positions, -scores))[:k]
    return [(int(positions[i]), float(scores[i])) for i in order]


class _HashingWriter:
    """A binary file that hashes and counts what is written to it (np.save writes in chunks)."""

    def __init__(self, path: Path) -> None:
        self.file = path.open("wb")
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.file.write(data)

    def close(self) -> dict[str, Any]:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        return {"bytes": self.size, "sha256": self.digest.hexdigest()}


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


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise IndexFormatError(f"{path} is missing: no saved index there") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexFormatError(f"{path}: unreadable manifest ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise IndexFormatError(f"{path}: not a manifest of a saved BM25 index")
    if manifest.get("version") != FORMAT_VERSION:
        raise IndexFormatError(
            f"{path}: format version {manifest.get('version')!r}, this program reads"
            f" {FORMAT_VERSION}"
        )
    if set(manifest.get("files", {})) != {*_ARRAYS, "vocabulary"}:
        raise IndexFormatError(f"{path}: the manifest does not list the index's files")
    return manifest


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
