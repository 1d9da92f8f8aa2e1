"""Builds the python-telegram-bot ``Application``: handlers, jobs, start-up and shutdown.

The same :func:`running` context manager serves ``newsbot run``, ``newsbot demo`` and the
end-to-end tests, so what the tests drive is exactly what users run.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from telegram import Update
from telegram.error import Conflict, NetworkError, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.config import Settings
from bot.delivery import Deliverer, DeliveryLockHeld
from bot.handlers import (
    admin,
    browse,
    help,
    inline,
    language,
    membership,
    subscriptions,
    topics,
)
from bot.i18n import LANGUAGES, _, use_language
from bot.ingest import Ingestor
from bot.poller import SourcePoller
from bot.retry import RetryAfter429
from bot.search import SearchIndex
from bot.services import Services, attach, services
from bot.store import Store
from bot.topics import TopicMatcher

log = logging.getLogger(__name__)

#: Passed explicitly so an old setting on Telegram's side can never filter these out.
ALLOWED_UPDATES: list[str] = [
    Update.MESSAGE, Update.CHANNEL_POST, Update.CALLBACK_QUERY,
    Update.INLINE_QUERY, Update.MY_CHAT_MEMBER,
]

#: Tries of getMe at start-up before giving up (waits 1, 2, 4, 8 s in between).
STARTUP_ATTEMPTS = 5

#: Commands are answered in new messages and channel posts, not when a message is edited.
COMMAND_UPDATES = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST


def build_application(settings: Settings) -> Application[Any, Any, Any, Any, Any, Any]:
    """An application for these settings (not started; see :func:`running`)."""
    timeout = settings.telegram.poll_timeout
    app = (
        ApplicationBuilder()
        .token(settings.require_token())
        .base_url(settings.telegram.api_base_url)
        .base_file_url(file_url(settings.telegram.api_base_url))
        .get_updates_read_timeout(timeout + 10)
        .read_timeout(settings.delivery.request_timeout)
        .write_timeout(settings.delivery.request_timeout)
        .concurrent_updates(True)
        .rate_limiter(RetryAfter429())
        .build()
    )
    app.bot_data["settings"] = settings
    register_handlers(app)
    return app


def file_url(api_base_url: str) -> str:
    """The Bot API's file URL next to its method URL (``.../bot`` -> ``.../file/bot``)."""
    if "/bot{token}" in api_base_url:
        return api_base_url.replace("/bot{token}", "/file/bot{token}", 1)
    head, _, tail = api_base_url.rpartition("/bot")
    return f"{head}/file/bot{tail}" if _ else api_base_url + "/file"


def register_handlers(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Wire every command, button and update type to its handler."""
    def command(name: str | list[str], callback: Any) -> None:
        app.add_handler(CommandHandler(name, callback, filters=COMMAND_UPDATES))

    # Before every other handler: the language this update is answered in.
    app.add_handler(TypeHandler(Update, language.set_update_language), group=-1)

    command("start", help.start)
    command("help", help.help_command)
    command("latest", browse.latest)
    command("search", browse.search)
    command("subscribe", subscriptions.subscribe)
    command("unsubscribe", subscriptions.unsubscribe)
    command("subscriptions", subscriptions.list_subscriptions)
    command("topics", topics.topics)
    command("stats", admin.stats)
    command("language", language.language_command)
    app.add_handler(CallbackQueryHandler(browse.more, pattern=f"^{browse.MORE_PREFIX}"))
    app.add_handler(CallbackQueryHandler(subscriptions.remove_button,
                                         pattern=f"^{subscriptions.REMOVE_PREFIX}"))
    app.add_handler(CallbackQueryHandler(topics.topic_button, pattern=f"^{topics.TOPIC_PREFIX}"))
    app.add_handler(CallbackQueryHandler(language.language_button,
                                         pattern=f"^{language.LANGUAGE_PREFIX}"))
    app.add_handler(CallbackQueryHandler(help.stale_button))  # after every other button
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    app.add_handler(MessageHandler(private & filters.COMMAND, help.unknown_command))
    app.add_handler(MessageHandler(private & filters.TEXT & ~filters.COMMAND, browse.plain_text))
    app.add_handler(InlineQueryHandler(inline.inline_query))
    app.add_handler(ChatMemberHandler(membership.my_chat_member,
                                      ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, membership.migrated))
    app.add_error_handler(on_error)


async def open_services(settings: Settings, *, load_index: bool = True) -> Services:
    """Open the store and build the search index from what it holds.

    Without ``load_index`` the index starts empty (for ``newsbot import``, which only writes).
    """
    store = await Store.open(settings.storage.database)
    topics = (TopicMatcher.from_file(settings.topics_file) if settings.topics_file.is_file()
              else TopicMatcher.default())
    ingestor = Ingestor(store, SearchIndex(), topics)
    if not load_index:
        return Services(settings, store, ingestor.index, topics, ingestor)
    await ingestor.load_index()
    # The index is millions of long-lived objects; without this, every full collection
    # walks them all again (pauses of 60-260 ms at 100,000 releases).
    gc.freeze()
    return Services(settings, store, ingestor.index, topics, ingestor)


@asynccontextmanager
async def running(app: Application[Any, Any, Any, Any, Any, Any], *,
                  poll_interval: float = 0.0) -> AsyncIterator[Services]:
    """Start the bot: getMe, store, sources, commands, jobs, long polling; stop it on exit.

    Raises :class:`DeliveryLockHeld` when another process already delivers from this store.
    """
    settings: Settings = app.bot_data["settings"]
    svc = await open_services(settings)
    attach(app.bot_data, svc)
    poller = SourcePoller(settings.sources, svc.store, svc.ingestor)
    deliverer = Deliverer(app.bot, svc.store, settings.delivery, svc.ingestor.deliveries_added,
                          languages=svc.languages)
    try:
        await deliverer.acquire_lock()
        await _initialize(app)
        async with app:  # already initialized: this only arranges the shutdown
            await poller.poll_all()
            await _register_commands(app)
            jobs = app.job_queue
            assert jobs is not None, "install python-telegram-bot[job-queue]"
            jobs.run_repeating(_poll_job, interval=settings.sources.poll_seconds,
                               first=settings.sources.poll_seconds, data=poller,
                               name="poll-sources", job_kwargs={"max_instances": 1})
            assert app.updater is not None
            await app.start()
            try:
                deliverer.start()
                await app.updater.start_polling(
                    poll_interval=poll_interval, timeout=settings.telegram.poll_timeout,
                    allowed_updates=ALLOWED_UPDATES, error_callback=_polling_error,
                    bootstrap_retries=STARTUP_ATTEMPTS)
                yield svc
            finally:
                # Also reached when polling never started: stop exactly what did start.
                if app.updater.running:
                    await app.updater.stop()
                await deliverer.stop()
                await app.stop()
    finally:
        await deliverer.release_lock()
        await poller.close()
        await svc.store.close()


async def _initialize(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """getMe and friends; a Bot API that is briefly down (5xx, timeouts) is retried.

    A refused token (401, :class:`InvalidToken`) is final and raised at once.
    """
    for attempt in range(1, STARTUP_ATTEMPTS + 1):
        try:
            await app.initialize()
            return
        except NetworkError as exc:
            if attempt == STARTUP_ATTEMPTS:
                raise
            delay = 2.0 ** (attempt - 1)
            log.warning("the Bot API did not answer getMe (%s); retrying in %.0f s", exc, delay)
            await asyncio.sleep(delay)


async def _register_commands(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """The command list in each language (English also as the default for everyone else)."""
    for lang in LANGUAGES:
        with use_language(lang):
            commands = help.bot_commands()
        try:
            await app.bot.set_my_commands(commands, language_code=None if lang == "en" else lang)
        except TelegramError as exc:  # clients then lack the menu, but the bot still works
            log.warning("could not register the command list (%s): %s", lang, exc)


async def _poll_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    poller: SourcePoller = context.job.data  # type: ignore[union-attr,assignment]
    await poller.poll_all()
    await poller.ingestor.refresh_index()


def _polling_error(error: TelegramError) -> None:
    if isinstance(error, Conflict):
        log.error("Telegram says another process is polling with this bot token (409 "
                  "Conflict). Stop the other newsbot; this one keeps retrying.")
    else:
        log.warning("polling error (retrying): %s", error)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log any handler failure and tell the user something went wrong, never crash."""
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_message is not None:
        with contextlib.suppress(TelegramError):
            await update.effective_message.reply_text(
                _("Sorry, something went wrong on my side. Please try again."), do_quote=False)


__all__ = ["ALLOWED_UPDATES", "DeliveryLockHeld", "build_application", "running", "services"]
