"""Channel posts as announcements: which channels count, and how a post becomes an article.

A post is stored before Telegram is told it was received. With long polling, ``getUpdates``
confirms the previous batch only when it asks for the next, so :class:`StoringBot` saves a batch's
channel posts before returning it to the updater: a crash at any point either leaves the post
unconfirmed (Telegram sends it again) or already stored.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from telegram import Chat, Message, MessageEntity, Update
from telegram.error import NetworkError
from telegram.ext import ExtBot

from bot.core.corpus import Article
from bot.store import AsyncStore, StoreError

log = logging.getLogger(__name__)

TITLE_CHARS = 120


class ChannelList:
    """The channels listed in ``CHANNELS``, by id or @username; others are ignored, logged once."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.ids = {int(e) for e in entries if e.lstrip("-").isdigit()}
        self.usernames = {e.lstrip("@").casefold() for e in entries if not e.lstrip("-").isdigit()}
        self._ignored: set[int] = set()

    def accepts(self, chat: Chat) -> bool:
        """Whether posts of ``chat`` are announcements; log the first post of an unlisted one."""
        if chat.id in self.ids or (chat.username or "").casefold() in self.usernames:
            return True
        if chat.id not in self._ignored:
            self._ignored.add(chat.id)
            log.warning(
                "ignoring posts of channel %s (%s): not listed in CHANNELS",
                chat.id,
                chat.username or chat.title,
            )
        return False


def channel_post(update: Update) -> Message | None:
    """The channel post (new or edited) an update carries, if any."""
    return update.channel_post or update.edited_channel_post


def article_id(chat_id: int, message_id: int) -> str:
    return f"telegram/{chat_id}/{message_id}"


def article_from_post(post: Message) -> Article | None:
    """Turn a channel post into an article; None for a post with no text or caption.

    The title is the post's leading bold text, or else its first line; the link is the post's
    public t.me address when the channel has a username.
    """
    body = post.text or post.caption
    if not body or not body.strip():
        return None
    entities = post.entities if post.text else post.caption_entities
    title = _bold_heading(post, entities) or body.strip().split("\n", 1)[0].strip()
    rest = body.strip()[len(title) :].strip() if body.strip().startswith(title) else body.strip()
    if len(title) > TITLE_CHARS:
        title = title[: TITLE_CHARS - 1].rstrip() + "…"
    username = post.chat.username
    return Article(
        id=article_id(post.chat.id, post.message_id),
        title=title,
        text=rest or body.strip(),
        date=post.date.date(),
        url=f"https://t.me/{username}/{post.message_id}" if username else None,
    )


def _bold_heading(post: Message, entities: Sequence[MessageEntity]) -> str | None:
    for entity in entities:
        if entity.type == MessageEntity.BOLD and entity.offset == 0:
            parsed = post.parse_entity(entity) if post.text else post.parse_caption_entity(entity)
            return parsed.strip() or None
    return None


class StoringBot(ExtBot[None]):
    """An ExtBot that stores the channel posts of each ``getUpdates`` batch before returning it."""

    def __init__(self, *args: Any, store: AsyncStore, channels: ChannelList, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._store = store
        self._channels = channels

    async def get_updates(self, *args: Any, **kwargs: Any) -> tuple[Update, ...]:
        updates = await super().get_updates(*args, **kwargs)
        for update in updates:
            if (found := listed_post(update, self._channels)) is not None:
                # Awaited: the batch is confirmed only once its posts are stored. This holds up
                # the next poll while the database is busy, never the answers.
                try:
                    await self._store.write(
                        self._store.store.save_article, found[0], origin=found[1]
                    )
                except StoreError as exc:
                    # A Telegram error, so that the updater polls again (and gets the same batch,
                    # unconfirmed) instead of ending: any other exception would stop polling.
                    raise PostsNotStored(
                        f"channel posts not stored, fetching again: {exc}"
                    ) from exc
        return updates


class PostsNotStored(NetworkError):
    """A batch of updates was not returned: a channel post in it could not be stored."""


def listed_post(update: Update, channels: ChannelList) -> tuple[Article, str] | None:
    """The article the update's channel post makes, and its origin, if its channel is listed."""
    post = channel_post(update)
    if post is None or not channels.accepts(post.chat):
        return None
    article = article_from_post(post)
    return None if article is None else (article, f"channel:{post.chat.id}")
