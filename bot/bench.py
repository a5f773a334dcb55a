"""``announcements-bot bench``: our BM25 engine beside rank-bm25, bm25s and tantivy.

Every engine gets the same tokens: a synthetic corpus of ``passages`` passages of
``PASSAGE_TOKENS`` words drawn from a ``VOCABULARY``-word vocabulary with Zipf frequencies
(exponent 1, as word frequencies in a language roughly fall off), and ``QUERY_TOKENS``-word queries
drawn from the same frequencies, so a query mixes rare words with words most passages have. The
generator is seeded: every engine, in every run, sees the same corpus and queries.

Each (engine, size) runs in its own subprocess (``python -m bot.bench worker ...``), so that the
peak resident memory it reports (``ru_maxrss``) is its own and not a mix with the engine run before
it. The worker reports:

- ``build_s``: from the token lists to an index ready to answer (tantivy: joining each passage's
  tokens with spaces, adding the documents, committing, waiting for merges and opening a searcher);
- ``p50_ms`` and ``p99_ms`` of single top-10 queries, timed one by one after ``WARMUP`` queries;
- ``peak_mb``: the process's peak resident memory, and ``corpus_mb`` the resident memory once the
  tokens exist, before building (every engine carries the same corpus, so ``peak - corpus`` is what
  the engine itself needed at its peak);
- the top-10 passages (and their scores) of the first ``CHECKED_QUERIES`` queries, compared with
  ours by the parent: the share of queries whose top 10 is the same set of passages, or has the
  same scores to float32's precision (passages tied at the 10th place may be either).

The engines, as their users would call them: ours (``BM25Index.build``, ``top_k``, Lucene's
BM25, k1 = 1.2, b = 0.75), bm25s (``BM25(method="lucene")``, ``index``, ``retrieve``), tantivy (an
index in memory, a ``freq`` text field with the ``whitespace`` tokenizer so its terms are our
tokens, the default writer, ``parse_query`` and ``search``; its BM25 quantises passage lengths,
so its top 10 can differ a little) and rank-bm25 (``BM25Okapi``, ``get_scores`` and a partial
sort; Okapi's idf, so its top 10 is not ours). rank-bm25 scores every passage in Python for every
query term, so its queries are capped at ``--slow-queries`` (seconds each at 1M passages).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.core.index import BM25Index

VOCABULARY = 50_000
PASSAGE_TOKENS = 60
QUERY_TOKENS = 5
TOP_K = 10
WARMUP = 5
CHECKED_QUERIES = 50
ENGINES = ("ours", "bm25s", "tantivy", "rank-bm25")
# Rows of the corpus generated at a time: bounds the generator's own temporary arrays.
CHUNK_ROWS = 50_000

# A query's top passages and their scores, best first.
Searcher = Callable[[list[str]], tuple[list[int], list[float]]]
Top = tuple[list[int], list[float]]


@dataclass(frozen=True, slots=True)
class Measurement:
    """One engine at one corpus size, as measured by its own worker process."""

    engine: str
    passages: int
    queries: int
    build_s: float
    p50_ms: float
    p99_ms: float
    peak_mb: float
    corpus_mb: float
    same_top10: float | None = None  # share of checked queries whose top 10 equals ours


def synthetic(
    passages: int, queries: int, seed: int = 0
) -> tuple[list[list[str]], list[list[str]]]:
    """The benchmark's corpus and queries: Zipf-distributed words ``w0`` (most frequent) to ..."""
    rng = np.random.default_rng(seed)
    words = np.array([f"w{i}" for i in range(VOCABULARY)], dtype=object)
    cdf = np.cumsum(1.0 / np.arange(1, VOCABULARY + 1))
    cdf /= cdf[-1]

    def draw(rows: int, width: int) -> list[list[str]]:
        ids = np.minimum(np.searchsorted(cdf, rng.random((rows, width))), VOCABULARY - 1)
        drawn: list[list[str]] = words[ids].tolist()
        return drawn

    corpus: list[list[str]] = []
    for start in range(0, passages, CHUNK_ROWS):
        corpus.extend(draw(min(CHUNK_ROWS, passages - start), PASSAGE_TOKENS))
    return corpus, draw(queries, QUERY_TOKENS)


def synthetic_index(description: str | None) -> tuple[int, BM25Index, list[list[str]]]:
    """For the scripts of benchmarks/: read ``--passages`` and ``--queries``, build our index.

    Returns the number of passages, the index and the queries.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--passages", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    corpus, queries = synthetic(args.passages, args.queries)
    return args.passages, BM25Index.build(corpus), queries


def _ours(corpus: list[list[str]]) -> Searcher:
    index = BM25Index.build(corpus, k1=1.2, b=0.75)

    def search(query: list[str]) -> Top:
        found = index.top_k(query, TOP_K)
        return [position for position, _ in found], [score for _, score in found]

    return search


def _bm25s(corpus: list[list[str]]) -> Searcher:
    import bm25s

    retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    retriever.index(corpus, show_progress=False)

    def search(query: list[str]) -> Top:
        found, scores = retriever.retrieve([query], k=TOP_K, show_progress=False)
        return [int(i) for i in found[0]], [float(s) for s in scores[0]]

    return search


def _tantivy(corpus: list[list[str]]) -> Searcher:
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("body", tokenizer_name="whitespace", index_option="freq")
    builder.add_integer_field("id", stored=True)
    index = tantivy.Index(builder.build())
    writer = index.writer()
    for position, tokens in enumerate(corpus):
        writer.add_document(tantivy.Document(id=position, body=" ".join(tokens)))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    searcher = index.searcher()

    def search(query: list[str]) -> Top:
        hits = searcher.search(index.parse_query(" ".join(query), ["body"]), TOP_K).hits
        return [int(searcher.doc(address)["id"][0]) for _, address in hits], [s for s, _ in hits]

    return search


def _rank_bm25(corpus: list[list[str]]) -> Searcher:
    from rank_bm25 import BM25Okapi

    model = BM25Okapi(corpus, k1=1.2, b=0.75)

    def search(query: list[str]) -> Top:
        scores = model.get_scores(query)
        if scores.size > TOP_K:
            best = np.argpartition(-scores, TOP_K)[:TOP_K]
        else:
            best = np.arange(scores.size)
        best = best[np.argsort(-scores[best], kind="stable")]
        return [int(i) for i in best], [float(scores[i]) for i in best]

    return search


_BUILDERS: dict[str, Callable[[list[list[str]]], Searcher]] = {
    "ours": _ours,
    "bm25s": _bm25s,
    "tantivy": _tantivy,
    "rank-bm25": _rank_bm25,
}


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def run_worker(engine: str, passages: int, queries: int, seed: int) -> dict[str, Any]:
    """Measure one engine at one size in this process (meant to be a fresh one)."""
    corpus, query_list = synthetic(passages, queries + WARMUP, seed)
    corpus_mb = _rss_mb()
    started = time.perf_counter()
    search = _BUILDERS[engine](corpus)
    build_s = time.perf_counter() - started
    for query in query_list[:WARMUP]:
        search(query)
    times: list[float] = []
    tops: list[Top] = []
    for query in query_list[WARMUP:]:
        started = time.perf_counter()
        top = search(query)
        times.append(time.perf_counter() - started)
        if len(tops) < CHECKED_QUERIES:
            tops.append(top)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # KiB on Linux
    measurement = Measurement(
        engine,
        passages,
        len(times),
        build_s,
        float(np.percentile(times, 50) * 1e3),
        float(np.percentile(times, 99) * 1e3),
        peak_mb,
        corpus_mb,
    )
    return {"measurement": asdict(measurement), "tops": tops}


def measure(
    engine: str, passages: int, queries: int, seed: int = 0
) -> tuple[Measurement, list[Top]]:
    """Run :func:`run_worker` in a subprocess of its own and return what it measured."""
    command = [sys.executable, "-m", "bot.bench", "worker", engine, str(passages), str(queries)]
    done = subprocess.run(
        [*command, "--seed", str(seed)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{engine} at {passages} passages failed:\n{done.stderr.strip()}")
    record = json.loads(done.stdout.strip().splitlines()[-1])
    tops = [(list(ids), list(scores)) for ids, scores in record["tops"]]
    return Measurement(**record["measurement"]), tops


def run(
    sizes: Sequence[int],
    engines: Sequence[str],
    queries: int,
    slow_queries: int,
    seed: int = 0,
    repeat: int = 1,
    progress: Callable[[str], None] = lambda _: None,
) -> list[Measurement]:
    """Measure every engine at every size, ``repeat`` times in turn; report each figure's median.

    ``same_top10`` compares each engine's top 10 with ours (from the first round).
    """
    results: list[Measurement] = []
    for passages in sizes:
        rounds: dict[str, list[Measurement]] = {engine: [] for engine in engines}
        reference: list[Top] | None = None
        for _ in range(repeat):
            for engine in engines:
                count = min(queries, slow_queries) if engine == "rank-bm25" else queries
                measured, tops = measure(engine, passages, count, seed)
                if engine == "ours" and reference is None:
                    reference = tops
                elif engine != "ours" and reference is not None and not rounds[engine]:
                    pairs = list(zip(tops, reference, strict=False))
                    same = sum(_same_top(a, b) for a, b in pairs) / max(len(pairs), 1)
                    measured = dataclasses.replace(measured, same_top10=same)
                rounds[engine].append(measured)
                progress(format_row(measured))
        results.extend(_median(rounds[engine]) for engine in engines)
    return results


def _median(rounds: list[Measurement]) -> Measurement:
    """Each figure's median over the rounds (the first round's agreement with ours)."""

    def middle(figure: Callable[[Measurement], float]) -> float:
        return float(np.median([figure(m) for m in rounds]))

    return dataclasses.replace(
        rounds[0],
        build_s=middle(lambda m: m.build_s),
        p50_ms=middle(lambda m: m.p50_ms),
        p99_ms=middle(lambda m: m.p99_ms),
        peak_mb=middle(lambda m: m.peak_mb),
        corpus_mb=middle(lambda m: m.corpus_mb),
    )


def _same_top(found: Top, ours: Top) -> bool:
    """The same passages, or the same scores (to float32's precision): only ties told apart."""
    if set(found[0]) == set(ours[0]):
        return True
    return (
        bool(np.allclose(found[1], ours[1], rtol=1e-5)) if len(found[1]) == len(ours[1]) else False
    )


def machine() -> str:
    """Cores, memory and CPU model of this machine, in one line."""
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores, {memory:.1f} GiB RAM, {model}, Python {platform.python_version()}"
    )


HEADER = (
    "| passages | engine | queries | build s | p50 ms | p99 ms | peak MB | peak - corpus MB"
    " | same top 10 as ours |\n| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
)


def format_row(m: Measurement) -> str:
    same = "—" if m.same_top10 is None else f"{m.same_top10:.2f}"
    return (
        f"| {m.passages:,} | {m.engine} | {m.queries} | {m.build_s:.2f} | {m.p50_ms:.2f}"
        f" | {m.p99_ms:.2f} | {m.peak_mb:,.0f} | {m.peak_mb - m.corpus_mb:,.0f} | {same} |"
    )


def format_table(results: Sequence[Measurement]) -> str:
    return "\n".join([HEADER, *(format_row(m) for m in results)])


def format_ratios(results: Sequence[Measurement]) -> str:
    """Ours against each peer at each size: the peer's figure divided by ours (> 1: ours wins)."""
    lines = [
        "| passages | peer | build | p50 | p99 | peak memory |",
        "| ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    ours = {m.passages: m for m in results if m.engine == "ours"}
    for m in results:
        mine = ours.get(m.passages)
        if m.engine == "ours" or mine is None:
            continue
        lines.append(
            f"| {m.passages:,} | {m.engine} | {m.build_s / mine.build_s:.2f}"
            f" | {m.p50_ms / mine.p50_ms:.2f} | {m.p99_ms / mine.p99_ms:.2f}"
            f" | {m.peak_mb / mine.peak_mb:.2f} |"
        )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``bench`` command's options (shared by ``announcements-bot bench`` and benchmarks/)."""
    parser.add_argument(
        "--passages",
        default="10000,100000,1000000",
        help="corpus sizes, comma separated (default 10000,100000,1000000)",
    )
    parser.add_argument("--engines", default=",".join(ENGINES), help=f"default {','.join(ENGINES)}")
    parser.add_argument("--queries", type=int, default=1000, help="timed queries (default 1000)")
    parser.add_argument(
        "--slow-queries", type=int, default=20, help="rank-bm25's timed queries (default 20)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds; each figure is the median (default 1)"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here")


def parse_sizes(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def main(args: argparse.Namespace) -> int:
    """Run the benchmark described by ``args`` and print the tables (Markdown)."""
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = sorted(set(engines) - set(ENGINES))
    if unknown:
        print(f"error: unknown engines {unknown}; known: {', '.join(ENGINES)}", file=sys.stderr)
        return 2
    print(f"machine: {machine()}\n", flush=True)
    print(HEADER, flush=True)
    try:
        results = run(
            parse_sizes(args.passages),
            engines,
            args.queries,
            args.slow_queries,
            args.seed,
            args.repeat,
            progress=lambda row: print(row, flush=True),
        )
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.repeat > 1:
        print(f"\nMedians of {args.repeat} rounds:\n\n{format_table(results)}")
    print("\nPeer's figure / ours (above 1: ours is faster or smaller):\n")
    print(format_ratios(results))
    if args.json:
        figures = {"machine": machine(), "results": [asdict(m) for m in results]}
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


def _worker_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.bench worker")
    parser.add_argument("engine", choices=ENGINES)
    parser.add_argument("passages", type=int)
    parser.add_argument("queries", type=int)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(json.dumps(run_worker(args.engine, args.passages, args.queries, args.seed)))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] != ["worker"]:
        sys.exit("usage: python -m bot.bench worker ENGINE PASSAGES QUERIES [--seed N]")
    sys.exit(_worker_main(sys.argv[2:]))
