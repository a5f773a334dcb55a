"""The searchable library: articles, their passages and a BM25 index over both."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.corpus import DEFAULT_PASSAGE_CHARS, Article, Passage, split_corpus
from bot.index import BM25Index, Variant
from bot.text import tokenize


@dataclass(frozen=True, slots=True)
class Hit:
    """A passage that matched a query, with its BM25 score."""

    passage: Passage
    score: float
    row: int  # the passage's position in the library, and so in its index

    @property
    def article(self) -> Article:
        return self.passage.article


class Library:
    """Everything the bot knows: articles, passages, and the index that ranks the passages.

    A passage is indexed with its article's title, so a question naming the product finds every
    passage of the article about it, not just the first.
    """

    def __init__(
        self,
        articles: Iterable[Article],
        *,
        passage_chars: int = DEFAULT_PASSAGE_CHARS,
        variant: Variant = "lucene",
        k1: float = 1.2,
        b: float = 0.75,
    ) -> None:
        self.articles: tuple[Article, ...] = tuple(articles)
        self.passage_chars = passage_chars
        self.passages: list[Passage] = split_corpus(self.articles, passage_chars)
        title_terms = {a.id: tokenize(a.title) for a in self.articles}
        self.passage_terms: list[list[str]] = [
            title_terms[p.article.id] + tokenize(p.text) for p in self.passages
        ]
        self.index = BM25Index.build(self.passage_terms, k1=k1, b=b, variant=variant)
        self.variant, self.k1, self.b = variant, k1, b

    def __len__(self) -> int:
        return len(self.articles)

    def replace(self, added: Sequence[Article] = (), removed: Iterable[str] = ()) -> Library:
        """Return a library with ``added`` articles put in (replacing same ids) and ids removed."""
        drop = set(removed) | {a.id for a in added}
        kept = [a for a in self.articles if a.id not in drop]
        return Library(
            [*kept, *added],
            passage_chars=self.passage_chars,
            variant=self.variant,
            k1=self.k1,
            b=self.b,
        )

    def passage_hits(self, query_terms: Sequence[str], k: int) -> list[Hit]:
        """Return the ``k`` best passages for already tokenized query terms."""
        return [Hit(self.passages[i], s, i) for i, s in self.index.top_k(query_terms, k)]

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """Return the best passage of each of the ``k`` best matching articles, best first."""
        return self.search_terms(tokenize(query), k)

    def search_terms(self, query_terms: Sequence[str], k: int = 10) -> list[Hit]:
        """Like :meth:`search`, for a query already tokenized."""
        hits: list[Hit] = []
        seen: set[str] = set()
        # Ask for more passages than articles: one article may own several of the best passages.
        want = max(k * 4, 20)
        while True:
            ranked = self.passage_hits(query_terms, want)
            for hit in ranked:
                if hit.article.id not in seen:
                    seen.add(hit.article.id)
                    hits.append(hit)
                    if len(hits) == k:
                        return hits
            if len(ranked) < want:
                return hits
            hits.clear()
            seen.clear()
            want *= 4
