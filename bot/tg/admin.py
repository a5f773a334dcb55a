"""Admin commands: /add, /delete, /reload, /stats, /unanswered, for the users in ADMIN_IDS only.

Anyone else gets a polite refusal and nothing changes. What an admin adds is stored (origin
``admin:<user id>``) before the library changes, so it survives a restart, and it is searchable as
soon as the reply says so. Input is checked before anything is stored: a document must be a
``.txt``, ``.md`` or ``.html`` file of at most ``MAX_DOCUMENT_BYTES``, UTF-8 text without NUL bytes
(the mark of a binary file), and make an article with a body.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from telegram import Bot, BotCommand, BotCommandScopeChat, Document, Message, Update
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

from bot.config import Settings
from bot.core.answer import escape, fit_message
from bot.core.corpus import (
    HTML_SUFFIXES,
    Article,
    CorpusError,
    load_corpus,
    parse_html,
    parse_text,
)
from bot.core.library import Library
from bot.core.phrases import ADMIN_COMMANDS, COMMANDS, text
from bot.tg.changes import change_library, sync_corpus
from bot.tg.handlers import language_of, library_of, store_of

log = logging.getLogger(__name__)

SETTINGS = "settings"  # bot_data key: the Settings the bot runs with
DOCUMENT_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm"})
UNANSWERED = 20  # questions /unanswered lists
_COMMAND_TEXT = re.compile(r"/\w+(?:@\w+)?\s*(.*)", re.S)
# A document whose caption is /add: Telegram sends it as a document, not as a command.
_ADD_CAPTION = re.compile(r"^/add(?:@\w+)?(?:\s|$)")

Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


class BadInput(ValueError):
    """What /add was given cannot become an announcement: the fixed text that says why."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


@dataclass(frozen=True, slots=True)
class Upload:
    """The text /add was given, and how to read it."""

    content: str
    suffix: str  # ".txt" for message text: each line stands alone, as the sender wrote it


def add_handlers(
    application: Application[Any, Any, Any, Any, Any, Any], settings: Settings
) -> None:
    """Register the admin commands; their menu is published by :func:`publish_commands`."""
    application.bot_data[SETTINGS] = settings
    for name, callback in (
        ("add", add),
        ("delete", delete),
        ("reload", reload),
        ("stats", stats),
        ("unanswered", unanswered),
    ):
        application.add_handler(CommandHandler(name, admin_only(callback)))
    application.add_handler(
        MessageHandler(filters.Document.ALL & filters.CaptionRegex(_ADD_CAPTION), admin_only(add))
    )


async def publish_commands(bot: Bot, admin_ids: frozenset[int]) -> None:
    """Show each admin the admin commands in their menu (a chat scope), in both languages."""
    for admin_id in sorted(admin_ids):
        for lang, commands in COMMANDS.items():
            menu = [BotCommand(n, d) for n, d in [*commands, *ADMIN_COMMANDS[lang]]]
            try:
                await bot.set_my_commands(
                    menu,
                    scope=BotCommandScopeChat(admin_id),
                    language_code=None if lang == "en" else lang,
                )
            except TelegramError as exc:  # an admin who never opened a chat with the bot
                log.warning("cannot set the admin menu of user %s: %s", admin_id, exc)
                break


def settings_of(context: ContextTypes.DEFAULT_TYPE) -> Settings:
    settings: Settings = context.bot_data[SETTINGS]
    return settings


def admin_only(callback: Handler) -> Handler:
    """Run ``callback`` for an admin; tell anyone else, politely, that it isn't for them."""

    async def guarded(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user, message = update.effective_user, update.effective_message
        if message is None:
            return
        if user is None or user.id not in settings_of(context).admin_ids:
            await message.reply_text(text("admin_only", language_of(update)))
            return
        await callback(update, context)

    return guarded


# --- /add --------------------------------------------------------------------------------------


async def add(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Store the announcement given after /add, in the replied-to message, or as a document."""
    message = update.effective_message
    assert message is not None  # admin_only checked it and the user
    assert message.from_user is not None
    limit = settings_of(context).max_document_bytes
    lang = language_of(update)
    try:
        upload = await _upload(message, limit)
        # Parsing up to MAX_DOCUMENT_BYTES of HTML takes CPU time: off the event loop.
        article = await asyncio.to_thread(
            _article, upload, f"admin/{message.chat_id}-{message.message_id}", message.date.date()
        )
    except BadInput as exc:
        reason = text(exc.key, lang, **{k: escape(str(v)) for k, v in exc.values.items()})
        await message.reply_text(text("add_refused", lang, reason=reason))
        return
    store = store_of(context)
    await store.write(store.store.save_article, article, origin=f"admin:{message.from_user.id}")
    await change_library(context.bot_data, added=[article])
    log.info("admin %s added %s: %s", message.from_user.id, article.id, article.title)
    await message.reply_text(
        text("added", lang, title=escape(article.title), id=escape(article.id))
    )


async def _upload(message: Message, limit: int) -> Upload:
    """What /add was given: a document (its own or the replied-to one), else text."""
    replied = message.reply_to_message
    document = message.document or (replied.document if replied else None)
    if document is not None:
        return await _document(document, limit)
    match = _COMMAND_TEXT.fullmatch(message.text or "")
    content = match[1].strip() if match else ""
    if not content and replied is not None:
        content = (replied.text or replied.caption or "").strip()
    if not content:
        raise BadInput("add_usage")
    if len(content.encode()) > limit:
        raise BadInput("add_too_large", limit=limit)
    return Upload(content, ".txt")


async def _document(document: Document, limit: int) -> Upload:
    suffix = PurePath(document.file_name or "").suffix.lower()
    if suffix not in DOCUMENT_SUFFIXES:
        raise BadInput("add_file_type")
    if document.file_size is not None and document.file_size > limit:
        raise BadInput("add_too_large", limit=limit)
    file = await document.get_file()
    data = bytes(await file.download_as_bytearray())
    if len(data) > limit:  # file_size is the sender's word; the bytes are the truth
        raise BadInput("add_too_large", limit=limit)
    if b"\0" in data:
        raise BadInput("add_binary")
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput("add_encoding", byte=exc.start) from None
    return Upload(content, suffix)


def _article(upload: Upload, article_id: str, today: dt.date) -> Article:
    """Parse the upload; an undated announcement takes the day it was added."""
    try:
        if upload.suffix in HTML_SUFFIXES:
            article = parse_html(upload.content, article_id)
        else:
            article = parse_text(upload.content, article_id, markdown=upload.suffix != ".txt")
    except CorpusError as exc:
        raise BadInput("add_unreadable", reason=exc) from None
    if article.date is None:
        article = dataclasses.replace(article, date=today)
    return article


# --- /delete, /reload --------------------------------------------------------------------------


async def delete(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Remove an announcement from the answers and from the store."""
    message = update.effective_message
    assert message is not None
    lang = language_of(update)
    article_id = " ".join(context.args or [])
    # Off the event loop: a saved library makes each article when it is first read.
    found = await asyncio.to_thread(article_by_id, library_of(context), article_id)
    if found is None:
        await message.reply_text(text("delete_unknown", lang, id=escape(article_id or "—")))
        return
    store = store_of(context)
    stored = await store.write(store.store.delete_article, article_id)
    await change_library(context.bot_data, removed=[article_id])
    note = "" if stored else text("deleted_corpus", lang)
    deleted = text("deleted", lang, title=escape(found.title), id=escape(article_id))
    await message.reply_text(deleted + note)


def article_by_id(library: Library, article_id: str) -> Article | None:
    """The served article ``article_id``, if there is one."""
    position = library.article_position.get(article_id)
    return None if position is None else library.articles[position]


async def reload(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Read the corpus folder again; stored announcements stay."""
    message = update.effective_message
    assert message is not None
    corpus = await asyncio.to_thread(load_corpus, settings_of(context).corpus)
    for problem in corpus.problems:
        log.warning("skipped %s", problem)
    change = await sync_corpus(context.bot_data, corpus.articles)
    lang = language_of(update)
    reply = text(
        "reloaded",
        lang,
        added=len(change.added),
        changed=len(change.changed),
        removed=len(change.removed),
    )
    if corpus.problems:
        reply += text("reload_problems", lang, count=len(corpus.problems))
    await message.reply_text(reply)


# --- /stats, /unanswered -----------------------------------------------------------------------


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Articles, passages, index size, today's questions, answer time and feedback."""
    message = update.effective_message
    assert message is not None
    library = library_of(context)
    store = store_of(context)
    midnight = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    today = await store.read(store.store.question_stats, midnight)
    up, down = await store.read(store.store.feedback_totals)
    lang = language_of(update)
    reply = text(
        "stats",
        lang,
        articles=len(library.articles),
        passages=library.passage_count,
        # A library changed in segments makes its vocabulary when first asked: off the loop.
        terms=await asyncio.to_thread(lambda: len(library.index.vocabulary)),
        questions=today.questions,
    )
    if today.questions:
        answered = round(100 * today.answered / today.questions)
        ms = round(1000 * (today.median_seconds or 0))
        reply += text("stats_shares", lang, answered=answered, declined=100 - answered, ms=ms)
    reply += "\n" + text("stats_feedback", lang, up=up, down=down)
    await message.reply_text(reply)


async def unanswered(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The latest questions the bot declined: what the announcements miss."""
    message = update.effective_message
    assert message is not None
    store = store_of(context)
    questions = await store.read(store.store.unanswered, UNANSWERED)
    lang = language_of(update)
    if not questions:
        await message.reply_text(text("unanswered_none", lang))
        return
    lines = [text("unanswered", lang)]
    lines += [f"• {escape(q.question)}" for q in questions]
    await message.reply_text(fit_message("\n".join(lines)))
