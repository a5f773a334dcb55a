"""What each part of the engine's query path is worth: dense rows and MaxScore pruning, on and off.

One index of ``--passages`` synthetic Zipf passages (:func:`bot.bench.synthetic`), the same
queries through four query paths, taken in turn query by query so that the load of a shared
machine falls on all four alike:

- *pruned + dense*: ``BM25Index.top_k`` as shipped, pruning at every size;
- *pruned, no dense rows*: the same with no term kept as a dense row;
- *score all + dense*: every posting added, then the module-level ``top_k`` (floor from a sample);
- *score all, full sort*: every posting added, every match sorted (the engine before issue 10).

Prints each path's query p50, p90 and p99 in milliseconds. Every path returns the same top 10
(checked).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections import Counter
from collections.abc import Callable

import numpy as np

from bot import bench
from bot.core import index as engine

Path = Callable[[list[str]], list[tuple[int, float]]]


def full_sort(scores: engine.FloatArray, k: int) -> list[tuple[int, float]]:
    """Every match sorted: score descending, position ascending."""
    matched = np.flatnonzero(scores > 0)
    order = np.lexsort((matched, -scores[matched]))[:k]
    return [(int(matched[i]), float(scores[matched[i]])) for i in order]


def main() -> int:
    passages, index, queries = bench.synthetic_index(__doc__)
    engine.PRUNE_MIN_PASSAGES = 0  # the pruned paths prune at every size
    empty = np.zeros((0, len(index)))
    sparse = dataclasses.replace(index, dense_slot=np.full_like(index.dense_slot, -1), dense=empty)
    k = bench.TOP_K
    paths: dict[str, Path] = {
        "pruned + dense": lambda q: index.top_k(q, k),
        "pruned, no dense rows": lambda q: sparse.top_k(q, k),
        "score all + dense": lambda q: engine.top_k(index.scores(q), k),
        "score all, full sort": lambda q: full_sort(sparse.weighted_scores(Counter(q)), k),
    }
    times: dict[str, list[float]] = {name: [] for name in paths}
    for query in queries:
        found = []
        for name, path in paths.items():
            started = time.perf_counter()
            found.append([position for position, _ in path(query)])
            times[name].append(time.perf_counter() - started)
        if any(f != found[0] for f in found):
            print(f"error: the paths disagree on {query}", file=sys.stderr)
            return 1
    print(f"{passages:,} passages, {len(queries)} queries, {index.dense.shape[0]} dense rows")
    print("| query path | p50 ms | p90 ms | p99 ms |\n| --- | ---: | ---: | ---: |")
    for name, spent in times.items():
        ms = np.array(spent) * 1e3
        p50, p90, p99 = (float(np.percentile(ms, p)) for p in (50, 90, 99))
        print(f"| {name} | {p50:.2f} | {p90:.2f} | {p99:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
