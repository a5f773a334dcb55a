"""Updates of different chats are handled at once; those of one chat in the order they came."""

from __future__ import annotations

import asyncio

from telegram import Update

from bot.tg.updates import PerChatUpdates
from tests.auxil.bot_api import make_inline_query_update, make_message_update


def update(chat_id: int) -> Update:
    return Update.de_json(make_message_update("hello", chat_id=chat_id), None)


async def test_a_slow_chat_holds_up_only_its_own_later_updates() -> None:
    processor = PerChatUpdates()
    done: list[str] = []
    release = asyncio.Event()

    async def handle(name: str, wait: bool = False) -> None:
        if wait:
            await release.wait()
        done.append(name)

    slow = asyncio.create_task(processor.process_update(update(1), handle("1a", wait=True)))
    later = asyncio.create_task(processor.process_update(update(1), handle("1b")))
    other = asyncio.create_task(processor.process_update(update(2), handle("2")))
    inline = make_inline_query_update("q", user_id=3)
    query = asyncio.create_task(processor.process_update(Update.de_json(inline, None), handle("3")))
    await asyncio.wait_for(asyncio.gather(other, query), 5)
    assert done == ["2", "3"]  # chat 1's first update is still waiting
    release.set()
    await asyncio.wait_for(asyncio.gather(slow, later), 5)
    assert done == ["2", "3", "1a", "1b"]
    assert not processor._locks  # idle chats are forgotten
