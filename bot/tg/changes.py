"""Changing the library while the bot runs: channel posts, admins, feeds and the corpus folder
all go through here.

A change takes milliseconds and never waits for a rebuild (:mod:`bot.core.live`):

1. its articles are made a small library of their own (tokenized and embedded) off the event
   loop, without holding anything: a question, or a post about other articles, goes on meanwhile.
   Changes that touch the same article ids take effect in the order they arrived;
2. under the library lock, that segment is combined with the served library (a view: no row
   of the served one is copied) and swapped into ``bot_data`` in one step, so a question is
   always answered from a whole library, the old or the new. A change whose starting library
   was swapped under it anyway (by code that sets ``bot_data`` directly, as tests do) is
   combined again with the new one rather than dropping what that added;
3. once the view has ``MERGE_PARTS`` segments and graves, ``MERGE_DELAY`` seconds after the
   last change, its segments are merged into one plain library in a background thread
   (:func:`bot.core.live.merge`: numpy over their arrays, nothing tokenized again), and swapped
   in after the changes made meanwhile are applied to it again. Questions and changes go on
   during the merge.

The merge runs in a daemon thread rather than the event loop's executor: stopping the bot then
never waits for a merge, whose work is only lost, not needed (the view it replaces is exact).
That thread runs at the lowest CPU priority (``MERGE_NICE``). A merge lets go of the GIL for
nearly all its work, but on the 2-core machine any other busy thread took half of a question's
core, a process too: questions during a merge at the usual priority took p50 2-3 times as long
(docs/benchmarks.md), as during a thread that only hashed bytes. At the lowest priority the
merge waits for the questions, and runs when they leave a core idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeGuard, TypeVar

from bot.core.corpus import Article
from bot.core.library import Library
from bot.core.live import LiveLibrary, combined, merge
from bot.store import AsyncStore
from bot.tg.keys import LIBRARY, STORE

log = logging.getLogger(__name__)

_STATE = "library_changes"
# Seconds without a change before the segments are merged: a burst of posts, or an admin's
# several /add, is merged once. Until then a question pays only for scoring the base's postings
# from their frequencies (see bot.core.live), a few milliseconds at 192k passages.
MERGE_DELAY = 10.0
# Segments and graves a view holds before it is merged. Each adds a little to every question (a
# pass over its postings per term and index) and to every change (its tables stacked again); a
# merge costs seconds of a core at 192k passages, and the memory of a second library while it
# runs. At 57k passages, 100 SQuAD questions took p50 5.6 ms on the plain library, 8.0 with 17
# parts, 9.3 with 65 (a loaded machine): at 16, a channel of a few posts a day is merged every
# few days.
MERGE_PARTS = 16
# The nice value the merging thread takes (Linux gives each thread its own): 19, the lowest
# priority, so that a merge never takes a core from a question (see the module's docstring).
MERGE_NICE = 19

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Applied:
    """A change as it was applied: its segment, the ids it took out, the libraries before, after."""

    segment: Library
    removed: tuple[str, ...]
    before: Library
    after: Library


@dataclass
class _Changes:
    """The edge's state of changes, one per ``bot_data``."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # The latest change of each article id that has not yet taken effect.
    pending: dict[str, asyncio.Future[None]] = field(default_factory=dict)
    # While a merge runs: the changes applied since its snapshot, to apply again to its result.
    journal: list[Applied] | None = None
    merging: asyncio.Task[None] | None = None  # the task that merges, while there is one
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # set by every change


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
    state: _Changes = bot_data.setdefault(_STATE, _Changes())
    ids = {a.id for a in added} | set(removed)
    earlier = {state.pending[i] for i in ids if i in state.pending}
    turn = asyncio.get_running_loop().create_future()
    for i in ids:
        state.pending[i] = turn
    try:
        if earlier:
            await asyncio.wait(earlier)
        start: Library = bot_data[LIBRARY]
        segment = await asyncio.to_thread(start.like, added)
        async with state.lock:
            while True:
                base: Library = bot_data[LIBRARY]
                new = await asyncio.to_thread(combined, base, segment, removed)
                if bot_data[LIBRARY] is base:
                    bot_data[LIBRARY] = new
                    if state.journal is not None:
                        state.journal.append(Applied(segment, removed, base, new))
                    break
    finally:
        turn.set_result(None)
        for i in ids:
            if state.pending.get(i) is turn:
                del state.pending[i]
    if _due(new):
        state.changed.set()
        if state.merging is None or state.merging.done():
            state.merging = asyncio.ensure_future(_merge(bot_data, state))
    return new


async def merging_done(bot_data: MutableMapping[Any, Any]) -> None:
    """Wait until the served library's segments, if it has any, have been merged."""
    state: _Changes | None = bot_data.get(_STATE)
    if state is not None and state.merging is not None:
        await asyncio.wait({state.merging})


async def stop_merging(bot_data: MutableMapping[Any, Any]) -> None:
    """Give up the merge due or running (at shutdown): the served view stays exact."""
    state: _Changes | None = bot_data.get(_STATE)
    if state is not None and state.merging is not None:
        state.merging.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await state.merging


async def _merge(bot_data: MutableMapping[Any, Any], state: _Changes) -> None:
    """Merge the served view once it is due and ``MERGE_DELAY`` seconds pass without a change."""
    while True:
        with contextlib.suppress(TimeoutError):
            while True:
                state.changed.clear()
                await asyncio.wait_for(state.changed.wait(), MERGE_DELAY)
        snapshot: Library = bot_data[LIBRARY]
        if not _due(snapshot):
            return
        state.journal = []
        try:
            merged = await _in_daemon_thread(partial(background_merge, snapshot))
            async with state.lock:
                journal, state.journal = state.journal, None
                chain = [snapshot, *(a.after for a in journal)]
                if bot_data[LIBRARY] is not chain[-1] or any(
                    a.before is not before for a, before in zip(journal, chain, strict=False)
                ):
                    continue  # swapped directly meanwhile: merge what is served now
                for change in journal:
                    merged = await asyncio.to_thread(
                        combined, merged, change.segment, change.removed
                    )
                bot_data[LIBRARY] = merged
            if not _due(merged):
                return
        except Exception:
            # The view stays served, and is exact: a failed merge costs only question time.
            log.exception("merging the library's segments failed; they are served as they are")
            return
        finally:
            state.journal = None


def _due(library: Library) -> TypeGuard[LiveLibrary]:
    """Whether ``library`` is a view with enough parts to be merged."""
    return (
        isinstance(library, LiveLibrary)
        and len(library.segments) + len(library.graves) >= MERGE_PARTS
    )


def background_merge(view: LiveLibrary) -> Library:
    """``merge(view)`` in the calling thread, which first takes ``MERGE_NICE``: only a thread
    made for the merge should call it (see the module's docstring)."""
    if sys.platform == "linux":  # elsewhere a thread has no nice value of its own
        with contextlib.suppress(OSError):  # refused (a sandbox): merged at the usual priority
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), MERGE_NICE)
    return merge(view)


async def _in_daemon_thread(work: Callable[[], T]) -> T:
    """``work()``'s result, computed in a daemon thread (see the module's docstring)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def run() -> None:
        try:
            result = work()
        except BaseException as exc:  # handed to the awaiting coroutine, which raises it
            error = exc

            def settle() -> None:
                if not done.cancelled():
                    done.set_exception(error)
        else:

            def settle() -> None:
                if not done.cancelled():
                    done.set_result(result)

        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            loop.call_soon_threadsafe(settle)

    threading.Thread(target=run, name="library-merge", daemon=True).start()
    return await done


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
