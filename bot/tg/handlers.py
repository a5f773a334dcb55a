"""Telegram handlers: each turns an update into a call to the search core and one reply."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatType
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import ContextTypes

from bot.core.answer import Answer, answer, escape, fit_message, render_html, title_html
from bot.core.corpus import Article, newest_first
from bot.core.library import Library
from bot.core.phrases import Language, pick_language, text
from bot.logs import Throttle
from bot.store import AsyncStore, StoreError, new_token
from bot.tg import metrics
from bot.tg.changes import change_library
from bot.tg.channels import ChannelList, listed_post
from bot.tg.keys import CHANNELS, LIBRARY, PENDING_POSTS, STORE
from bot.tg.retry import MaybeDelivered

log = logging.getLogger(__name__)

# bot_data keys, set up in app.build_application.
THROTTLE = "throttle"  # a bot.logs.Throttle for the error handler's log lines
CONFLICT_REPORTED = "conflict_reported"

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
EXAMPLES = 3
LATEST = 10
SOURCES_PER_PAGE = 20

# Callback data (at most 64 bytes): "more:<answer token>:<page>", "vote:<answer token>:<+1|-1>",
# "src:<page>". Everything else lives in the store, so buttons work after a restart. The token is
# random (store.new_token), so nobody opens another chat's answer by guessing its id; page numbers
# have at most PAGE_DIGITS digits, so no crafted number overflows what it indexes.
MORE, VOTE, SOURCES = "more", "vote", "src"
PAGE_DIGITS = 4
_TOKEN = r"[A-Za-z0-9_-]{16}"
_PAGE = rf"\d{{1,{PAGE_DIGITS}}}"
CALLBACK = re.compile(rf"^(?:{MORE}:{_TOKEN}:{_PAGE}|{VOTE}:{_TOKEN}:[+-]1|{SOURCES}:{_PAGE})$")


def library_of(context: ContextTypes.DEFAULT_TYPE) -> Library:
    """Return the library that ``app.build_application`` put in ``bot_data``."""
    library: Library = context.bot_data[LIBRARY]
    return library


def store_of(context: ContextTypes.DEFAULT_TYPE) -> AsyncStore:
    store: AsyncStore = context.bot_data[STORE]
    return store


def language_of(update: Update) -> Language:
    """The language for fixed texts, from the user's Telegram client."""
    user = update.effective_user
    return pick_language(user.language_code if user else None)


def newest(library: Library) -> list[Article]:
    """Articles newest first; undated ones last, in corpus order."""
    return newest_first(library.articles)


async def newest_off_loop(library: Library) -> list[Article]:
    """:func:`newest`, read in a worker thread: a saved library makes each article when it is
    first read, seconds for all of 100k, and the event loop must go on answering meanwhile."""
    return await asyncio.to_thread(newest, library)


# --- Questions ---------------------------------------------------------------------------------


async def reply_answer(
    update: Update, context: ContextTypes.DEFAULT_TYPE, question: str, follow_up: str = ""
) -> None:
    """Answer ``question`` (read in the light of ``follow_up``) in reply to the message."""
    message = update.effective_message
    if message is None:
        return
    started = time.perf_counter()
    lang = language_of(update)
    # Answering embeds the question and ranks every passage: CPU work, kept off the event loop.
    await posts_indexed(context)
    result = await asyncio.to_thread(answer, library_of(context), question, context=follow_up)
    token = new_token()
    sent = await message.reply_text(
        render_html(result, lang),
        link_preview_options=NO_PREVIEW,
        reply_markup=answer_keyboard(token, result, lang) if result.answered else None,
        # In a busy group the answer must show which question it answers.
        reply_parameters=None
        if message.chat.type == ChatType.PRIVATE
        else ReplyParameters(message.message_id, allow_sending_without_reply=True),
    )
    if result.answered:
        # Recorded after sending, without waiting: a busy database costs this answer's buttons
        # (they say "no longer available"), never the answer or the next update.
        store = store_of(context)
        store.write_later(
            "an answer (its buttons won't work)",
            store.store.record_answer,
            chat_id=message.chat_id,
            question=question,
            context=follow_up,
            source_ids=[a.id for a in result.sources],
            token=token,
            message=(sent.chat_id, sent.message_id),
        )
    recorder: metrics.Metrics = context.bot_data[metrics.METRICS]
    recorder.question_done(
        message.chat_id, question, answered=result.answered, seconds=time.perf_counter() - started
    )


def answer_keyboard(token: str, result: Answer, lang: Language) -> InlineKeyboardMarkup:
    """Buttons under an answer: page through the other matches, and 👍 / 👎."""
    row = []
    if result.page > 0:
        row.append(
            InlineKeyboardButton(
                text("previous", lang), callback_data=f"{MORE}:{token}:{result.page - 1}"
            )
        )
    if result.page + 1 < len(result.matches):
        row.append(
            InlineKeyboardButton(
                text("more", lang), callback_data=f"{MORE}:{token}:{result.page + 1}"
            )
        )
    votes = [
        InlineKeyboardButton("👍", callback_data=f"{VOTE}:{token}:+1"),
        InlineKeyboardButton("👎", callback_data=f"{VOTE}:{token}:-1"),
    ]
    return InlineKeyboardMarkup([row, votes] if row else [votes])


async def follow_up_of(message: Message, context: ContextTypes.DEFAULT_TYPE) -> str | None:
    """The earlier question a reply to one of the bot's answers refers to; None if not a reply."""
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or replied.from_user.id != context.bot.id:
        return None
    store = store_of(context)
    try:
        record = await store.read(
            store.store.answer_for_message, replied.chat_id, replied.message_id
        )
    except StoreError as exc:
        log.warning("follow-up read as a new question: %s", exc)
        return ""
    if record is None:
        return ""  # a reply to another of the bot's messages: a question with no context
    return f"{record.context} {record.question}".strip()


async def private_question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer any text (or caption) sent in a private chat; a reply to an answer is a follow-up."""
    message = update.effective_message
    question = (message.text or message.caption) if message else None
    if message and question:
        follow_up = await follow_up_of(message, context)
        await reply_answer(update, context, question, follow_up or "")


async def group_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a group message that mentions the bot or replies to it; ignore all other chatter."""
    message = update.effective_message
    if message is None or not message.text or message.is_automatic_forward:
        return
    follow_up = await follow_up_of(message, context)
    question = strip_mention(message, context.bot.username)
    if question is None and follow_up is None:
        return
    if question == "" and not follow_up:
        await reply_usage(update, context)  # a bare mention: say how to ask
        return
    await reply_answer(update, context, question or message.text, follow_up or "")


def strip_mention(message: Message, username: str) -> str | None:
    """The message's text without its @mentions of the bot; None if it doesn't mention the bot."""
    mention = f"@{username}".casefold()
    spans = [
        (e.offset, e.length)
        for e, value in message.parse_entities([MessageEntity.MENTION]).items()
        if value.casefold() == mention
    ]
    if not spans or message.text is None:
        return None
    # Entity offsets count UTF-16 code units.
    encoded = message.text.encode("utf-16-le")
    for offset, length in sorted(spans, reverse=True):
        encoded = encoded[: 2 * offset] + encoded[2 * (offset + length) :]
    return " ".join(encoded.decode("utf-16-le").split())


# --- Commands ----------------------------------------------------------------------------------


async def _listing(
    update: Update, context: ContextTypes.DEFAULT_TYPE
) -> tuple[Message, Language, Library] | None:
    """The message to reply to, the user's language and the library; None if there's no reply
    to make, or after saying that no announcements are loaded."""
    message = update.effective_message
    if message is None:
        return None
    lang = language_of(update)
    library = library_of(context)
    if not library.articles:
        await message.reply_text(text("empty_library", lang))
        return None
    return message, lang, library


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Say what the bot knows and suggest questions drawn from the newest announcements."""
    if (listing := await _listing(update, context)) is None:
        return
    message, lang, library = listing
    lines = [escape(text("welcome", lang, count=len(library.articles))), ""]
    lines.append(escape(text("examples", lang)))
    lines += [f"• /ask {escape(a.title)}" for a in (await newest_off_loop(library))[:EXAMPLES]]
    lines += ["", text("help", lang)]
    await message.reply_text(fit_message("\n".join(lines)), link_preview_options=NO_PREVIEW)


async def help_command(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    """Explain how to ask and list the commands."""
    if update.effective_message:
        await update.effective_message.reply_text(text("help", language_of(update)))


async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer the question written after /ask."""
    message = update.effective_message
    if message is None:
        return
    question = " ".join(context.args or [])
    if not question:
        await reply_usage(update, context)
        return
    follow_up = await follow_up_of(message, context)
    await reply_answer(update, context, question, follow_up or "")


async def reply_usage(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show how to ask, with the newest announcement's title as the example question."""
    if update.effective_message is None:
        return
    library = library_of(context)
    example = (await newest_off_loop(library))[0].title if library.articles else "…"
    usage = escape(text("ask_usage", language_of(update), example=example))
    await update.effective_message.reply_text(usage)


def article_line(article: Article) -> str:
    date = f" ({article.date.isoformat()})" if article.date else ""
    return f"• {title_html(article)}{date}"


async def latest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the newest announcements."""
    if (listing := await _listing(update, context)) is None:
        return
    message, lang, library = listing
    articles = (await newest_off_loop(library))[:LATEST]
    lines = [escape(text("latest", lang)), *map(article_line, articles)]
    await message.reply_text(fit_message("\n".join(lines)), link_preview_options=NO_PREVIEW)


def sources_page(
    library: Library, page: int, lang: Language
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of /sources, newest first, with buttons to the neighbouring pages."""
    articles = newest(library)
    pages = max(1, -(-len(articles) // SOURCES_PER_PAGE))
    page = min(max(page, 0), pages - 1)
    header = escape(text("sources", lang, count=len(articles)))
    if pages > 1:
        header += " " + escape(text("page", lang, page=page + 1, pages=pages))
    shown = articles[page * SOURCES_PER_PAGE : (page + 1) * SOURCES_PER_PAGE]
    row = []
    if page > 0:
        row.append(
            InlineKeyboardButton(text("previous_page", lang), callback_data=f"{SOURCES}:{page - 1}")
        )
    if page + 1 < pages:
        row.append(
            InlineKeyboardButton(text("next_page", lang), callback_data=f"{SOURCES}:{page + 1}")
        )
    markup = InlineKeyboardMarkup([row]) if row else None
    return fit_message("\n".join([header, *map(article_line, shown)])), markup


async def sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the announcements, newest first, with their dates and links, a page at a time."""
    if (listing := await _listing(update, context)) is None:
        return
    message, lang, library = listing
    body, markup = await asyncio.to_thread(sources_page, library, 0, lang)
    await message.reply_text(body, link_preview_options=NO_PREVIEW, reply_markup=markup)


# --- Buttons -----------------------------------------------------------------------------------


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Page through matches or /sources, or store a 👍 / 👎, from a button under a message."""
    query = update.callback_query
    if query is None:
        return
    if not query.data or not CALLBACK.match(query.data):  # PTB routes empty data here too
        await stale_button(update, context)
        return
    lang = language_of(update)
    kind, *args = query.data.split(":")
    if kind == SOURCES:
        body, markup = await asyncio.to_thread(
            sources_page, library_of(context), int(args[0]), lang
        )
        await _edit(
            query.edit_message_text(body, link_preview_options=NO_PREVIEW, reply_markup=markup)
        )
        await query.answer()
        return
    store = store_of(context)
    try:
        record = await store.read(store.store.answer_by_token, args[0])
    except StoreError as exc:
        log.warning("button press not served: %s", exc)
        record = None
    # An answer's buttons work only in the chat it was sent to: a forwarded copy's don't.
    if record is None or query.message is None or query.message.chat.id != record.chat_id:
        await query.answer(text("expired", lang))
        return
    if kind == VOTE:
        vote = int(args[1])
        store.write_later("a vote", store.store.save_feedback, record.id, query.from_user.id, vote)
        await query.answer(text("thanks", lang))
        return
    result = await asyncio.to_thread(
        answer, library_of(context), record.question, context=record.context, page=int(args[1])
    )
    if not result.answered:
        await query.answer(text("expired", lang))
        return
    await _edit(
        query.edit_message_text(
            render_html(result, lang),
            link_preview_options=NO_PREVIEW,
            reply_markup=answer_keyboard(record.token, result, lang),
        )
    )
    await query.answer(text("match", lang, page=result.page + 1, pages=len(result.matches)))


async def stale_button(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stop the spinner of a button whose data no handler knows (an old or forged button)."""
    if update.callback_query:
        await update.callback_query.answer(text("expired", language_of(update)))


async def _edit(edit: Awaitable[object]) -> None:
    """Await an edit; a double tap that leaves the message as it was is not an error."""
    try:
        await edit
    except BadRequest as exc:
        if "not modified" not in str(exc).casefold():
            raise


# --- Channels ----------------------------------------------------------------------------------


async def channel_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Make a post of a listed channel an announcement, searchable at once; an edit replaces it."""
    channels: ChannelList = context.bot_data[CHANNELS]
    found = listed_post(update, channels)
    if found is None:
        return
    article, origin = found
    # Usually stored already by StoringBot; storing again is a no-op, and covers webhooks.
    store = store_of(context)
    store.write_later(
        f"channel post {article.id}", store.store.save_article, article, origin=origin
    )
    # Indexing (and embedding) the post is CPU work, off the event loop; it touches only the post
    # (bot.tg.changes), so it takes milliseconds even while a large change or a merge runs.
    indexing = asyncio.ensure_future(change_library(context.bot_data, added=[article]))
    pending: set[asyncio.Future[Library]] = context.bot_data.setdefault(PENDING_POSTS, set())
    pending.add(indexing)
    indexing.add_done_callback(pending.discard)
    await indexing
    log.info("indexed channel post %s: %s", article.id, article.title)


async def posts_indexed(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Wait for the channel posts that arrived before a question to be searchable.

    Updates of different chats are handled at once, so a question may start while a post sent
    just before it is still being indexed off the event loop; a post is one article, indexed in
    milliseconds (a fraction of a second with its embeddings), and the question must see it.
    """
    pending: set[asyncio.Future[Library]] = context.bot_data.get(PENDING_POSTS, set())
    if pending:
        await asyncio.wait(set(pending))


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure and tell the user, rather than leaving a question unanswered.

    A network or Telegram failure (polling or sending, already retried) is one log line, at most
    one a minute of each kind; a 409 Conflict is explained once; a bug gets its traceback. No
    apology for an answer that most likely arrived (MaybeDelivered), nor to a user who blocked
    the bot (Forbidden): the first would contradict the answer, the second can't be sent.
    """
    error = context.error
    if isinstance(error, Conflict):
        if not context.bot_data.get(CONFLICT_REPORTED):
            context.bot_data[CONFLICT_REPORTED] = True
            log.error(
                "Telegram refuses to deliver updates (409 Conflict): another process is polling"
                " with this bot's token. Only one may run: stop the other one (retrying)."
            )
        return
    # PTB makes a 400 Bad Request a NetworkError too; but it is no passing failure: a bug.
    if isinstance(error, NetworkError | RetryAfter) and not isinstance(error, BadRequest):
        throttle: Throttle = context.bot_data[THROTTLE]
        skipped = throttle(type(error).__name__)
        if skipped is not None:
            doing = "polling for updates" if update is None else "answering an update"
            more = f" ({skipped} more like it since the last report)" if skipped else ""
            log.warning("%s failed: %s%s", doing, error, more)
    else:
        log.error("error while handling an update", exc_info=error)
    if isinstance(error, MaybeDelivered | Forbidden):
        return
    if isinstance(update, Update) and update.effective_message and update.effective_chat:
        if update.effective_chat.type == ChatType.CHANNEL:
            return
        try:
            await update.effective_message.reply_text(text("error", language_of(update)))
        except TelegramError as exc:  # the failure above has been logged already, in full
            log.warning("the apology could not be sent either: %s", exc)
