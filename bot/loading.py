"""Load the corpus and build the library as the settings say: one place for every command.

The library's semantic stage needs the embedding model, checked against its pinned hash, and the
vectors already computed, kept in ``DATA_DIR/embeddings``; ``SEMANTIC=off`` builds a lexical one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.config import Settings
from bot.core.corpus import Article, load_corpus
from bot.core.library import Library
from bot.core.semantic import E5Embedder, Embedder, EmbeddingCache

log = logging.getLogger(__name__)


def embedding_cache(settings: Settings) -> EmbeddingCache:
    """The cache of passage vectors in the data directory."""
    return EmbeddingCache(settings.data_dir / "embeddings")


def library_builder(
    settings: Settings, embedder: Embedder | None = None
) -> Callable[[Sequence[Article]], Library]:
    """A function that builds a library of articles as ``settings`` say.

    ``embedder`` defaults to the real model when the semantic stage is on; tests pass a fake one.
    Raises :class:`bot.core.semantic.ModelError` when the model can't be loaded.
    """
    if settings.semantic and embedder is None:
        embedder = E5Embedder()
    model = embedder if settings.semantic else None
    cache = embedding_cache(settings)

    def build(articles: Sequence[Article]) -> Library:
        return Library(articles, passage_chars=settings.passage_chars, embedder=model, cache=cache)

    return build


def load_library(
    path: Path | None, settings: Settings, embedder: Embedder | None = None
) -> Library:
    """Load the corpus, report the files that failed, and build the library."""
    corpus = load_corpus(path or settings.corpus)
    for problem in corpus.problems:
        log.warning("skipped %s", problem)
    return library_builder(settings, embedder)(corpus.articles)
