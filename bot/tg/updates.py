"""Handling updates of different chats at once, and those of one chat in the order they came.

PTB handles updates one at a time by default: then a slow reply in one chat (a send retried after
a 5xx, a 429's wait) holds up every other chat, and the bot's throughput is one round trip to
Telegram per update. With PTB's ``concurrent_updates`` every update runs at once, and a follow-up
could be handled before the answer it follows. :class:`PerChatUpdates` runs each chat's updates
in order (an ``asyncio.Lock`` per chat, which wakes its waiters first come, first served) and
different chats concurrently, up to :data:`MAX_CONCURRENT` updates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

# Enough to keep Telegram's round trips overlapping; few enough that a burst of updates doesn't
# queue thousands of sends behind the rate limiter (the HTTP pool has 256 connections).
MAX_CONCURRENT = 64


class PerChatUpdates(BaseUpdateProcessor):
    """Updates of one chat (or, for inline queries, one user) one at a time, in order."""

    def __init__(self, max_concurrent_updates: int = MAX_CONCURRENT) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}  # how many updates hold or wait for each lock

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = _conversation(update)
        if key is None:
            await coroutine
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._users[key] -= 1
            if not self._users[key]:  # forget idle chats: memory stays flat over many chats
                del self._users[key], self._locks[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


def _conversation(update: object) -> int | None:
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    return update.effective_user.id if update.effective_user is not None else None
