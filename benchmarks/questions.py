"""Question time at scale: the passages worth scoring (bot.core.pruning) against every passage.

    .venv/bin/python -m benchmarks.questions [--scales 50,250] [--questions 200] [--rounds 3]

Reads the libraries that :mod:`benchmarks.pipeline` saved in its scratch directory
(``<scratch>/x<scale>/data/library``: SQuAD's corpus ``scale`` times, x250 is 959k passages) as
they are, whatever code saved them (their key is not checked, so a change to the code does not
call for a 20-minute build). Each round puts the first ``--questions`` of SQuAD's questions, after
``WARMUP`` others, through :func:`bot.core.answer.answer` one at a time, lexical, in a process of
its own: once with pruning as the bot runs it, once scoring every passage (``PRUNE_FROM`` past the
library's size), one after the other, so that both meet the same load of a shared machine.

It prints, for each scale and way, the medians over the rounds of p50, p90 and p99 ms, and whether
both ways gave every question the same answer: its status, the text shown, the matches with their
scores, and the ten best articles of :meth:`Library.search` with theirs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
WARMUP = 10  # questions answered before timing: the first touch the mapped pages
WAYS = ("pruned", "every")


def worker(way: str, library_dir: Path, questions: list[str]) -> dict[str, Any]:
    """Time ``questions`` (after the warm-up) one way; the times and a digest of the answers."""
    from bot.core import pruning
    from bot.core.answer import answer, render_plain
    from bot.core.library import Library, LibraryConfig
    from bot.core.saved import load_library_parts

    parts, _ = load_library_parts(library_dir)
    library = Library.from_parts(parts, LibraryConfig())
    if way == "every":
        pruning.PRUNE_FROM = len(library.passages) + 1
    for question in questions[:WARMUP]:
        answer(library, question)
    spent, said = [], []
    for question in questions[WARMUP:]:
        asked = time.perf_counter()
        reply = answer(library, question)
        spent.append(time.perf_counter() - asked)
        said.append(
            [
                reply.status.value,
                render_plain(reply) if reply.answered else "",
                [(h.row, h.score) for h in reply.matches],
                [(h.row, h.score) for h in library.search(question, 10)],
            ]
        )
    spent.sort()

    def at(share: float) -> float:
        return spent[min(len(spent) - 1, round(share * (len(spent) - 1)))] * 1e3

    return {
        "p50_ms": statistics.median(spent) * 1e3,
        "p90_ms": at(0.9),
        "p99_ms": at(0.99),
        "answers": hashlib.sha256(json.dumps(said).encode()).hexdigest(),
    }


def run(way: str, library_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """One way in a process of its own."""
    command = [sys.executable, "-m", "benchmarks.questions", "--data", str(args.data)]
    command += ["--questions", str(args.questions), "worker", way, str(library_dir)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{way} failed:\n{done.stderr}")
    figures: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="50,250", help="copies of the corpus (default 50,250)")
    parser.add_argument("--questions", type=int, default=200, help="questions timed, + warm-up")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each way")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "eval" / "squad")
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/announcements-bot-pipeline"))
    commands = parser.add_subparsers(dest="command")
    work = commands.add_parser("worker")
    work.add_argument("way", choices=WAYS)
    work.add_argument("library", type=Path)
    args = parser.parse_args()
    with (args.data / "queries.jsonl").open(encoding="utf-8") as lines:
        questions = [json.loads(line)["text"] for line in lines][: WARMUP + args.questions]
    if args.command == "worker":
        print(json.dumps(worker(args.way, args.library, questions)))
        return 0
    for scale in args.scales.split(","):
        library_dir = args.scratch / f"x{scale}" / "data" / "library"
        rounds: dict[str, list[dict[str, Any]]] = {way: [] for way in WAYS}
        for _ in range(args.rounds):
            for way in WAYS:
                rounds[way].append(run(way, library_dir, args))
        same = {r["answers"] for runs in rounds.values() for r in runs}
        for way, runs in rounds.items():
            medians = {
                name: statistics.median(r[name] for r in runs)
                for name in ("p50_ms", "p90_ms", "p99_ms")
            }
            shown = ", ".join(f"{name} {value:.1f}" for name, value in medians.items())
            print(f"x{scale} {way}: {shown} (rounds: {[round(r['p50_ms'], 1) for r in runs]})")
        print(f"x{scale}: the same answers both ways: {len(same) == 1}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
