"""A library's terms per passage and per article, made when read rather than held.

Feedback reads the term counts of ten articles a question, and an answer the terms of the
passages it shows; holding every passage's terms as lists of strings and every article's counts
as a ``Counter`` took gigabytes at 959k passages. A built library and a saved one both keep
instead:

- :class:`PassageTerms`: a passage's terms (its article's title first) are its text tokenized
  again when asked for, microseconds for the few passages an answer reads;
- :class:`ArticleTerms`: an article's term counts are three arrays, made a ``Counter`` when
  asked for: the terms as rows of the article index's vocabulary, in the order the article's
  text first has them (feedback breaks ties by it), and their counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from bot.core.analysis import tokenize
from bot.core.corpus import Passage
from bot.core.index import BM25Index
from bot.core.rows import ItemSequence


class PassageTerms(ItemSequence[list[str]]):
    """Each passage's terms (its article's title first), tokenized again when asked for."""

    def __init__(self, passages: Sequence[Passage]) -> None:
        self._passages = passages

    def __len__(self) -> int:
        return len(self._passages)

    def _item(self, row: int) -> list[str]:
        passage = self._passages[row]
        return tokenize(passage.article.title) + tokenize(passage.text)


class ArticleTerms(ItemSequence[Counter[str]]):
    """Each article's term counts (title once), made when asked for from arrays.

    Article ``i``'s terms are ``rows[ends[i - 1]:ends[i]]`` (rows of ``article_index``'s
    vocabulary), counted ``counts[...]`` times.
    """

    def __init__(
        self,
        article_index: BM25Index,
        ends: npt.NDArray[np.int64],
        rows: npt.NDArray[np.int32],
        counts: npt.NDArray[np.int32],
    ) -> None:
        self.article_index, self.ends, self.rows, self.counts = article_index, ends, rows, counts
        self._terms: list[str] | None = None

    @classmethod
    def merged(
        cls,
        article_index: BM25Index,
        parts: Sequence[ArticleTerms],
        kept: Sequence[npt.NDArray[np.bool_]],
        rows: Sequence[npt.NDArray[np.int64]],
    ) -> ArticleTerms:
        """The term counts of each part's ``kept`` articles, part after part, their terms as
        rows of ``article_index``: ``rows[part][row]`` for a part's row (made with numpy)."""
        ends, terms, counts = [np.zeros(0, dtype=np.int64)], [], [np.zeros(0, dtype=np.int32)]
        for part, keep, renumbered in zip(parts, kept, rows, strict=True):
            # Each term's article: searchsorted rather than repeat, which holds the GIL.
            owner = np.searchsorted(part.ends, np.arange(part.rows.shape[0]), side="right")
            stays = keep[owner]
            ends.append(np.diff(part.ends, prepend=0)[keep])
            terms.append(renumbered[part.rows[stays]])
            counts.append(part.counts[stays])
        return cls(
            article_index,
            np.cumsum(np.concatenate(ends)),
            np.concatenate([np.zeros(0, dtype=np.int64), *terms]).astype(np.int32),
            np.concatenate(counts),
        )

    def __len__(self) -> int:
        return int(self.ends.shape[0])

    def _item(self, row: int) -> Counter[str]:
        if self._terms is None:  # the vocabulary by row, once: most libraries never need it
            vocabulary = self.article_index.vocabulary
            self._terms = sorted(vocabulary, key=vocabulary.__getitem__)
        terms = self._terms
        first = int(self.ends[row - 1]) if row else 0
        end = int(self.ends[row])
        rows, counts = self.rows[first:end].tolist(), self.counts[first:end].tolist()
        return Counter({terms[term]: count for term, count in zip(rows, counts, strict=True)})
