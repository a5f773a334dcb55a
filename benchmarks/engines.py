"""Engines at 10k, 100k and 1M passages: the figures and plot of docs/benchmarks.md.

Runs ``announcements-bot bench`` (see :mod:`bot.bench`) with the options given, writes the
figures to ``docs/benchmarks.json`` and draws ``docs/benchmarks.png`` (matplotlib, the
``quality`` extra): query p50, build time and peak memory against corpus size, one line per engine.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bot import bench

DOCS = Path(__file__).resolve().parent.parent / "docs"
# What each panel shows: a field of bot.bench.Measurement and its axis label.
PANELS = (("p50_ms", "query p50 (ms)"), ("build_s", "build (s)"), ("peak_mb", "peak memory (MB)"))


def plot(figures: dict[str, list[dict[str, float | str]]], path: Path) -> None:
    """Three log-log panels, one line per engine."""
    results = figures["results"]
    fig, axes = plt.subplots(1, len(PANELS), figsize=(13, 4))
    for ax, (field, label) in zip(axes, PANELS, strict=True):
        for engine in bench.ENGINES:
            points = [r for r in results if r["engine"] == engine]
            if points:
                sizes = [float(r["passages"]) for r in points]
                ax.plot(sizes, [float(r[field]) for r in points], marker="o", label=engine)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("passages")
        ax.set_title(label)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend()
    fig.suptitle("BM25 engines on the same Zipf tokens (60-word passages, 5-word queries, top 10)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    bench.add_arguments(parser)
    args = parser.parse_args()
    if args.json is None:
        args.json = DOCS / "benchmarks.json"
    code = bench.main(args)
    if code == 0:
        plot(json.loads(args.json.read_text(encoding="utf-8")), DOCS / "benchmarks.png")
    return code


if __name__ == "__main__":
    sys.exit(main())
