"""Telegram handlers: each turns an update into a call to the search core and one reply."""

from __future__ import annotations

import logging

from telegram import LinkPreviewOptions, Update
from telegram.ext import ContextTypes

from bot.answer import answer, escape, fit_message, render_html, title_html
from bot.corpus import Article
from bot.search import Library
from bot.texts import Language, pick_language, text

log = logging.getLogger(__name__)

LIBRARY = "library"  # bot_data key of the Library the bot answers from
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
EXAMPLES = 3


def library_of(context: ContextTypes.DEFAULT_TYPE) -> Library:
    """Return the library that ``app.build_application`` put in ``bot_data``."""
    library: Library = context.bot_data[LIBRARY]
    return library


def language_of(update: Update) -> Language:
    """The language for fixed texts, from the user's Telegram client."""
    user = update.effective_user
    return pick_language(user.language_code if user else None)


async def reply_answer(update: Update, context: ContextTypes.DEFAULT_TYPE, question: str) -> None:
    """Answer ``question`` in reply to the update's message."""
    message = update.effective_message
    if message is None:
        return
    result = answer(library_of(context), question)
    await message.reply_text(
        render_html(result, language_of(update)), link_preview_options=NO_PREVIEW
    )


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Say what the bot knows and suggest questions drawn from the newest announcements."""
    message = update.effective_message
    if message is None:
        return
    lang = language_of(update)
    library = library_of(context)
    if not library.articles:
        await message.reply_text(text("empty_library", lang))
        return
    lines = [escape(text("welcome", lang, count=len(library.articles))), ""]
    lines.append(escape(text("examples", lang)))
    lines += [f"• /ask {escape(a.title)}" for a in newest(library)[:EXAMPLES]]
    lines += ["", text("help", lang)]
    await message.reply_text(fit_message("\n".join(lines)), link_preview_options=NO_PREVIEW)


async def help_command(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    """Explain how to ask and list the commands."""
    if update.effective_message:
        await update.effective_message.reply_text(text("help", language_of(update)))


async def sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the announcements, newest first, with their dates and links."""
    message = update.effective_message
    if message is None:
        return
    lang = language_of(update)
    articles = newest(library_of(context))
    if not articles:
        await message.reply_text(text("empty_library", lang))
        return
    lines = [escape(text("sources", lang, count=len(articles)))]
    for article in articles:
        date = f" ({article.date.isoformat()})" if article.date else ""
        lines.append(f"• {title_html(article)}{date}")
    await message.reply_text(fit_message("\n".join(lines)), link_preview_options=NO_PREVIEW)


async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer the question written after /ask."""
    message = update.effective_message
    if message is None:
        return
    question = " ".join(context.args or [])
    if not question:
        library = library_of(context)
        example = newest(library)[0].title if library.articles else "…"
        await message.reply_text(escape(text("ask_usage", language_of(update), example=example)))
        return
    await reply_answer(update, context, question)


async def private_question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer any text sent in a private chat."""
    if update.effective_message and update.effective_message.text:
        await reply_answer(update, context, update.effective_message.text)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure and tell the user, rather than leaving a question unanswered."""
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_message:
        await update.effective_message.reply_text(text("error", language_of(update)))


def newest(library: Library) -> list[Article]:
    """Articles newest first; undated ones last, in corpus order."""
    return sorted(library.articles, key=lambda a: a.date.toordinal() if a.date else 0, reverse=True)
