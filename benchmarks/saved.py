"""Saving and loading a BM25Index: how long, how big, and how fast the loaded index answers.

Builds an index of ``--passages`` synthetic Zipf passages (:func:`bot.bench.synthetic`), saves it
in a temporary directory, then loads it back three ways: memory-mapped without hashing (what a
start-up that trusts its own files would do), memory-mapped with every SHA-256 checked, and read
into memory. Prints each time, the size on disk, and the query p50 of the loaded (mapped) index
beside the built one's, on the same queries; and how long ``replace`` takes to swap one passage
for another (exact, so every weight is computed again).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bot import bench
from bot.core.index import BM25Index


def p50_ms(index: BM25Index, queries: list[list[str]]) -> float:
    spent = []
    for query in queries:
        started = time.perf_counter()
        index.top_k(query, bench.TOP_K)
        spent.append(time.perf_counter() - started)
    return float(np.median(spent) * 1e3)


def main() -> int:
    passages, index, queries = bench.synthetic_index(__doc__)
    print(f"{passages:,} passages, {len(queries)} queries")
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "bm25"
        started = time.perf_counter()
        index.save(target)
        print(f"save: {time.perf_counter() - started:.2f} s", end="")
        size = sum(path.stat().st_size for path in target.iterdir())
        print(f", {size / 1e6:,.0f} MB on disk")
        for label, mmap, verify in (
            ("load, mapped, not hashed", True, False),
            ("load, mapped, hashed", True, True),
            ("load, read, hashed", False, True),
        ):
            started = time.perf_counter()
            loaded = BM25Index.load(target, mmap=mmap, verify=verify)
            print(f"{label}: {time.perf_counter() - started:.2f} s")
        loaded = BM25Index.load(target, verify=False)
        started = time.perf_counter()
        loaded.top_k(queries[0], bench.TOP_K)
        print(f"first query after a mapped load: {(time.perf_counter() - started) * 1e3:.1f} ms")
        built, mapped = p50_ms(index, queries), p50_ms(loaded, queries)
        print(f"query p50: built {built:.2f} ms, loaded {mapped:.2f} ms")
    started = time.perf_counter()
    index.replace([0], [queries[0] * 12])
    print(f"replace one passage: {time.perf_counter() - started:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
