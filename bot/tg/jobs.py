"""Jobs of the job queue: reading the feeds, and watching the corpus folder for changes.

Both run every interval the settings give (``FEED_INTERVAL``, ``CORPUS_INTERVAL``); their blocking
work (parsing, hashing files, SQLite) runs in threads, off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import MutableMapping, Sequence
from typing import Any

from telegram.ext import Application, ContextTypes

from bot.config import Settings
from bot.core.corpus import Article
from bot.feeds import FeedReader
from bot.store import AsyncStore, Store
from bot.tg.changes import Change, change_library, sync_corpus
from bot.tg.keys import STORE
from bot.tg.metrics import METRICS, Metrics
from bot.watch import CorpusWatcher

log = logging.getLogger(__name__)

FEEDS_JOB = "feeds"
CORPUS_JOB = "corpus"
FIRST_READ_SECONDS = 1.0  # the first read of the feeds, once the bot runs


def schedule(application: Application[Any, Any, Any, Any, Any, Any], settings: Settings) -> None:
    """Start the jobs the settings ask for (the job queue runs them once the bot runs)."""
    job_queue = application.job_queue
    if job_queue is None:  # PTB without its job-queue extra; the project's install has it
        raise RuntimeError("python-telegram-bot's job queue is not installed")
    if settings.feeds:
        metrics: Metrics = application.bot_data[METRICS]
        reader = FeedReader(settings.feeds, on_error=metrics.feed_errors.inc)
        job_queue.run_repeating(
            _read_feeds,
            interval=settings.feed_interval,
            first=FIRST_READ_SECONDS,
            data=reader,
            name=FEEDS_JOB,
        )
    if settings.corpus_interval:
        job_queue.run_repeating(
            _watch_corpus,
            interval=settings.corpus_interval,
            first=settings.corpus_interval,
            data=CorpusWatcher(settings.corpus),
            name=CORPUS_JOB,
        )


async def _read_feeds(context: ContextTypes.DEFAULT_TYPE) -> None:
    assert context.job is not None
    reader: FeedReader = context.job.data  # type: ignore[assignment]
    await read_feeds(context.bot_data, reader)


async def read_feeds(bot_data: MutableMapping[Any, Any], reader: FeedReader) -> list[Article]:
    """Read the feeds due; store new and edited entries and serve them. Returns those."""
    found = await reader.poll()
    store: AsyncStore = bot_data[STORE]
    changed = await store.write(_store_entries, store.store, found)
    if changed:
        await change_library(bot_data, added=changed)
        log.info("feeds: %d new or edited entries", len(changed))
    return changed


def _store_entries(store: Store, found: Sequence[tuple[str, Article]]) -> list[Article]:
    """Store each entry; an entry stored already, unchanged, is no news."""
    return [article for url, article in found if store.save_article(article, origin=f"feed:{url}")]


async def _watch_corpus(context: ContextTypes.DEFAULT_TYPE) -> None:
    assert context.job is not None
    watcher: CorpusWatcher = context.job.data  # type: ignore[assignment]
    await watch_corpus(context.bot_data, watcher)


async def watch_corpus(bot_data: MutableMapping[Any, Any], watcher: CorpusWatcher) -> Change:
    """Serve what changed in the corpus folder since the watcher's last look."""
    found = await asyncio.to_thread(watcher.look)
    if found is None:
        return Change()
    for problem in found.problems:
        log.warning("skipped %s", problem)
    change = await sync_corpus(bot_data, found.articles, found.scope)
    if change:
        log.info(
            "corpus folder: %d added, %d changed, %d removed",
            len(change.added),
            len(change.changed),
            len(change.removed),
        )
    return change
