"""What embedding a corpus costs: texts and tokens a second, by how the engine is called.

    .venv/bin/python -m benchmarks.embedding [--data ../shared/eval/squad] [-n 200] [--repeat 3]
    .venv/bin/python -m benchmarks.embedding --lengths [--data ../shared/eval/cmrc2018]
    DATA_DIR=/tmp/embed-x .venv/bin/python -m benchmarks.embedding --corpus [--data ...]

The texts are the ones a library of ``--data``'s corpus asks to embed (each passage and each
sentence after its article's title), ``-n`` of them drawn at random (seed 0), or the longest ones
with ``--longest``. Each way of calling the engine (:data:`WAYS`) embeds them in a process of its
own, so that its memory is its own, and the ways take turns ``--repeat`` times, so that each meets
the same load on a shared machine: the figures are medians, and the ratio to the first way
compared (way 0 is the bot's calls before issue 8: 64 texts a call, on the engine's threads;
``--ways 0,5`` compares it with today's). Per way: texts and tokens a second (wall clock), CPU
seconds per thousand tokens, and the memory the model adds: resident after loading it and at the
peak, less the resident size before.

``--lengths`` times the bot's own calls (:func:`bot.core.semantic.embed_passages`) on texts of
each length band, in tokens: attention grows with the square of a text's length.

``--corpus`` embeds the whole corpus as the bot does when it builds its library, into
``DATA_DIR/embeddings`` (which should be empty: what it holds is not embedded again), and gives
the wall time, CPU time and the peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.core import semantic
from bot.core.corpus import load_corpus
from bot.core.library import LibraryConfig, LibraryParts
from bot.core.semantic import E5Embedder, EmbeddingCache, Vectors, embed_passages

ROOT = Path(__file__).resolve().parents[1]
# name: (threads of the engine, texts a call or None, characters a call or None, worker threads)
WAYS: dict[str, tuple[int | None, int | None, int | None, bool]] = {
    "64 texts a call, engine's threads (before)": (None, 64, None, False),
    "64 texts a call, 1 thread": (1, 64, None, False),
    "2048 chars a call, engine's threads": (None, None, 2048, False),
    "2048 chars a call, 1 thread": (1, None, 2048, False),
    "512 chars a call on worker threads": (None, None, 512, True),
    "1024 chars a call on worker threads (the bot)": (None, None, 1024, True),
    "2048 chars a call on worker threads": (None, None, 2048, True),
    "8192 chars a call on worker threads": (None, None, 8192, True),
}
BANDS = ((1, 32), (33, 64), (65, 128), (129, 256), (257, 512), (513, 2048))


class Recorder:
    """An embedder that keeps what it is asked to embed (and gives zero vectors)."""

    name, dim = "recorder", 1

    def __init__(self) -> None:
        self.texts: list[str] = []

    def queries(self, texts: Sequence[str]) -> Vectors:
        return np.zeros((len(texts), 1), np.float32)

    def passages(self, texts: Sequence[str]) -> Vectors:
        self.texts.extend(texts)
        return np.zeros((len(texts), 1), np.float32)

    def min_cosine(self, *, cjk: bool) -> float:
        del cjk
        return 0.0

    background = np.zeros(1, np.float32)
    min_standout = least_standout = 0.0


def corpus_texts(data: Path) -> list[str]:
    """The texts a library of ``data``'s corpus embeds, each once."""
    recorder = Recorder()
    articles = load_corpus(data / "corpus.jsonl").articles
    LibraryParts.derive(articles, LibraryConfig(), recorder, EmbeddingCache())
    return recorder.texts


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass(frozen=True)
class Run:
    texts: int
    tokens: int
    wall: float
    cpu: float
    loaded_mb: float  # resident memory the loaded model added
    peak_mb: float  # the peak's growth over the resident size before loading


def run_way(way: str, texts: list[str]) -> Run:
    """Embed ``texts`` the way ``way`` names, in this process (OMP_NUM_THREADS already set)."""
    _, per_call, chars, workers = WAYS[way]
    before = rss_mb()
    model = E5Embedder()
    loaded = rss_mb()
    engine = model._model
    tokens = sum(engine.token_count(t) for t in texts)
    started, cpu = time.perf_counter(), time.process_time()
    if workers:
        assert chars is not None
        semantic.CALL_CHARS = chars
        embed_passages(model, texts, EmbeddingCache())
    elif per_call is not None:
        for first in range(0, len(texts), per_call):
            engine.passage(texts[first : first + per_call])
    else:
        assert chars is not None
        for start, end in semantic.runs([len(t) for t in texts], chars):
            engine.passage(texts[start:end])
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return Run(len(texts), tokens, wall, cpu, loaded - before, peak_mb() - before)


def child(way: str, sample: Path) -> None:
    texts = json.loads(sample.read_text(encoding="utf-8"))
    print(json.dumps(run_way(way, texts).__dict__))


def spawn(way: str, sample: Path) -> Run:
    threads = WAYS[way][0]
    env = dict(os.environ)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.embedding", "--way", way, "--sample", str(sample)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return Run(**json.loads(out.splitlines()[-1]))


def compare(texts: list[str], repeat: int, ways: Sequence[str]) -> None:
    runs: dict[str, list[Run]] = {way: [] for way in ways}
    with tempfile.TemporaryDirectory() as folder:
        sample = Path(folder) / "sample.json"
        sample.write_text(json.dumps(texts), encoding="utf-8")
        for _ in range(repeat):
            for way in ways:
                runs[way].append(spawn(way, sample))
    first = statistics.median(r.tokens / r.wall for r in runs[ways[0]])
    tokens = runs[ways[0]][0].tokens
    print(f"{len(texts)} texts, {tokens} tokens; medians of {repeat}; load {os.getloadavg()}")
    print("way | texts/s | tokens/s | vs before | CPU s / 1k tokens | MB loaded | MB peak")
    for way, done in runs.items():
        speed = statistics.median(r.tokens / r.wall for r in done)
        cpu = statistics.median(1000 * r.cpu / r.tokens for r in done)
        print(
            f"{way} | {statistics.median(r.texts / r.wall for r in done):.1f} | {speed:.0f}"
            f" | {speed / first:.2f} | {cpu:.2f}"
            f" | {statistics.median(r.loaded_mb for r in done):.0f}"
            f" | {statistics.median(r.peak_mb for r in done):.0f}"
        )


def lengths(texts: list[str], per_band: int, repeat: int) -> None:
    model = E5Embedder()
    engine = model._model
    counted = [(engine.token_count(t), t) for t in texts]
    bands = [[(n, t) for n, t in counted if low <= n <= high][:per_band] for low, high in BANDS]
    times: list[list[tuple[float, float]]] = [[] for _ in BANDS]
    for _ in range(repeat):
        for band, timed in zip(bands, times, strict=True):
            if band:
                started, cpu = time.perf_counter(), time.process_time()
                embed_passages(model, [t for _, t in band], EmbeddingCache())
                timed.append((time.perf_counter() - started, time.process_time() - cpu))
    print(f"medians of {repeat}; load {os.getloadavg()}")
    print("tokens | texts | texts/s | tokens/s | CPU s / 1k tokens")
    for (low, high), band, timed in zip(BANDS, bands, times, strict=True):
        if band:
            tokens = sum(n for n, _ in band)
            wall = statistics.median(w for w, _ in timed)
            cpu = statistics.median(c for _, c in timed)
            print(
                f"{low}-{high} | {len(band)} | {len(band) / wall:.1f} | {tokens / wall:.0f}"
                f" | {1000 * cpu / tokens:.2f}"
            )


def whole_corpus(data: Path) -> None:
    folder = Path(os.environ.get("DATA_DIR", "data")) / "embeddings"
    articles = load_corpus(data / "corpus.jsonl").articles
    before = rss_mb()
    model = E5Embedder()
    loaded = rss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    parts = LibraryParts.derive(articles, LibraryConfig(), model, EmbeddingCache(folder))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert parts.sentence_vectors is not None
    figures: dict[str, Any] = {
        "passages": len(parts.passages),
        "sentences": len(parts.sentence_vectors),
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "model_loaded_mb": round(loaded - before, 1),
        "peak_over_before_mb": round(peak_mb() - before, 1),
        "load": os.getloadavg(),
    }
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "eval" / "squad")
    parser.add_argument("-n", type=int, default=200, help="texts drawn from the corpus's")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--longest", action="store_true", help="the n longest texts (memory's worst case)"
    )
    parser.add_argument("--lengths", action="store_true", help="texts/s by length band")
    parser.add_argument("--corpus", action="store_true", help="embed the whole corpus once")
    parser.add_argument(
        "--ways", help="the ways to compare, by number (0 first; all when not given)"
    )
    parser.add_argument("--way", choices=list(WAYS), help=argparse.SUPPRESS)
    parser.add_argument("--sample", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.way:
        child(args.way, args.sample)
        return
    if args.corpus:
        whole_corpus(args.data)
        return
    texts = corpus_texts(args.data)
    chosen = np.random.default_rng(0).permutation(len(texts))
    if args.longest:
        chosen = np.argsort([-len(t) for t in texts], kind="stable")
    if args.lengths:
        lengths([texts[i] for i in chosen], max(1, args.n // len(BANDS)), args.repeat)
        return
    names = list(WAYS)
    ways = [names[int(i)] for i in args.ways.split(",")] if args.ways else names
    compare([texts[i] for i in chosen[: args.n]], args.repeat, ways)


if __name__ == "__main__":
    main()
