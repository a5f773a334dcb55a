"""The passages worth scoring for a question: the best by the article and sentence indexes.

A passage's lexical score (:mod:`bot.core.library`) adds its own BM25, its article's, its term
pairs' and its best sentence's, scales the sum by its best sentence's share of the question, and
adds the terms feedback lends. Computed for every passage, each piece is a pass over arrays of the
corpus's size: at 959k passages (2.6M sentences) a question took p50 70 ms. Yet few passages can
be among the best, so the library scores only the :func:`candidates`, each read from the
indexes at its row, bit for bit the score that scoring every passage gives it:

- the passages of the ``ARTICLE_DEPTH`` best articles by the article index: its score weighs
  ``article_weight`` (0.9) of a passage's sum;
- the passages of the ``SENTENCE_DEPTH`` best sentences by the sentence index: a passage whose
  one sentence has most of the question gains most from its best sentence, whatever its article.

Both are found by the indexes' MaxScore top k (:meth:`~bot.core.index.BM25Index.best`), which reads
only the rarer terms' postings, never an array of the corpus's size. Of articles (sentences) whose
scores tie, only the first ``depth`` count (``depth`` the number of best articles and passages
asked for): copies of one text tie in every index and so in the final score, where only the
first ``depth`` of them can be among the ``depth`` best. The 959k benchmark holds 250 copies of
each SQuAD paragraph: the 2,000 best articles are some eight paragraphs' copies, and scoring all
their 3,700 passages took longer than the rest of the question.

Feedback's lent terms (a question of nine terms or more) reorder the same candidates: an article
that has only words lent, none of the question's, is not scored. Finding those would take
another top-k search of some thirty terms, which doubled such a question's time at 959k passages.

This is not exact: a passage that neither index puts near the top may score well by the sum of
its evidence. Measured against scoring every passage (docs/benchmarks.md), the answers and the
ten best articles with their scores were the same for every SQuAD question asked of its corpus
at 192k and 959k passages, and the evaluation sets' figures with pruning forced on their small
corpora. Below ``PRUNE_FROM`` passages, the size of any deployment so far, every passage is
scored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from bot.core.index import FloatArray, run_starts, sorted_unique

if TYPE_CHECKING:
    from bot.core.library import Library

Rows = npt.NDArray[np.int64]

# Below this many passages every passage is scored: that takes a few milliseconds (p50 4.4 ms a
# question at 19k passages), and the engine's top k scores every passage there too.
PRUNE_FROM = 50_000
# How many best articles and best sentences are read. SQuAD at 959k passages (250 copies of each
# paragraph, so that each depth holds a two-hundred-and-fiftieth as many texts), 200 questions:
# these gave every question the ten best articles of scoring every passage; 500 and 500 gave 199,
# 2,000 articles alone 199 (a vague question whose best sentence's article ranked 3,000th),
# 250 and 250 gave 181.
ARTICLE_DEPTH = 2000
SENTENCE_DEPTH = 100


def ranges(first: Rows, end: Rows) -> Rows:
    """The rows from ``first[i]`` up to ``end[i]``, for each ``i`` in order, as one array."""
    counts = end - first
    starts = np.cumsum(counts) - counts
    rows: Rows = np.repeat(first - starts, counts) + np.arange(int(counts.sum()), dtype=np.int64)
    return rows


def candidates(
    library: Library, terms: Mapping[str, float], *, sentences: bool, depth: int
) -> Rows | None:
    """The passages worth scoring for query ``terms`` (ascending rows), when the ``depth`` best
    articles and passages are read and, with ``sentences``, the question gets the evidence of its
    best sentence (see the module's docstring); None: score every passage."""
    if len(library.passages) < PRUNE_FROM or library.variant != "lucene":
        return None
    owners, scores = library.article_index.best(terms, ARTICLE_DEPTH)
    owners = owners[_first_of_ties(scores, depth)]
    found = [ranges(library.article_first[owners], library.article_first[owners + 1])]
    if sentences:
        best, scores = library.sentence_index.best(terms, SENTENCE_DEPTH)
        found.append(library.sentence_passage[best[_first_of_ties(scores, depth)]])
    rows: Rows = sorted_unique(np.concatenate(found))
    if library.removed_rows is not None:
        rows = rows[~library.removed_rows[rows]]
    return rows


def _first_of_ties(scores: FloatArray, count: int) -> npt.NDArray[np.bool_]:
    """Which of ``scores`` (best first) are among the first ``count`` of their equals."""
    first = run_starts(scores)
    starts = np.flatnonzero(first)
    place = np.arange(scores.size) - starts[np.cumsum(first) - 1]  # place among its equals
    kept: npt.NDArray[np.bool_] = place < count
    return kept
