"""What the semantic stage costs a question, at the size of a real corpus.

    .venv/bin/python -m benchmarks.semantic_latency [--data ../shared/eval/squad] [-n 300]

Times :func:`bot.core.answer.answer` over a corpus with the semantic stage on and off, on the
corpus's own questions: median and 99th percentile in milliseconds, and the process's peak
memory. The question is embedded by the real model each time; the passages' and sentences' vectors
are the real ones where ``DATA_DIR/embeddings`` has them and otherwise random unit vectors of the
same shape, which cost the same to rank against, so that a corpus that would take hours to embed
on this machine can still be timed (with no floor on the cosine, so that every question is
answered and its sentences chosen: the slower path). The model's own memory is the growth from
loading it.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.core.answer import answer
from bot.core.corpus import load_corpus
from bot.core.library import Library
from bot.core.semantic import E5Embedder, EmbeddingCache, Vectors, text_key
from bot.evaluate import load_eval_set


class CachedOrRandom:
    """The real model for questions; cached vectors, else random ones, for passages."""

    def __init__(self, model: E5Embedder, cache: EmbeddingCache) -> None:
        self.model, self.cache = model, cache
        self.name, self.dim = model.name, model.dim
        self.random = np.random.default_rng(0)

    def queries(self, texts: Sequence[str]) -> Vectors:
        return self.model.queries(texts)

    def passages(self, texts: Sequence[str]) -> Vectors:
        known = self.cache.lookup(self.name, [text_key(self.name, t) for t in texts])
        rows = []
        for text in texts:
            vector = known.get(text_key(self.name, text))
            if vector is None:
                vector = self.random.standard_normal(self.dim).astype(np.float32)
                vector /= np.linalg.norm(vector)
            rows.append(vector)
        return np.stack(rows) if rows else np.zeros((0, self.dim), np.float32)

    def min_cosine(self, *, cjk: bool) -> float:
        # Random vectors are far from every question: with the model's floor every question
        # would be declined before its sentences are chosen, and the time of a reply not seen.
        del cjk
        return -1.0

    @property
    def background(self) -> Vectors:
        return self.model.background

    @property
    def min_standout(self) -> float:
        return -2.0  # as min_cosine: every question reaches its reply

    @property
    def least_standout(self) -> float:
        return -2.0


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(library: Library, questions: list[str]) -> tuple[float, float]:
    """Median and 99th percentile of one answer, in milliseconds (after two warm-up answers)."""
    for question in questions[:2]:
        answer(library, question)
    times = []
    for question in questions:
        started = time.perf_counter()
        answer(library, question)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("--data", type=Path, default=root.parent / "shared" / "eval" / "squad")
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("-n", type=int, default=300, help="questions to time")
    args = parser.parse_args()
    eval_set = load_eval_set(args.data)
    articles = load_corpus(eval_set.corpus_path).articles
    questions = [q.text for q in eval_set.queries[: args.n]]
    lexical = Library(articles)
    p50, p99 = timed(lexical, questions)
    print(f"lexical:  {len(lexical.passages)} passages, p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    before = rss_mb()
    model = E5Embedder()
    model.queries(["warm up"])
    print(f"model loaded: peak RSS {before:.0f} MB -> {rss_mb():.0f} MB")
    cache = EmbeddingCache(args.data_dir / "embeddings")
    semantic = Library(articles, embedder=CachedOrRandom(model, cache), cache=EmbeddingCache())
    assert semantic.sentence_vectors is not None
    p50, p99 = timed(semantic, questions)
    print(
        f"semantic: {len(semantic.passages)} passages, {len(semantic.sentence_vectors)} sentences,"
        f" p50 {p50:.1f} ms, p99 {p99:.1f} ms; peak RSS {rss_mb():.0f} MB"
    )


if __name__ == "__main__":
    main()
