"""What the bot records about each question it answers or declines: for /stats and /unanswered."""

from __future__ import annotations

import asyncio

from bot.store import Store


async def question_done(
    store: Store, chat_id: int, question: str, *, answered: bool, seconds: float
) -> None:
    """Record a question, whether it was answered, and how long the reply took."""
    await asyncio.to_thread(
        store.record_question,
        chat_id=chat_id,
        question=question,
        answered=answered,
        seconds=seconds,
    )
