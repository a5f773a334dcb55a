"""Articles that note the threads they are read in: reading every article is work for a worker
thread, never for the event loop (a saved library makes each one when it is first read)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator

from bot.core.corpus import Article
from bot.core.rows import ItemSequence


class ReadWhere(ItemSequence[Article]):
    """Articles that note the threads they are read in (their count is not a read)."""

    def __init__(self, articles: Iterable[Article]) -> None:
        self._articles = list(articles)
        self.threads: set[threading.Thread] = set()

    def __len__(self) -> int:
        return len(self._articles)

    def _item(self, index: int) -> Article:
        self.threads.add(threading.current_thread())
        return self._articles[index]

    def __iter__(self) -> Iterator[Article]:
        self.threads.add(threading.current_thread())
        return iter(self._articles)
