"""Build the Telegram application: one place that wires the handlers to the search core."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from typing import Any, TypeAlias

from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest, HTTPXRequest

from bot.config import Settings
from bot.core.corpus import Article
from bot.core.library import Library
from bot.core.live import changed, prepared
from bot.core.phrases import COMMANDS
from bot.logs import Throttle
from bot.store import AsyncStore, Store
from bot.tg import admin, changes, handlers, inline, jobs, keys
from bot.tg.channels import ChannelList, StoringBot
from bot.tg.metrics import METRICS, MeteredRequest, Metrics, serve_ops, stop_ops
from bot.tg.retry import RATE_LIMIT_RETRIES, RETRY_DELAYS, RetryingRequest
from bot.tg.updates import PerChatUpdates

log = logging.getLogger(__name__)

# PTB 22's RetryAfter reads its own ``retry_after`` while being built, which warns of the int it
# returns today on every 429 unless the process opts in to timedeltas. Nothing here reads the
# value (AIORateLimiter reads the timedelta), so opt in: a 429 logs one line, not a warning.
os.environ.setdefault("PTB_TIMEDELTA", "1")

# The application as ApplicationBuilder().build() makes it; its type parameters don't matter here.
App: TypeAlias = Application[Any, Any, Any, Any, Any, Any]

GROUP_RATE_LIMIT = 20  # messages a minute in one group

# The updates the handlers use. Named explicitly: without a list, Telegram keeps whatever an
# earlier deployment of the same bot asked for.
ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.CHANNEL_POST,
    Update.EDITED_CHANNEL_POST,
    Update.INLINE_QUERY,
    Update.CALLBACK_QUERY,
]


def build_application(
    settings: Settings,
    library: Library,
    *,
    store: Store | None = None,
    request: BaseRequest | None = None,
    updates_request: BaseRequest | None = None,
    retry_delays: Sequence[float] = RETRY_DELAYS,
) -> App:
    """Build the bot's ``Application``.

    Announcements kept in the store (channel posts) join ``library`` unless it has them already.
    Tests pass ``request`` to keep the bot off the network; the store defaults to the one in
    ``settings.data_dir``. Calls are retried as :mod:`bot.tg.retry` explains, waiting
    ``retry_delays`` between attempts.
    """
    if not settings.token:
        raise ValueError("a bot token is required")
    store = store or Store.open(settings.data_dir)
    stores = AsyncStore(store)
    channels = ChannelList(settings.channels)
    metrics = Metrics(stores)
    bot = StoringBot(
        settings.token,
        base_url=settings.base_url,
        # The sizes ApplicationBuilder would choose: many concurrent sends, one long poll.
        # Metered outside the retries: what fails after them is a failed call.
        request=MeteredRequest(
            RetryingRequest(request or HTTPXRequest(connection_pool_size=256), delays=retry_delays),
            metrics.api_errors,
        ),
        # Not retried here: the updater retries a failed poll itself.
        get_updates_request=MeteredRequest(
            updates_request or request or HTTPXRequest(), metrics.api_errors
        ),
        defaults=Defaults(parse_mode=ParseMode.HTML),
        rate_limiter=AIORateLimiter(
            overall_max_rate=settings.rate_limit,
            # Telegram's limit in a group, 20 messages a minute; off with the overall limit.
            group_max_rate=GROUP_RATE_LIMIT if settings.rate_limit else 0,
            max_retries=RATE_LIMIT_RETRIES,
        ),
        store=stores,
        channels=channels,
    )
    application = (
        ApplicationBuilder()
        .bot(bot)
        .concurrent_updates(PerChatUpdates())
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .build()
    )
    application.bot_data[keys.LIBRARY] = _with_stored(library, store.articles())
    application.bot_data[keys.STORE] = stores
    application.bot_data[keys.CHANNELS] = channels
    application.bot_data[METRICS] = metrics
    metrics.library = lambda: application.bot_data.get(keys.LIBRARY)
    application.bot_data[handlers.THROTTLE] = Throttle()
    # The admins' first: a document captioned /add is a command, not a captioned question.
    admin.add_handlers(application, settings)
    add_handlers(application)
    jobs.schedule(application, settings)
    return application


def _with_stored(library: Library, stored: list[Article]) -> Library:
    """``library`` with the ``stored`` announcements it lacks (and only then built again).

    `serve` builds them in already, last (:func:`bot.loading.with_stored`): then reading as many
    articles off the library's end as are stored finds them all, without making every article
    of a saved library (they are made when read).
    """
    count = len(library.articles)
    if not stored or (
        count >= len(stored) and list(library.articles[count - len(stored) :]) == stored
    ):
        return library
    current = {a.id: a for a in library.articles}
    missing = [a for a in stored if current.get(a.id) != a]
    return changed(library, added=missing) if missing else library


def add_handlers(application: App) -> None:
    """Route updates to their handlers; in groups, only what addresses the bot."""
    application.add_handler(
        MessageHandler(filters.UpdateType.CHANNEL_POSTS, handlers.channel_update)
    )
    application.add_handler(CommandHandler("start", handlers.start))
    application.add_handler(CommandHandler("help", handlers.help_command))
    application.add_handler(CommandHandler("sources", handlers.sources))
    application.add_handler(CommandHandler("latest", handlers.latest))
    application.add_handler(CommandHandler("ask", handlers.ask))
    text = filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND
    # In a private chat a photo's caption is a question like any text.
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & ~filters.COMMAND
    application.add_handler(
        MessageHandler(private & (filters.TEXT | filters.CAPTION), handlers.private_question)
    )
    application.add_handler(MessageHandler(filters.ChatType.GROUPS & text, handlers.group_message))
    application.add_handler(InlineQueryHandler(inline.inline_query))
    application.add_handler(CallbackQueryHandler(handlers.button, pattern=handlers.CALLBACK))
    application.add_handler(CallbackQueryHandler(handlers.stale_button))
    application.add_error_handler(handlers.on_error)


async def _post_init(application: App) -> None:
    """Publish the command menu, in English and in Chinese, and the admins' own; prepare the
    library for its first change.
    """
    # What a first change reads (every article's position) is made now, off the event loop: at
    # start-up it would delay serving (a saved library makes its articles only when read), and
    # made by the first channel post it would delay the question waiting for that post.
    asyncio.get_running_loop().run_in_executor(None, prepared, application.bot_data[keys.LIBRARY])
    for lang, commands in COMMANDS.items():
        await application.bot.set_my_commands(
            [BotCommand(name, description) for name, description in commands],
            language_code=None if lang == "en" else lang,
        )
    settings: Settings = application.bot_data[admin.SETTINGS]
    await admin.publish_commands(application.bot, settings.admin_ids)
    if settings.metrics_port is not None:
        port = serve_ops(
            application.bot_data,
            lambda: application.running,
            settings.listen,
            settings.metrics_port,
        )
        log.info("serving /healthz and /metrics on %s:%d", settings.listen, port)
    library: Library = application.bot_data[keys.LIBRARY]
    log.info("serving %d announcements in %d passages", len(library), len(library.passages))


async def _post_shutdown(application: App) -> None:
    """Stop the /healthz and /metrics server and any merge, finish the writes, close the store."""
    await stop_ops(application.bot_data)
    await changes.stop_merging(application.bot_data)
    store: AsyncStore = application.bot_data[keys.STORE]
    await asyncio.to_thread(store.close)
