"""A library that takes changes in time proportional to the change: segments, and a merge later.

Building a :class:`~bot.core.library.Library` tokenizes every article and builds four BM25
indexes, some 100 s at 192k passages; a channel post must be searchable in milliseconds. So a
change does not rebuild: :func:`changed` returns a :class:`LiveLibrary`, a view of

- *segments*: the library it started from (the *base*), then one small library per change made of
  the articles that change put in (tokenized and embedded now, and only they);
- per segment, the ids of its articles taken out since (removed, or replaced by a later
  segment's), whose rows stay in place but score 0 and are never candidates;
- *graves*: small libraries of those taken-out articles, built again from their
  :class:`~bot.core.corpus.Article` (passages, sentences and terms are derived from the article
  alone), so that what they added to the statistics can be taken away.

**Exact.** BM25 weighs a posting by the passage count N, the mean length and the term's document
frequency df, which every change alters for every posting. A view scores each segment's postings
at query time with the statistics of the whole (:class:`SegmentedIndex`): N and the total length
are the segments' minus the graves', and a term's df the segments' df minus the graves'; the
contributions are computed from the kept term frequencies and lengths
(:meth:`~bot.core.index.BM25Index.add_scores_under`) with the formula the build uses. Everything
the library derives from the indexes (article scores, best sentences and their share of the
question, pairs, feedback terms and their idf) goes through those views, so a view scores every
live passage as :meth:`Library.replace` would after the same changes, its rows in the same
order (kept articles in order, then each change's articles), to rounding.

**Cost.** A change costs its own articles' tokenizing and embedding, a grave of what it takes out,
and stacking the segments' numeric row tables: 15 ms for a post at 192k passages on a loaded
machine (docs/benchmarks.md). Nothing is copied per article or passage in Python: the article,
passage and term lists of the segments are read through as one (:class:`Rows`, :class:`Picked`,
a bisection per access), and each segment keeps its own vectors. Until a merge, a question's
terms are scored from their postings' frequencies rather than read from stored contributions,
which costs a question little (p50 47.3 ms before the changes, 48.6 after, same run); each part
adds a pass per term and index.

**Merge.** :func:`merge` makes the plain library of a view's live articles out of its segments,
tokenizing and embedding nothing again: each index is the segments' kept postings merged
(:meth:`~bot.core.index.BM25Index.merged`: every contribution computed again under the new
statistics), the row tables, the articles' term counts (:class:`~bot.core.terms.ArticleTerms`)
and the vectors' kept rows are stacked and renumbered with numpy, and the article and passage
lists gathered (:func:`gathered`: a saved base's are read through, not made). The result is the
library a build of those articles makes, array for array (tests/test_live.py). At 192k passages
it takes seconds where building again took minutes (docs/benchmarks.md), nearly all in numpy
calls that let go of the GIL; the edge runs it in the background when enough parts have
gathered (:mod:`bot.tg.changes`).

A question scores only the passages worth scoring (:mod:`bot.core.pruning`): a view finds them
as each segment's best under its own statistics, then scores them under the whole's, at their
rows (:meth:`SegmentedIndex.weighted_scores_at`).

Only Lucene's variant is served in segments: rank-bm25's (``"okapi"``) floors negative idfs at a
share of the mean idf over the whole vocabulary, a statistic no segment holds; such a library
is rebuilt on every change.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate, chain, groupby
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from bot.core.corpus import Article
from bot.core.index import BM25Index, FloatArray, Statistics, TermIndex, lucene_idf
from bot.core.library import Library, LibraryParts
from bot.core.rows import ItemSequence
from bot.core.semantic import Vectors
from bot.core.terms import ArticleTerms, PassageTerms

Mask = npt.NDArray[np.bool_]
T = TypeVar("T")


class Rows(ItemSequence[T]):
    """Several sequences read as one, in order, without copying them."""

    def __init__(self, parts: Iterable[Sequence[T]]) -> None:
        self.parts = tuple(p for p in parts if len(p))
        self.starts = [0, *accumulate(len(p) for p in self.parts)]

    def __len__(self) -> int:
        return self.starts[-1]

    def _item(self, index: int) -> T:
        part = bisect_right(self.starts, index) - 1
        return self.parts[part][index - self.starts[part]]

    def __iter__(self) -> Iterator[T]:
        return chain.from_iterable(self.parts)


class Picked(ItemSequence[T]):
    """The items of ``items`` at ``positions``, in that order, without copying them."""

    def __init__(self, items: Sequence[T], positions: npt.NDArray[np.int64]) -> None:
        self.items, self.positions = items, positions

    def __len__(self) -> int:
        return int(self.positions.shape[0])

    def _item(self, index: int) -> T:
        return self.items[int(self.positions[index])]

    def __iter__(self) -> Iterator[T]:
        return (self.items[i] for i in self.positions.tolist())


def gathered(parts: Sequence[Sequence[T]], kept: Sequence[Mask]) -> Sequence[T]:
    """The items of ``parts`` that ``kept`` marks, in order, as one sequence: a merge's articles
    and passages.

    The items of lists and tuples are copied by reference into one new list (milliseconds at
    100k items), so that those left out are freed; any other sequence (a saved library's, whose
    items are made from a memory map when read) is read through, a :class:`Picked` of the
    parts. A part that is itself such a pick is read through to its own parts, so that merge
    after merge never stacks views: a saved base stays one sequence read through, beside one
    list of everything added since.
    """
    sources: list[tuple[Sequence[T], npt.NDArray[np.int64]]] = []  # a part and its kept items
    for part, keep in zip(parts, kept, strict=True):
        local = np.flatnonzero(keep)
        if isinstance(part, Picked) and isinstance(part.items, Rows):
            rows, at = part.items, part.positions[local]
            owner = np.searchsorted(rows.starts, at, side="right") - 1
            sources += [
                (rows.parts[n], at[owner == n] - rows.starts[n]) for n in np.unique(owner).tolist()
            ]
        elif local.size:
            sources.append((part, local))
    leaves: list[Sequence[T]] = []
    positions = []
    for copied, group in groupby(sources, key=lambda s: isinstance(s[0], list | tuple)):
        if copied:
            leaf = [item for items, at in group for item in map(items.__getitem__, at.tolist())]
            positions.append(np.arange(len(leaf), dtype=np.int64))
            leaves.append(leaf)
        else:
            for items, at in group:
                positions.append(at)
                leaves.append(items)
    if all(isinstance(leaf, list) for leaf in leaves):  # at most one: nothing is read through
        return leaves[0] if leaves else []
    starts = _starts(len(leaf) for leaf in leaves)
    return Picked(
        Rows(leaves), np.concatenate([p + s for p, s in zip(positions, starts, strict=False)])
    )


@dataclass(frozen=True, slots=True)
class Segment:
    """A plain library in a view, with its articles taken out since it was made.

    ``position`` maps an article id to its place in ``library.articles``; ``removed`` marks the
    taken-out ones, and ``live`` lists the others (``library.articles`` itself if none is out).
    ``passages_removed`` and ``sentences_removed`` mark their passage and sentence rows: made once
    per removal, not by every later change's view.
    """

    library: Library
    position: Mapping[str, int]
    removed: Mask
    live: Sequence[Article]
    passages_removed: Mask
    sentences_removed: Mask

    @classmethod
    def of(cls, library: Library) -> Segment:
        return cls(
            library,
            library.article_position,
            np.zeros(len(library.articles), dtype=bool),
            library.articles,
            np.zeros(len(library.passages), dtype=bool),
            np.zeros(len(library.sentence_passage), dtype=bool),
        )

    @property
    def has_removed(self) -> bool:
        return len(self.live) < len(self.library.articles)

    def live_ids(self, ids: Iterable[str]) -> list[str]:
        """Those of ``ids`` that are live articles of this segment."""
        return [i for i in ids if i in self.position and not self.removed[self.position[i]]]

    def without(self, ids: Sequence[str]) -> Segment:
        """This segment with the articles ``ids`` (live ones of it) taken out too."""
        removed = self.removed.copy()
        removed[[self.position[i] for i in ids]] = True
        live = Picked(self.library.articles, np.flatnonzero(~removed))
        passages = removed[self.library.article_of]
        sentences = passages[self.library.sentence_passage]
        return Segment(self.library, self.position, removed, live, passages, sentences)


class SegmentedIndex:
    """One of a view's four indexes: its segments' indexes as one, under the whole's statistics.

    ``parts`` are the segments' indexes, rows numbered one after the other; ``removed`` marks
    the rows of taken-out articles (None: none), which score 0; ``graves`` the indexes of those
    articles, whose passages and terms are subtracted from the statistics.
    """

    def __init__(
        self, parts: Sequence[BM25Index], removed: Mask | None, graves: Sequence[BM25Index]
    ) -> None:
        self._parts = tuple(parts)
        self._removed = removed
        self._graves = tuple(graves)
        self._starts = np.cumsum([0, *(len(p) for p in self._parts)])
        own = [p.statistics() for p in self._parts]
        gone = [g.statistics() for g in self._graves]
        self.statistics = Statistics(
            sum(s.passages for s in own) - sum(s.passages for s in gone),
            sum(s.length for s in own) - sum(s.length for s in gone),
        )

    def __len__(self) -> int:
        return int(self._starts[-1])

    @cached_property
    def vocabulary(self) -> Collection[str]:
        """Every term some live passage has (made on first use: it reads every segment's)."""
        terms: set[str] = set().union(*(p.vocabulary for p in self._parts))
        terms.difference_update(
            t for g in self._graves for t in g.vocabulary if self.document_frequency(t) == 0
        )
        return terms

    def document_frequency(self, term: str) -> int:
        """How many live passages contain ``term``."""
        return sum(p.document_frequency(term) for p in self._parts) - sum(
            g.document_frequency(term) for g in self._graves
        )

    def term_idf(self, term: str) -> float:
        """Lucene's idf of ``term`` in the live passages (the rarest's if none has it)."""
        frequency = np.array([self.document_frequency(term)], dtype=np.float64)
        return float(lucene_idf(frequency, self.statistics.passages)[0])

    def weighted_scores(self, query_weights: Mapping[str, float]) -> FloatArray:
        """Every row's BM25 score for weighted query terms (see ``BM25Index.weighted_scores``)."""
        query = [(t, float(w), self.term_idf(t)) for t, w in query_weights.items()]
        scores = np.zeros(len(self), dtype=np.float64)
        for part, start in zip(self._parts, self._starts, strict=False):
            part.add_scores_under(query, self.statistics, scores[start : start + len(part)])
        return self._live(scores)

    def matched_weight(self, term_weights: Mapping[str, float]) -> FloatArray:
        """For every row, the sum of ``term_weights`` of the terms it contains."""
        return self._live(np.concatenate([p.matched_weight(term_weights) for p in self._parts]))

    def weighted_scores_at(
        self, query_weights: Mapping[str, float], rows: npt.NDArray[np.int64]
    ) -> FloatArray:
        """``weighted_scores(query_weights)[rows]`` bit for bit (``rows`` ascending)."""
        query = [(t, float(w), self.term_idf(t)) for t, w in query_weights.items()]
        scores = np.zeros(rows.shape[0], dtype=np.float64)
        for part, start, lo, hi in self._split(rows):
            part.add_scores_under(query, self.statistics, scores[lo:hi], rows[lo:hi] - start)
        return self._live_at(scores, rows)

    def matched_weight_at(
        self, term_weights: Mapping[str, float], rows: npt.NDArray[np.int64]
    ) -> FloatArray:
        """``matched_weight(term_weights)[rows]`` bit for bit (``rows`` ascending)."""
        found = np.zeros(rows.shape[0], dtype=np.float64)
        for part, start, lo, hi in self._split(rows):
            found[lo:hi] = part.matched_weight_at(term_weights, rows[lo:hi] - start)
        return self._live_at(found, rows)

    def best(
        self, query_weights: Mapping[str, float], k: int
    ) -> tuple[npt.NDArray[np.int64], FloatArray]:
        """Each segment's ``k`` best live rows, best first by the segment's own scores.

        Candidates to score, not the whole's top k: a segment ranks its rows under its own
        statistics, which a few changes barely move, and a small segment gives all its rows.
        """
        rows, scores = [np.zeros(0, dtype=np.int64)], [np.zeros(0)]
        for part, start in zip(self._parts, self._starts.tolist(), strict=False):
            found, found_scores = part.best(query_weights, k)
            rows.append(found + start)
            scores.append(found_scores)
        every, values = np.concatenate(rows), np.concatenate(scores)
        if self._removed is not None:
            live = ~self._removed[every]
            every, values = every[live], values[live]
        order = np.lexsort((every, -values))
        return every[order], values[order]

    def _split(self, rows: npt.NDArray[np.int64]) -> Iterator[tuple[BM25Index, int, int, int]]:
        """Each segment's index with its first row, and where its rows are in ``rows``."""
        bounds = np.searchsorted(rows, self._starts).tolist()
        for number, part in enumerate(self._parts):
            if bounds[number] < bounds[number + 1]:
                yield part, int(self._starts[number]), bounds[number], bounds[number + 1]

    def _live(self, scores: FloatArray) -> FloatArray:
        if self._removed is not None:
            scores[self._removed] = 0.0
        return scores

    def _live_at(self, scores: FloatArray, rows: npt.NDArray[np.int64]) -> FloatArray:
        if self._removed is not None:
            scores[self._removed[rows]] = 0.0
        return scores


class LiveLibrary(Library):
    """A library served as segments (see the module's docstring): a :class:`Library` to callers.

    ``articles`` are the live ones, in the order :meth:`Library.replace` would give them; the
    row tables (``passages``, ``article_of``, ``sentence_first``...) span every segment's rows,
    taken-out ones included, so that a row is a passage's position for every table.
    """

    def __init__(self, segments: Sequence[Segment], graves: Sequence[Library]) -> None:
        base = segments[0].library
        self.segments, self.graves = tuple(segments), tuple(graves)
        self.config = base.config
        self.passage_chars, self.variant, self.k1, self.b = (
            base.passage_chars,
            base.variant,
            base.k1,
            base.b,
        )
        self.article_weight, self.title_weight = base.article_weight, base.title_weight
        self.pair_weight = base.pair_weight
        self.sentence_weight, self.sentence_coverage = base.sentence_weight, base.sentence_coverage
        self.embedder, self.cache = base.embedder, base.cache
        # The question vectors depend on the question only: the views of one base share them.
        self._queries, self._queries_lock = base._queries, base._queries_lock
        self.passage_vectors = self.sentence_vectors = None  # each segment keeps its own
        libraries = [s.library for s in self.segments]
        self.articles = Rows(s.live for s in self.segments)
        self.passages = Rows(lib.passages for lib in libraries)
        self.passage_terms = Rows(lib.passage_terms for lib in libraries)
        self.article_terms = Rows(lib.article_terms for lib in libraries)
        article_start = _starts(len(lib.articles) for lib in libraries)
        passage_start = _starts(len(lib.passages) for lib in libraries)
        sentence_start = _starts(len(lib.sentence_passage) for lib in libraries)
        self.article_of = np.concatenate(
            [lib.article_of + start for lib, start in zip(libraries, article_start, strict=False)]
        )
        self.article_first = _runs(libraries, "article_first", passage_start)
        self.sentence_passage = np.concatenate(
            [
                lib.sentence_passage + start
                for lib, start in zip(libraries, passage_start, strict=False)
            ]
        )
        self.sentence_first = _runs(libraries, "sentence_first", sentence_start)
        self._sentence_start = sentence_start

        def removed(rows: str) -> Mask | None:
            """The rows of taken-out articles in one table, None if there are none."""
            if not any(s.has_removed for s in self.segments):
                return None
            return np.concatenate([getattr(s, rows) for s in self.segments])

        def view(kind: str, mask: Mask | None) -> SegmentedIndex:
            return SegmentedIndex(
                [_bm25(getattr(lib, kind)) for lib in libraries],
                mask,
                [_bm25(getattr(grave, kind)) for grave in self.graves],
            )

        self.removed_rows = removed("passages_removed")
        self.index = view("index", self.removed_rows)
        self.article_index = view("article_index", removed("removed"))
        self.pair_index = view("pair_index", self.removed_rows)
        self.sentence_index = view("sentence_index", removed("sentences_removed"))

    def similarities(self, vector: Vectors) -> tuple[FloatArray, FloatArray] | None:
        """Every passage's and sentence's cosine with ``vector``, segment by segment."""
        found = [s.library.similarities(vector) for s in self.segments]
        if any(f is None for f in found):
            return None
        return (
            np.concatenate([f[0] for f in found if f is not None]),
            np.concatenate([f[1] for f in found if f is not None]),
        )

    def sentence_vectors_at(self, sentences: npt.NDArray[np.int64]) -> Vectors:
        """The vectors of sentence rows ``sentences``, each read from its segment."""
        segment = np.searchsorted(self._sentence_start, sentences, side="right") - 1
        assert self.embedder is not None
        vectors = np.empty((sentences.shape[0], self.embedder.dim), dtype=np.float32)
        for number in np.unique(segment).tolist():
            at = segment == number
            local = sentences[at] - self._sentence_start[number]
            vectors[at] = self.segments[number].library.sentence_vectors_at(local)
        return vectors


def changed(
    library: Library, added: Sequence[Article] = (), removed: Iterable[str] = ()
) -> Library:
    """``library.replace(added, removed)``'s library, made in time proportional to the change."""
    return combined(library, library.like(added), removed)


def combined(library: Library, segment: Library, removed: Iterable[str] = ()) -> Library:
    """``library`` with ``segment``'s articles put in (replacing the same ids) and ``removed`` out.

    ``segment`` is ``library.like(added)``, the costly part of a change, which the edge makes
    before it takes its turn to change the served library.
    """
    if library.variant != "lucene":  # see the module's docstring
        return library.replace(segment.articles, removed)
    drop = set(removed) | {a.id for a in segment.articles}
    segments = list(library.segments) if isinstance(library, LiveLibrary) else [Segment.of(library)]
    graves = list(library.graves) if isinstance(library, LiveLibrary) else []
    taken: list[Article] = []
    for number, old in enumerate(segments):
        gone = old.live_ids(drop)
        if gone:
            segments[number] = old.without(gone)
            taken.extend(old.library.articles[old.position[i]] for i in gone)
    if taken:
        graves.append(library.like(taken, embed=False))
    if segment.articles:
        segments.append(Segment.of(segment))
    if len(segments) == 1 and not graves:
        return segments[0].library
    return LiveLibrary(segments, graves)


def merge(view: LiveLibrary) -> Library:
    """The plain library of ``view``'s articles, :func:`prepared`: its segments' live rows merged.

    Nothing is tokenized or embedded again: every table, index and vector array of the result
    is made of the segments' with numpy (see the module's docstring), and equals a build's.
    """
    libraries = [s.library for s in view.segments]
    articles = [~s.removed for s in view.segments]
    passages = [~s.passages_removed for s in view.segments]
    sentences = [~s.sentences_removed for s in view.segments]
    article_number, passage_number = _numbers(articles), _numbers(passages)
    article_of = np.concatenate(
        [
            number[lib.article_of[keep]]
            for number, lib, keep in zip(article_number, libraries, passages, strict=True)
        ]
    )
    sentence_passage = np.concatenate(
        [
            number[lib.sentence_passage[keep]]
            for number, lib, keep in zip(passage_number, libraries, sentences, strict=True)
        ]
    )

    def index(kind: str, kept: list[Mask]) -> tuple[BM25Index, list[npt.NDArray[np.int64]]]:
        return BM25Index.merged([_bm25(getattr(lib, kind)) for lib in libraries], kept)

    def vectors(kind: str, kept: list[Mask]) -> Vectors | None:
        if view.embedder is None:
            return None
        return np.concatenate(
            [_vectors(getattr(lib, kind))[keep] for lib, keep in zip(libraries, kept, strict=True)]
        )

    article_count = sum(int(np.count_nonzero(keep)) for keep in articles)
    article_index, rows = index("article_index", articles)
    merged_passages = gathered([lib.passages for lib in libraries], passages)
    parts = LibraryParts(
        articles=gathered([lib.articles for lib in libraries], articles),
        passages=merged_passages,
        passage_terms=PassageTerms(merged_passages),
        article_terms=ArticleTerms.merged(
            article_index, [_article_terms(lib) for lib in libraries], articles, rows
        ),
        index=index("index", passages)[0],
        article_index=article_index,
        pair_index=index("pair_index", passages)[0],
        sentence_index=index("sentence_index", sentences)[0],
        article_of=article_of,
        article_first=np.searchsorted(article_of, np.arange(article_count + 1)),
        sentence_passage=sentence_passage,
        sentence_first=np.searchsorted(sentence_passage, np.arange(article_of.shape[0] + 1)),
        passage_vectors=vectors("passage_vectors", passages),
        sentence_vectors=vectors("sentence_vectors", sentences),
    )
    return prepared(Library.from_parts(parts, view.config, view.embedder, view.cache))


def prepared(library: Library) -> Library:
    """``library``, with what its first change reads made now (``article_position``).

    Libraries are prepared where they are built, in the background or at start-up, rather than
    by a change, which a question may be waiting for.
    """
    _ = library.article_position
    return library


def _bm25(index: TermIndex) -> BM25Index:
    """A segment's own index: a plain library's are always :class:`BM25Index`."""
    if not isinstance(index, BM25Index):
        raise TypeError(f"a segment must be a plain library, not one with a {type(index)}")
    return index


def _article_terms(library: Library) -> ArticleTerms:
    """A segment's term counts: a built, loaded or merged library's are arrays."""
    if not isinstance(library.article_terms, ArticleTerms):
        raise TypeError(
            f"a segment's term counts must be arrays, not {type(library.article_terms)}"
        )
    return library.article_terms


def _vectors(vectors: Vectors | None) -> Vectors:
    """A segment's vectors: a view has an embedder only if every segment has vectors."""
    if vectors is None:
        raise ValueError("a segment of a semantic library has no vectors")
    return vectors


def _numbers(kept: Sequence[Mask]) -> list[npt.NDArray[np.int64]]:
    """Per part, each kept row's number in the merged table (the parts' kept rows in order)."""
    starts = _starts(int(np.count_nonzero(keep)) for keep in kept)
    return [np.cumsum(keep) - 1 + start for keep, start in zip(kept, starts, strict=False)]


def _starts(sizes: Iterable[int]) -> npt.NDArray[np.int64]:
    """Where each segment's rows start, and (last) how many rows there are in all."""
    return np.cumsum([0, *sizes], dtype=np.int64)


def _runs(
    libraries: Sequence[Library], table: str, starts: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """A "first row of each run" table (``article_first``, ``sentence_first``) of all segments."""
    parts = [
        getattr(lib, table)[:-1] + start for lib, start in zip(libraries, starts, strict=False)
    ]
    return np.concatenate([*parts, starts[-1:]])
