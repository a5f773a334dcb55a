"""How soon a channel post is searchable, and what changes and merges cost questions, at scale.

    .venv/bin/python -m benchmarks.live [--data ../shared/eval/squad] [--copies 50] [--posts 7]
        [-n 200] [--merges 5] [--semantic] [--rebuild]

SQuAD's corpus is replicated ``--copies`` times with distinct ids (x50: 192k passages) and built
into a lexical library (SEMANTIC off: the engine's figure). Then, in one process:

- *question before*: :func:`bot.core.answer.answer` on the corpus's first ``-n`` questions, p50
  and p99 in milliseconds, on the plain library;
- *post visible*: ``--posts`` posts (new ids, the text of the corpus's first articles) are put in
  one after the other with :func:`bot.core.live.changed`, each timed until the library that
  answers questions with it is returned (what the bot swaps in); then one edit of a post and one
  removal of a base article. Median and each time, in milliseconds; then the same posts through
  :func:`bot.tg.changes.change_library`, the bot's path (thread hops, the lock, the swap);
- *question after*: the same questions on the view those changes made (the base scored under the
  new statistics, see :mod:`bot.core.live`);
- *merge*: the view merged into one library (:func:`bot.core.live.merge`) ``--merges`` times
  with no question asked, each one's time; then in a thread while the main thread answers the
  questions again and again until it ends, the questions' p50/p99 meanwhile (both threads share
  the GIL and two cores): once as the bot runs it (:func:`bot.tg.changes.background_merge`, at
  the lowest CPU priority: questions asked back to back leave it little), then ``--merges`` times
  one after the other at the usual priority (one gives too few questions for a p99); then the
  questions with no merge again, the noise of the machine's load;
- with ``--rebuild``, the same while the view is built again from its articles
  (``Library.replace``), which is how a merge was made before: minutes at 192k passages;
- peak memory (``ru_maxrss``) after the base is built, after the merges (each holds the base
  and the merged library at once), and after the rebuild;
- with ``--semantic``, the real model's cost of embedding one post (its passages and sentences,
  with an empty cache), which a semantic bot adds to the post's time to visibility.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from bot.core.answer import answer
from bot.core.corpus import Article, load_corpus
from bot.core.library import Library
from bot.core.live import LiveLibrary, changed, merge, prepared
from bot.core.semantic import E5Embedder
from bot.evaluate import load_eval_set
from bot.tg.changes import background_merge, change_library, stop_merging
from bot.tg.keys import LIBRARY


def rss_mb() -> float:
    """Peak resident memory so far, in MB (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def ms(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return (time.perf_counter() - started) * 1000


def answer_ms(library: Library, question: str) -> float:
    return ms(lambda: answer(library, question))


def percentiles(times: Sequence[float]) -> str:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered):.1f} ms, p99 {p99:.1f} ms ({len(ordered)} questions)"


async def through_the_edge(library: Library, posts: Sequence[Article]) -> list[float]:
    """Each post's time through the bot's own path: its thread hops, the lock, the swap."""
    bot_data: dict[str, object] = {LIBRARY: library}
    times = []
    for post in posts:
        started = time.perf_counter()
        await change_library(bot_data, [Article(f"edge-{post.id}", post.title, post.text)])
        times.append((time.perf_counter() - started) * 1000)
    await stop_merging(bot_data)  # the merge is timed below, on its own
    return times


def while_asking(
    work: Callable[[], object], library: Library, questions: Sequence[str], times: int = 1
) -> tuple[list[float], list[float]]:
    """``work`` run ``times`` times in a thread, as the bot merges, while this one answers
    ``questions`` on ``library`` again and again until it ends: each run's seconds, and the
    questions' milliseconds."""
    spent: list[float] = []
    worker = threading.Thread(target=lambda: spent.extend(ms(work) / 1000 for _ in range(times)))
    worker.start()
    asked = []
    while worker.is_alive():
        for question in questions:
            asked.append(answer_ms(library, question))
            if not worker.is_alive():
                break
    worker.join()
    return spent, asked


def seconds(times: Sequence[float]) -> str:
    return f"({', '.join(f'{t:.1f}' for t in times)})"


def rebuilt(library: Library) -> Library:
    """The view's library built again from its articles: what a merge did before issue10-merge."""
    return prepared(library.replace())


def replicated(articles: Sequence[Article], copies: int) -> list[Article]:
    return [
        Article(f"{copy}-{a.id}", a.title, a.text, a.date, a.url)
        for copy in range(copies)
        for a in articles
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("--data", type=Path, default=root.parent / "shared" / "eval" / "squad")
    parser.add_argument("--copies", type=int, default=50)
    parser.add_argument("--posts", type=int, default=7)
    parser.add_argument("-n", type=int, default=200, help="questions to time")
    parser.add_argument("--semantic", action="store_true", help="time embedding one post too")
    parser.add_argument("--merges", type=int, default=5, help="merges to time, one by one")
    parser.add_argument(
        "--rebuild", action="store_true", help="time building the view again too (minutes)"
    )
    args = parser.parse_args()
    eval_set = load_eval_set(args.data)
    corpus = load_corpus(eval_set.corpus_path).articles
    questions = [q.text for q in eval_set.queries[: args.n]]

    started = time.perf_counter()
    base = prepared(Library(replicated(corpus, args.copies)))  # as the bot serves it
    print(
        f"base: {len(base.passages)} passages, {len(base)} articles, built in"
        f" {time.perf_counter() - started:.0f} s; peak RSS {rss_mb():.0f} MB"
    )
    for question in questions[:2]:  # warm-up
        answer(base, question)
    print("question before:", percentiles([answer_ms(base, q) for q in questions]))

    posts = [
        Article(f"post-{i}", f"Post {i}: {a.title}", a.text)
        for i, a in enumerate(corpus[: args.posts])
    ]
    library = base
    visible = []
    for post in posts:
        started = time.perf_counter()
        library = changed(library, [post])
        visible.append((time.perf_counter() - started) * 1000)
    print(
        f"post visible: median {statistics.median(visible):.1f} ms"
        f" ({', '.join(f'{t:.1f}' for t in visible)})"
    )
    edit = Article(posts[0].id, posts[0].title, posts[0].text + " Edited.")
    edited = ms(lambda: changed(library, [edit]))
    removed = ms(lambda: changed(library, removed=[base.articles[0].id]))
    print(f"edit of a post: {edited:.1f} ms; removal of a base article: {removed:.1f} ms")
    print("question after:", percentiles([answer_ms(library, q) for q in questions]))
    through = asyncio.run(through_the_edge(library, posts))
    print(
        f"post visible through change_library: median {statistics.median(through):.1f} ms"
        f" ({', '.join(f'{t:.1f}' for t in through)})"
    )

    assert isinstance(library, LiveLibrary)
    alone = [ms(partial(merge, library)) / 1000 for _ in range(args.merges)]
    median = statistics.median(alone)
    print(f"merge alone, no question asked: median {median:.1f} s {seconds(alone)}")
    spent, during = while_asking(partial(background_merge, library), library, questions)
    print(
        f"merge as the bot runs it (lowest CPU priority): {spent[0]:.1f} s; question during it:",
        percentiles(during),
    )
    spent, during = while_asking(partial(merge, library), library, questions, args.merges)
    print(
        f"merge at the usual priority, {args.merges} times: median"
        f" {statistics.median(spent):.1f} s {seconds(spent)}; question during them:",
        percentiles(during),
    )
    print("question with no merge, again:", percentiles([answer_ms(library, q) for q in questions]))
    print(f"peak RSS after the merges: {rss_mb():.0f} MB")
    if args.rebuild:
        spent, during = while_asking(partial(rebuilt, library), library, questions)
        print(f"rebuild: {spent[0]:.0f} s; question during rebuild:", percentiles(during))
        print(f"peak RSS at the end: {rss_mb():.0f} MB")

    if args.semantic:
        model = E5Embedder()
        model.queries(["warm up"])
        embedded = [ms(partial(Library, [post], embedder=model)) for post in posts]
        print(
            f"semantic: embedding one post (cold cache) median {statistics.median(embedded):.0f}"
            f" ms ({', '.join(f'{t:.0f}' for t in embedded)})"
        )


if __name__ == "__main__":
    main()
