"""Builds the python-telegram-bot ``Application``: handlers, jobs, start-up and shutdown.

The same :func:`running` context manager serves ``newsbot run``, ``newsbot demo`` and the
end-to-end tests, so what the tests drive is exactly what users run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
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

from bot import metrics
from bot.budget import SharedSlots
from bot.cluster import Coordinator
from bot.config import ConfigError, Settings
from bot.delivery import Deliverer, DeliveryLockHeld
from bot.handlers import (
    admin,
    browse,
    digest,
    help,
    inline,
    language,
    membership,
    subscriptions,
    topics,
)
from bot.handlers.common import store_failure_text
from bot.i18n import LANGUAGES, _, use_language
from bot.ingest import Ingestor
from bot.lane import Lane
from bot.poller import SourcePoller
from bot.search import SearchIndex
from bot.search.keeper import IndexKeeper, snapshot_path
from bot.server import HttpServer
from bot.services import Services, attach, services
from bot.store import Store, StoreGone, StoreUnavailable, process_identity
from bot.topics import TopicMatcher

log = logging.getLogger(__name__)

#: Passed explicitly so an old setting on Telegram's side can never filter these out.
ALLOWED_UPDATES: list[str] = [
    Update.MESSAGE, Update.CHANNEL_POST, Update.CALLBACK_QUERY,
    Update.INLINE_QUERY, Update.MY_CHAT_MEMBER,
]

#: Tries of getMe at start-up before giving up (waits 1, 2, 4, 8 s in between).
STARTUP_ATTEMPTS = 5

#: How often the SQLite file's identity is checked (it is also checked before every write).
STORE_CHECK_SECONDS = 1.0

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
        .request(metrics.InstrumentedRequest(read_timeout=settings.delivery.request_timeout,
                                             write_timeout=settings.delivery.request_timeout,
                                             connection_pool_size=256))
        .concurrent_updates(True)
        # Every message, replies and alerts alike, takes a slot of this one lane.
        .rate_limiter(Lane.from_settings(settings.delivery))
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
    command("digest", digest.digest_command)
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
    # Its own group (a group runs only its first matching handler): counts, then on.
    app.add_handler(TypeHandler(Update, metrics.count_update), group=-2)
    app.add_error_handler(on_error)


async def open_services(settings: Settings, *, load_index: bool = True) -> Services:
    """Open the store and load the search index (from its snapshot when one fits).

    Without ``load_index`` the index starts empty: for ``newsbot import``, which only writes,
    and for :func:`running`, which loads it in the background once the bot is up.
    """
    store = await Store.open(settings.storage.database)
    try:
        topics = (TopicMatcher.from_file(settings.topics_file) if settings.topics_file.is_file()
                  else TopicMatcher.default())
        # Search knows the taxonomy too, so "/search OSH" finds what the topic "OSH" matches.
        ingestor = Ingestor(store, SearchIndex(synonyms=topics.synonyms), topics)
        if load_index:
            await IndexKeeper(ingestor, snapshot_path(settings)).load(save=False)
    except BaseException:
        # An open store keeps a worker thread that would keep the process from exiting.
        await store.close()
        raise
    return Services(settings, store, ingestor.index, topics, ingestor)


@asynccontextmanager
async def running(app: Application[Any, Any, Any, Any, Any, Any], *,
                  poll_interval: float = 0.0) -> AsyncIterator[Services]:
    """Start the bot: getMe, store, sources, commands, jobs, long polling; stop it on exit.

    With ``[server] listen`` an HTTP listener serves /healthz and /metrics, and with
    ``[telegram] webhook_url`` also the webhook, which then replaces long polling.
    On SQLite raises :class:`DeliveryLockHeld` when another process already runs on this
    store. On PostgreSQL any number of processes run together (see :mod:`bot.cluster`):
    each delivers and answers its webhook; one at a time polls the sources, and without a
    webhook one at a time long-polls; Telegram's overall limit is booked in the database.
    """
    settings: Settings = app.bot_data["settings"]
    _check_listener(settings)
    svc = await open_services(settings, load_index=False)
    try:
        attach(app.bot_data, svc)
        keeper = IndexKeeper(svc.ingestor, snapshot_path(settings))
        shared = svc.store.engine.dialect.name == "postgresql"
        poller = SourcePoller(settings.sources, svc.store, svc.ingestor, shared=shared)
        deliverer = Deliverer(app.bot, svc.store, settings.delivery, svc.ingestor.deliveries_added,
                              languages=svc.languages)
        if shared:
            deliverer.lane.share(SharedSlots(svc.store, deliverer.lane.interval))
        polling = not settings.telegram.webhook_url
        coordinator = Coordinator(
            svc.store, process_identity(), poller, svc.ingestor,
            poll_seconds=settings.sources.poll_seconds,
            start_updates=((lambda: _start_polling(app, settings, poll_interval))
                           if polling else None),
            stop_updates=app.updater.stop if polling and app.updater else None,
        ) if shared else None
        server = _http_server(app, svc)
    except BaseException:
        await svc.store.close()  # else its worker thread keeps the process alive
        raise
    active_metrics = contextlib.ExitStack()  # current in every task started below
    active_metrics.enter_context(metrics.activate(metrics.for_app(app)))
    watchdog = asyncio.get_running_loop().create_task(_watch_store(svc), name="newsbot-store")
    try:
        await deliverer.acquire_lock()
        await _initialize(app)  # getMe first: a refused token is reported at once
        keeper.start()  # the index loads while the bot already answers
        async with app:  # already initialized: this only arranges the shutdown
            if coordinator is None or await coordinator.sources.hold():
                await poller.poll_all()
            await _register_commands(app)
            jobs = app.job_queue
            assert jobs is not None, "install python-telegram-bot[job-queue]"
            if coordinator is None:
                jobs.run_repeating(_poll_job, interval=settings.sources.poll_seconds,
                                   first=settings.sources.poll_seconds, data=poller,
                                   name="poll-sources", job_kwargs={"max_instances": 1})
            assert app.updater is not None
            await app.start()
            try:
                with metrics.alert_context():  # what the delivery loop sends are alerts
                    deliverer.start()
                if server is not None:
                    await server.start()
                if settings.telegram.webhook_url:
                    await _retry_startup("setWebhook", lambda: _set_webhook(app, settings))
                elif coordinator is None:
                    await _start_polling(app, settings, poll_interval)
                if coordinator is not None:
                    await coordinator.tick()  # long polling at once if nobody else has it
                    coordinator.start()
                yield svc
            finally:
                # Also reached when polling never started: stop exactly what did start.
                if coordinator is not None:
                    await coordinator.stop()
                if server is not None:
                    await server.stop()
                if app.updater.running:
                    await app.updater.stop()
                await deliverer.stop()
                await app.stop()
    finally:
        watchdog.cancel()
        await keeper.stop()  # saves the index if it changed
        await deliverer.release_lock()
        await poller.close()
        await svc.store.close()
        active_metrics.close()


async def _start_polling(app: Application[Any, Any, Any, Any, Any, Any], settings: Settings,
                         poll_interval: float) -> None:
    """Long polling for updates (without a webhook)."""
    assert app.updater is not None
    await app.updater.start_polling(
        poll_interval=poll_interval, timeout=settings.telegram.poll_timeout,
        allowed_updates=ALLOWED_UPDATES, error_callback=_polling_error,
        bootstrap_retries=STARTUP_ATTEMPTS)


async def _watch_store(svc: Services) -> None:
    """Set ``svc.fatal`` once the database file is deleted or replaced (see StoreGone)."""
    while True:
        try:
            svc.store.check_file()
        except StoreGone:
            svc.fatal.set()
            return
        await asyncio.sleep(STORE_CHECK_SECONDS)


async def _initialize(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """getMe and friends; a Bot API that is briefly down (5xx, timeouts) is retried.

    A refused token (401, :class:`InvalidToken`) is final and raised at once.
    """
    await _retry_startup("getMe", app.initialize)


async def _retry_startup(what: str, call: Callable[[], Awaitable[object]]) -> None:
    """``call()``, retried on 5xx and timeouts (NetworkError) with waits of 1, 2, 4, 8 s."""
    for attempt in range(1, STARTUP_ATTEMPTS + 1):
        try:
            await call()
            return
        except NetworkError as exc:
            if attempt == STARTUP_ATTEMPTS:
                raise
            delay = 2.0 ** (attempt - 1)
            log.warning("the Bot API did not answer %s (%s); retrying in %.0f s",
                        what, exc, delay)
            await asyncio.sleep(delay)


def _check_listener(settings: Settings) -> None:
    if settings.telegram.webhook_url and settings.server.listen is None:
        raise ConfigError(f"{settings.where}: [telegram] webhook_url needs [server] listen "
                          "(or newsbot run --listen HOST:PORT) to receive the updates")


def _http_server(app: Application[Any, Any, Any, Any, Any, Any],
                 svc: Services) -> HttpServer | None:
    """The listener of ``[server] listen``, kept in ``svc.extra["http"]``; None without one."""
    settings = svc.settings
    if settings.server.listen is None:
        return None
    host, port = settings.server.listen
    server = HttpServer(app, svc.store, host, port, webhook_url=settings.telegram.webhook_url,
                        secret=settings.telegram.webhook_secret)
    svc.extra["http"] = server
    return server


async def _set_webhook(app: Application[Any, Any, Any, Any, Any, Any],
                       settings: Settings) -> None:
    """Tell Telegram where to push updates; every process behind the proxy sets the same."""
    await app.bot.set_webhook(url=settings.telegram.webhook_url,
                              secret_token=settings.telegram.webhook_secret,
                              allowed_updates=ALLOWED_UPDATES)
    log.info("webhook set: Telegram pushes updates to %s", settings.telegram.webhook_url)


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
    # Not awaited: a source that hangs must not hold back the next tick for the others.
    poller.start_all(refresh_index=True)


def _polling_error(error: TelegramError) -> None:
    if isinstance(error, Conflict):
        log.error("Telegram says another process is polling with this bot token (409 "
                  "Conflict). Stop the other newsbot; this one keeps retrying.")
    else:
        log.warning("polling error (retrying): %s", error)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log any handler failure; apologise only when the action itself failed.

    A Telegram error (a refused or timed-out reply, a 429 beyond every retry) means talking to
    Telegram failed, typically the reply sent *after* the action was done: telling the person
    "something went wrong" would be false, and would most likely fail the same way. A database
    failure is one log line (the store names the cause) and an honest reply: what was to be
    saved was not (its transaction rolled back). Other errors (a bug) happen before anything is
    confirmed, so they get the apology, through the same lane as every reply.
    """
    error = context.error
    if isinstance(error, TelegramError):
        log.warning("could not answer an update (%s: %s); no apology sent: the action may "
                    "have been done", type(error).__name__, error)
        return
    text = _("Sorry, something went wrong on my side. Please try again.")
    if isinstance(error, StoreUnavailable):
        text = store_failure_text(error)
        if isinstance(error, StoreGone):
            services(context).fatal.set()  # the stop line says it all
        else:
            log.error("a command failed: %s", error)
    else:
        log.error("error while handling an update", exc_info=error)
    if isinstance(update, Update) and update.effective_message is not None:
        with contextlib.suppress(TelegramError):
            await update.effective_message.reply_text(text, do_quote=False)


__all__ = ["ALLOWED_UPDATES", "DeliveryLockHeld", "build_application", "running", "services"]
