"""Build the Telegram application: one place that wires the handlers to the search core."""

from __future__ import annotations

import logging
from typing import Any, TypeAlias

from telegram import BotCommand
from telegram.constants import ParseMode
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CommandHandler,
    Defaults,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot import handlers
from bot.config import Settings
from bot.search import Library
from bot.texts import COMMANDS

log = logging.getLogger(__name__)

# The application as ApplicationBuilder().build() makes it; its type parameters don't matter here.
App: TypeAlias = Application[Any, Any, Any, Any, Any, Any]


def build_application(
    settings: Settings,
    library: Library,
    *,
    request: BaseRequest | None = None,
    updates_request: BaseRequest | None = None,
) -> App:
    """Build the bot's ``Application``; tests pass ``request`` to keep it off the network."""
    if not settings.token:
        raise ValueError("a bot token is required")
    builder = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(settings.base_url)
        .defaults(Defaults(parse_mode=ParseMode.HTML))
        .rate_limiter(AIORateLimiter())
        .post_init(_post_init)
    )
    if request is not None:
        builder = builder.request(request).get_updates_request(updates_request or request)
    application = builder.build()
    application.bot_data[handlers.LIBRARY] = library
    add_handlers(application)
    return application


def add_handlers(application: App) -> None:
    """Route commands and private-chat questions to their handlers."""
    application.add_handler(CommandHandler("start", handlers.start))
    application.add_handler(CommandHandler("help", handlers.help_command))
    application.add_handler(CommandHandler("sources", handlers.sources))
    application.add_handler(CommandHandler("ask", handlers.ask))
    application.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, handlers.private_question
        )
    )
    application.add_error_handler(handlers.on_error)


async def _post_init(application: App) -> None:
    """Publish the command menu, in English and in Chinese."""
    for lang, commands in COMMANDS.items():
        await application.bot.set_my_commands(
            [BotCommand(name, description) for name, description in commands],
            language_code=None if lang == "en" else lang,
        )
    library: Library = application.bot_data[handlers.LIBRARY]
    log.info("serving %d announcements in %d passages", len(library), len(library.passages))
