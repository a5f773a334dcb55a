"""The whole pipeline at scale: SQuAD's corpus replicated, built, saved, loaded, started, asked.

    .venv/bin/python -m benchmarks.pipeline [--scales 1,5,50] [--questions 300] [--repeat 3]

SQuAD v1.1 dev's corpus (``--data``, 2,067 paragraphs, 3,835 passages at ``PASSAGE_CHARS`` 600) is
written ``scale`` times as one JSONL file, each copy's ids made distinct (``r<copy>-<id>``), so
x50 holds 192k passages. Everything runs lexical (``SEMANTIC=off``), as the bot does the same
work with or without the model but for embedding. For each scale, each stage runs in a process of
its own, so its peak memory (``ru_maxrss``) is its own:

- ``build``: read the corpus, derive the library (:meth:`LibraryParts.derive`: splitting,
  tokenizing, the four indexes), save it (:func:`bot.core.saved.save_library`): each one's time,
  the size on disk, the peak memory;
- ``load``: :func:`bot.loading.load_library` finding the saved library current (hashing the
  corpus file, memory-mapping every saved file and checking its CRC-32), then ``--questions`` of the
  set's questions through :func:`bot.core.answer.answer` one at a time after ``WARMUP``: p50 and
  p99 ms, the resident memory after loading and after the questions (file pages of the mapped
  arrays that questions touched count), the peak;
- ``serve``: a process that does what ``serve`` does before it connects: its imports
  (``import_s``), then opening the store, loading the library and ``build_application``
  (``library_s``), both from the worker's start (``ready_s``), the process's wall time with the
  interpreter's start (``wall_s``), and its peak memory;
- ``ask``: the wall time of ``announcements-bot ask`` (process start to the reply printed);
- ``post``: one post's time to visibility (:func:`time_to_visibility`): from a library loaded as
  ``serve`` has it to a library that answers a question with the post, made as the bot makes it
  (:func:`bot.core.live.changed`: the post's own segment, and a view of the two), after what
  the bot does in the background once started (:func:`bot.core.live.prepared`, timed apart as
  ``prepare_s``). The function
  takes the change as a parameter (``Library.replace``, which builds everything again, was timed
  the same way before).

Start-up stages repeat ``--repeat`` times (the medians are reported: the machine is shared);
building, which takes minutes at x50, runs once. The scratch directory keeps the corpora and the
data directories between runs (``--scratch``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import Settings
from bot.core.corpus import Article

if TYPE_CHECKING:  # the serve stage times its own imports: none of the core's before it
    from bot.core.library import Library

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
WARMUP = 10  # questions answered before timing: the first touch the mapped pages
# The post whose visibility is timed, and a question only it answers.
POST = Article(
    "channel:benchmark",
    "Northwind Quokka drone ships in June",
    "The Northwind Quokka delivery drone ships on 3 June 2026 for 189 euros.",
)
POST_QUESTION = "When does the Northwind Quokka drone ship?"
STAGES = ("build", "load", "serve", "ask", "post")


def time_to_visibility(
    library: Library,
    change: Callable[[Library, Article], Library],
    post: Article = POST,
    question: str = POST_QUESTION,
) -> tuple[float, Library]:
    """Seconds from ``library`` to a library made by ``change`` that answers ``question`` with
    ``post`` first; and that library. Raises AssertionError if it does not find the post."""
    started = time.perf_counter()
    changed = change(library, post)
    hits = changed.search(question, k=1)
    elapsed = time.perf_counter() - started
    assert hits, "the post is not found"
    assert hits[0].article.id == post.id, "the post is not found first"
    return elapsed, changed


def live_change(library: Library, post: Article) -> Library:
    """The bot's way a channel post joins the library (:func:`bot.core.live.changed`)."""
    from bot.core.live import changed  # imported here: the serve stage times its own imports

    return changed(library, [post])


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # KiB on Linux


def rss_mb() -> float:
    """The resident memory now (anonymous and mapped file pages), from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / 1e6
    return float("nan")


def write_corpus(source: Path, scale: int, target: Path) -> None:
    """``source``'s records ``scale`` times, ids made distinct; kept if written already."""
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    records = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()]
    partial = target.with_suffix(".tmp")
    with partial.open("w", encoding="utf-8") as out:
        for copy in range(scale):
            for record in records:
                out.write(json.dumps({**record, "id": f"r{copy}-{record['id']}"}) + "\n")
    partial.replace(target)


def _settings(corpus: Path, data: Path) -> Settings:
    return Settings(corpus=corpus, data_dir=data, semantic=False)


def _environment(corpus: Path, data: Path) -> dict[str, str]:
    return {**os.environ, "CORPUS": str(corpus), "DATA_DIR": str(data), "SEMANTIC": "off"}


def worker(stage: str, corpus: Path, data: Path, questions: list[str]) -> dict[str, Any]:
    """One stage, in this process (see the module's docstring); its figures."""
    started = time.perf_counter()
    if stage == "serve":
        from bot.loading import load_library
        from bot.store import Store
        from bot.tg.app import build_application

        imported = time.perf_counter()
        settings = dataclasses.replace(_settings(corpus, data), token="1:benchmark")
        store = Store.open(data)
        library = load_library(None, settings, stored=store.articles())
        build_application(settings, library, store=store)
        ready = time.perf_counter()
        return {
            "import_s": imported - started,
            "library_s": ready - imported,
            "ready_s": ready - started,
            "peak_mb": peak_mb(),
        }
    from bot.core.answer import answer
    from bot.core.corpus import load_corpus
    from bot.core.library import LibraryConfig, LibraryParts
    from bot.core.saved import SavedKey, articles_digest, save_library
    from bot.loading import LIBRARY_DIR, corpus_sources, load_library

    settings = _settings(corpus, data)
    if stage == "build":
        loaded = load_corpus(corpus)
        read_s = time.perf_counter() - started
        config = LibraryConfig(passage_chars=settings.passage_chars)
        started = time.perf_counter()
        parts = LibraryParts.derive(loaded.articles, config)
        derive_s = time.perf_counter() - started
        key = SavedKey(config, None, {**corpus_sources(corpus), "stored": articles_digest([])})
        started = time.perf_counter()
        save_library(parts, data / LIBRARY_DIR, key)
        save_s = time.perf_counter() - started
        size = sum(f.stat().st_size for f in (data / LIBRARY_DIR).rglob("*") if f.is_file())
        return {
            "articles": len(parts.articles),
            "passages": len(parts.passages),
            "sentences": len(parts.sentence_passage),
            "read_s": read_s,
            "derive_s": derive_s,
            "save_s": save_s,
            "disk_mb": size / 1e6,
            "peak_mb": peak_mb(),
        }
    library = load_library(None, settings)
    load_s = time.perf_counter() - started
    if stage == "post":
        from bot.core.live import prepared

        # What the bot does in the background once it has started (bot.tg.app), before a post.
        started = time.perf_counter()
        library = prepared(library)
        prepare_s = time.perf_counter() - started
        rss = rss_mb()
        visible_s, _ = time_to_visibility(library, live_change)
        return {
            "prepare_s": prepare_s,
            "visible_s": visible_s,
            "rss_before_mb": rss,
            "peak_mb": peak_mb(),
        }
    loaded_rss = rss_mb()
    for question in questions[:WARMUP]:
        answer(library, question)
    spent = []
    for question in questions[WARMUP:]:
        asked = time.perf_counter()
        answer(library, question)
        spent.append(time.perf_counter() - asked)
    spent.sort()
    return {
        "load_s": load_s,
        "questions": len(spent),
        "p50_ms": statistics.median(spent) * 1e3,
        "p99_ms": spent[min(len(spent) - 1, round(0.99 * (len(spent) - 1)))] * 1e3,
        "rss_loaded_mb": loaded_rss,
        "rss_steady_mb": rss_mb(),
        "peak_mb": peak_mb(),
    }


def run_stage(stage: str, corpus: Path, data: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Run ``stage`` in a process of its own; its figures and its wall time."""
    if stage == "ask":
        command = [sys.executable, "-m", "bot", "ask", POST_QUESTION]
    else:
        command = [
            sys.executable,
            "-m",
            "benchmarks.pipeline",
            "--data",
            str(args.data),
            "--questions",
            str(args.questions),
            "worker",
            stage,
            str(corpus),
            str(data),
        ]
    started = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=REPO,
        env=_environment(corpus, data),
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{stage} failed:\n{done.stderr}")
    figures: dict[str, Any] = {} if stage == "ask" else json.loads(done.stdout.splitlines()[-1])
    return {**figures, "wall_s": wall}


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over the runs."""
    return {name: statistics.median(run[name] for run in runs) for name in runs[0]}


# The plot's panels: (stage, figure, label) lines, and each panel's axis label.
PANELS = (
    (
        "seconds",
        (
            ("build", "derive_s", "build (derive)"),
            ("build", "save_s", "save"),
            ("load", "load_s", "load (mapped, checked)"),
            ("serve", "ready_s", "serve: start to ready"),
            ("ask", "wall_s", "ask: process wall"),
            ("post", "visible_s", "one post visible (live.changed)"),
        ),
    ),
    (
        "question ms (lexical)",
        (("load", "p50_ms", "p50"), ("load", "p99_ms", "p99")),
    ),
    (
        "memory MB",
        (
            ("build", "peak_mb", "build peak"),
            ("load", "rss_steady_mb", "loaded, after the questions (RSS)"),
            ("serve", "peak_mb", "serve start peak"),
            ("post", "peak_mb", "post peak"),
        ),
    ),
)


def plot(results: dict[str, Any], path: Path) -> None:
    """Log-log panels of the figures against the passages, one line per figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scales = sorted(results["results"].items(), key=lambda item: int(item[0]))
    fig, axes = plt.subplots(1, len(PANELS), figsize=(15, 4.5))
    for axis, (label, lines) in zip(axes, PANELS, strict=True):
        for stage, figure, name in lines:
            points = [
                (run["build"]["passages"], run[stage][figure])
                for _, run in scales
                if stage in run and figure in run[stage] and "build" in run
            ]
            if points:
                axis.plot(*zip(*points, strict=True), marker="o", label=name)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("passages")
        axis.set_ylabel(label)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=7)
    fig.suptitle("SQuAD's corpus replicated, lexical: build, load, start, questions, memory")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,5,50", help="copies of the corpus (default 1,5,50)")
    parser.add_argument("--questions", type=int, default=300, help="questions timed, + warm-up")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each start-up stage")
    parser.add_argument("--stages", default=",".join(STAGES), help="which stages")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "eval" / "squad")
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/announcements-bot-pipeline"))
    parser.add_argument("--json", type=Path, default=DOCS / "pipeline.json")
    parser.add_argument("--plot", type=Path, help="draw the JSON's figures here (matplotlib)")
    sub = parser.add_subparsers(dest="command")
    work = sub.add_parser("worker")
    work.add_argument("stage", choices=STAGES)
    work.add_argument("corpus", type=Path)
    work.add_argument("dir", type=Path)
    args = parser.parse_args()
    questions = [
        json.loads(line)["text"]
        for line in (args.data / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    ][: WARMUP + args.questions]
    if args.command == "worker":
        print(json.dumps(worker(args.stage, args.corpus, args.dir, questions)))
        return 0
    stages = [stage for stage in args.stages.split(",") if stage]
    results = json.loads(args.json.read_text()) if args.json.exists() else {"results": {}}
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
    }
    for scale in (int(s) for s in args.scales.split(",")):
        corpus = args.scratch / f"x{scale}" / "corpus.jsonl"
        data = args.scratch / f"x{scale}" / "data"
        write_corpus(args.data / "corpus.jsonl", scale, corpus)
        figures: dict[str, Any] = results["results"].setdefault(str(scale), {})
        for stage in stages:
            repeat = 1 if stage in ("build", "post") else args.repeat
            runs = [run_stage(stage, corpus, data, args) for _ in range(repeat)]
            figures[stage] = median_of(runs)
            print(f"x{scale} {stage}: {json.dumps(figures[stage])}", flush=True)
            args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.plot:
        plot(results, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
