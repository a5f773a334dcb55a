"""Load the corpus and build the library as the settings say: one place for every command.

The library's semantic stage needs the embedding model, checked against its pinned hash, and the
vectors already computed, kept in ``DATA_DIR/embeddings``; ``SEMANTIC=off`` builds a lexical one.

``serve``, ``ask``, ``search``, ``chat`` and ``index`` keep the library they build in
``DATA_DIR/library`` (:mod:`bot.core.saved`) and load it instead of building again when it was
made from the same corpus files (their content's SHA-256), the same stored announcements (channel
posts, admins', feeds'), the same settings and model: a start then reads no corpus file but to
hash it. When only the corpus or the stored announcements changed (a file added, edited or
deleted, a new post), the saved library is loaded and brought up to date in segments
(:func:`bot.core.live.changed`): only the articles added, edited or removed are tokenized and
embedded, and scores are those of a library built from scratch. Past ``REBUILD_SHARE`` of the
articles changed, or when anything else changed (another ``PASSAGE_CHARS``, model or code), the
library is built again and saved; a saved library that is damaged is reported with a warning and
built again too, so the bot always starts. ``announcements-bot index`` builds and saves it
whatever changed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from bot.core.corpus import Article, corpus_files, load_corpus
from bot.core.library import Library, LibraryConfig, LibraryParts
from bot.core.live import changed
from bot.core.saved import (
    HASHING_THREADS,
    SavedKey,
    SavedLibraryError,
    articles_digest,
    load_library_parts,
    save_library,
    saved_key,
)
from bot.core.semantic import E5Embedder, Embedder, EmbeddingCache, file_sha256

log = logging.getLogger(__name__)

LIBRARY_DIR = "library"  # the saved library's folder in DATA_DIR
# Past this share of its articles changed, a saved library is built again rather than brought up
# to date in segments: a question scores a segment's postings from their frequencies and a removed
# article's again to subtract them, so a view that is mostly changes costs each question more than
# the build of the changed articles saves once (docs/benchmarks.md, live changes).
REBUILD_SHARE = 0.1


def embedding_cache(settings: Settings) -> EmbeddingCache:
    """The cache of passage vectors in the data directory."""
    return EmbeddingCache(settings.data_dir / "embeddings")


def _model(settings: Settings, embedder: Embedder | None) -> Embedder | None:
    """The embedder the settings ask for: ``embedder`` (tests) or the real model, or None."""
    if not settings.semantic:
        return None
    return embedder if embedder is not None else E5Embedder()


def library_builder(
    settings: Settings, embedder: Embedder | None = None
) -> Callable[[Sequence[Article]], Library]:
    """A function that builds a library of articles as ``settings`` say (nothing saved).

    ``embedder`` defaults to the real model when the semantic stage is on; tests pass a fake one.
    Raises :class:`bot.core.semantic.ModelError` when the model can't be loaded.
    """
    model = _model(settings, embedder)
    cache = embedding_cache(settings)
    config = LibraryConfig(passage_chars=settings.passage_chars)

    def build(articles: Sequence[Article]) -> Library:
        return Library.from_parts(
            LibraryParts.derive(articles, config, model, cache), config, model, cache
        )

    return build


def with_stored(corpus: Sequence[Article], stored: Sequence[Article]) -> list[Article]:
    """The corpus's articles, then the stored ones; a stored article replaces a corpus one."""
    replaced = {a.id for a in stored}
    return [*(a for a in corpus if a.id not in replaced), *stored]


def corpus_sources(path: Path) -> dict[str, str]:
    """Each corpus file under ``path``, named by its path, with its content's SHA-256.

    Hashed in threads (hashlib lets go of the GIL): a start that loads a saved library reads the
    corpus only for this.
    """
    if not path.exists():
        return {}
    root, files, _ = corpus_files(path)
    with ThreadPoolExecutor(HASHING_THREADS) as pool:
        digests = list(pool.map(_digest, files))
    names = [f"corpus:{file.relative_to(root).as_posix()}" for file in files]
    return dict(zip(names, digests, strict=True))


def _digest(path: Path) -> str:
    try:
        return file_sha256(path)
    except OSError as exc:  # the build reports the file; never match a saved library with it
        return f"unreadable: {exc}"


def load_library(
    path: Path | None,
    settings: Settings,
    embedder: Embedder | None = None,
    *,
    stored: Sequence[Article] = (),
    rebuild: bool = False,
    progress: bool = False,
) -> Library:
    """The library of the corpus at ``path`` (default: the settings') and ``stored`` articles.

    Loaded from ``DATA_DIR/library`` when it was saved from the same inputs (see the module's
    docstring), else built, with the corpus files that failed reported, and saved; ``rebuild``
    builds it whatever was saved, ``progress`` shows a progress bar of building.
    """
    model = _model(settings, embedder)
    cache = embedding_cache(settings)
    config = LibraryConfig(passage_chars=settings.passage_chars)
    corpus_path = path or settings.corpus
    sources = {**corpus_sources(corpus_path), "stored": articles_digest(stored)}
    key = SavedKey(config, model.name if model else None, sources)
    directory = settings.data_dir / LIBRARY_DIR
    saved = None if rebuild else _load_saved(directory, key)
    if saved is not None and saved.current:
        return Library.from_parts(saved.parts, config, model, cache)
    started = time.monotonic()
    corpus = load_corpus(corpus_path)
    for problem in corpus.problems:
        log.warning("skipped %s", problem)
    articles = with_stored(corpus.articles, stored)
    if saved is not None:
        library = Library.from_parts(saved.parts, config, model, cache)
        updated = _brought_up_to_date(library, articles)
        if updated is not None:
            return updated
    parts = LibraryParts.derive(articles, config, model, cache, progress=progress)
    log.debug(
        "built the library: %d articles, %d passages in %.1f s",
        len(parts.articles),
        len(parts.passages),
        time.monotonic() - started,
    )
    try:
        save_library(parts, directory, key, [str(p) for p in corpus.problems])
    except OSError as exc:
        log.warning(
            "cannot save the library in %s (%s): the next start builds it again", directory, exc
        )
    else:
        log.debug("saved the library in %s", directory)
    return Library.from_parts(parts, config, model, cache)


@dataclass(frozen=True, slots=True)
class Saved:
    """A saved library's parts, and whether they were made from today's corpus (``current``) or
    only with today's settings, model and code."""

    parts: LibraryParts
    current: bool


def _load_saved(directory: Path, key: SavedKey) -> Saved | None:
    """The parts saved in ``directory`` if they were made with ``key``'s settings, model and code;
    None to build them."""
    found = saved_key(directory)
    if found is None:
        if directory.exists():
            log.warning("the saved library in %s is unreadable: building it again", directory)
        return None
    wanted = key.to_json()
    current = found == wanted
    if {**found, "sources": None} != {**wanted, "sources": None}:
        log.debug("the settings, the model or the code changed: building the library again")
        return None
    started = time.monotonic()
    try:
        parts, problems = load_library_parts(directory)
    except SavedLibraryError as exc:
        log.warning("the saved library is damaged (%s): building it again", exc)
        return None
    if current:  # else the corpus is read again, and reports its own
        for problem in problems:
            log.warning("skipped %s", problem)
    log.debug(
        "loaded the saved library: %d articles, %d passages in %.2f s",
        len(parts.articles),
        len(parts.passages),
        time.monotonic() - started,
    )
    return Saved(parts, current)


def _brought_up_to_date(library: Library, articles: Sequence[Article]) -> Library | None:
    """``library`` changed into a library of ``articles`` in segments, or None when more than
    ``REBUILD_SHARE`` of them changed (see the module's docstring)."""
    now = {a.id: a for a in library.articles}
    wanted = {a.id for a in articles}
    added = [a for a in articles if now.get(a.id) != a]
    removed = [i for i in now if i not in wanted]
    if len(added) + len(removed) > REBUILD_SHARE * max(len(articles), len(now)):
        log.debug("most of the corpus changed: building the library again")
        return None
    log.info(
        "brought the saved library up to date: %d articles added or edited, %d removed",
        len(added),
        len(removed),
    )
    return changed(library, added, removed)
