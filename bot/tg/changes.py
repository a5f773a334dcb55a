"""Changing the library while the bot runs: channel posts, admins, feeds and the corpus folder
all go through here.

A change builds a new :class:`Library` off the event loop (``Library.replace`` indexes and embeds
the articles, which takes CPU time) and then swaps it into ``bot_data`` in one step, so a question
is always answered from a whole library, the old or the new. Changes are serialised by a lock; a
change whose starting library was swapped under it anyway (by code that sets ``bot_data``
directly, as tests do) is built again from the new one rather than dropping what that added.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, MutableMapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from bot.core.corpus import Article
from bot.core.library import Library
from bot.store import AsyncStore
from bot.tg.keys import LIBRARY, STORE

_LOCK = "library_lock"


@dataclass(frozen=True, slots=True)
class Change:
    """Articles to put in (new, or replacing the same id) and ids to take out."""

    added: tuple[Article, ...] = ()
    changed: tuple[Article, ...] = ()
    removed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


async def change_library(
    bot_data: MutableMapping[Any, Any],
    added: Sequence[Article] = (),
    removed: Iterable[str] = (),
) -> Library:
    """Put ``added`` in and take ``removed`` out of the served library; return the new one."""
    removed = tuple(removed)
    lock: asyncio.Lock = bot_data.setdefault(_LOCK, asyncio.Lock())
    async with lock:
        while True:
            base: Library = bot_data[LIBRARY]
            new = await asyncio.to_thread(base.replace, added=added, removed=removed)
            if bot_data[LIBRARY] is base:
                bot_data[LIBRARY] = new
                return new


def corpus_change(
    library: Library,
    corpus: Sequence[Article],
    kept: Iterable[str],
    scope: AbstractSet[str] | None = None,
) -> Change:
    """What turns ``library`` into one with ``corpus`` as its corpus articles.

    ``kept`` are ids that did not come from the corpus folder (stored posts, admins' and feeds'
    articles): they are never removed. ``scope`` limits removals to those ids (the articles of the
    files that changed); None means the whole folder was read.
    """
    current = {a.id: a for a in library.articles}
    fresh = {a.id for a in corpus}
    keep = set(kept) | fresh
    gone = [i for i in current if i not in keep and (scope is None or i in scope)]
    return Change(
        added=tuple(a for a in corpus if a.id not in current),
        changed=tuple(a for a in corpus if a.id in current and current[a.id] != a),
        removed=tuple(gone),
    )


async def apply(bot_data: MutableMapping[Any, Any], change: Change) -> Library:
    """Apply ``change`` to the served library (nothing to do: the library as it is)."""
    if not change:
        library: Library = bot_data[LIBRARY]
        return library
    return await change_library(bot_data, [*change.added, *change.changed], change.removed)


async def sync_corpus(
    bot_data: MutableMapping[Any, Any],
    corpus: Sequence[Article],
    scope: AbstractSet[str] | None = None,
) -> Change:
    """Serve ``corpus`` as the corpus folder's articles (see :func:`corpus_change`)."""
    store: AsyncStore = bot_data[STORE]
    stored = await store.read(store.store.articles)
    change = corpus_change(bot_data[LIBRARY], corpus, [a.id for a in stored], scope)
    await apply(bot_data, change)
    return change
