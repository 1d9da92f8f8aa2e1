"""Start-up and shutdown of a running bot, as python-telegram-bot's lifecycle hooks.

:func:`post_init` and :func:`post_shutdown` are given to the ``ApplicationBuilder``;
:func:`bot.app.running` calls them in the order ``Application.run_polling`` does, from an
event loop that already runs (``newsbot run``, ``newsbot demo``, the tests), after
:func:`prepare`, which does what needs no Telegram first, so a broken config file or a store
another process holds is reported without a word to Telegram::

    prepare (store, topics, delivery lock) -> initialize (getMe) -> post_init -> start
    -> start_updates ... the bot runs ... stop_updates -> stop -> shutdown -> post_shutdown

Each thing started is registered on an exit stack, so ``post_shutdown`` stops exactly what was
started, in reverse order, even after a failure half way: the store is always closed, or its
worker thread would keep the process alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import Update
from telegram.error import Conflict, NetworkError, TelegramError

from bot import metrics
from bot.backoff import backoff_seconds
from bot.cluster import Coordinator
from bot.config import ConfigError, Settings
from bot.context import NewsbotApp, NewsbotContext, Services
from bot.delivery import Deliverer
from bot.delivery.budget import SharedSlots
from bot.handlers import help
from bot.i18n import use_language
from bot.ingest import Ingestor
from bot.poller import SourcePoller
from bot.search import SearchIndex
from bot.search.keeper import IndexKeeper, snapshot_path
from bot.server import HttpServer
from bot.store import Store, StoreGone, process_identity
from bot.text.languages import LANGUAGES
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


@dataclass
class Runtime:
    """The long-running parts of one bot, made by :func:`post_init`."""

    services: Services
    poller: SourcePoller
    deliverer: Deliverer
    #: Sources, long polling and the index shared with other processes (PostgreSQL only).
    coordinator: Coordinator | None
    #: The ``[server] listen`` listener (webhook, /healthz, /metrics), when configured.
    server: HttpServer | None


async def open_services(settings: Settings, *, load_index: bool = True) -> Services:
    """Open the store and load the search index (from its snapshot when one fits).

    Without ``load_index`` the index starts empty: for ``newsbot import``, which only writes,
    and for a running bot, which loads it in the background once the bot is up.
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


def check_listener(settings: Settings) -> None:
    """A webhook needs the listener that receives it."""
    if settings.telegram.webhook_url and settings.server.listen is None:
        raise ConfigError(f"{settings.where}: [telegram] webhook_url needs [server] listen "
                          "(or newsbot run --listen HOST:PORT) to receive the updates")


async def prepare(app: NewsbotApp) -> None:
    """Open the store (and read the topics), make the parts of the bot, and take the delivery
    lock (SQLite: one process per store, else :class:`~bot.delivery.DeliveryLockHeld`)."""
    data = app.bot_data
    settings = data.settings
    cleanup = contextlib.AsyncExitStack()
    data.cleanup = cleanup
    svc = await open_services(settings, load_index=False)
    cleanup.push_async_callback(svc.store.close)
    data.services = svc
    shared = svc.store.engine.dialect.name == "postgresql"
    poller = SourcePoller(settings.sources, svc.store, svc.ingestor, shared=shared)
    cleanup.push_async_callback(poller.close)
    deliverer = Deliverer(app.bot, svc.store, settings.delivery, svc.ingestor.deliveries_added,
                          languages=svc.languages)
    svc.deliverer, svc.poller = deliverer, poller
    if shared:
        deliverer.lane.share(SharedSlots(svc.store, deliverer.lane.interval))
    runtime = Runtime(svc, poller, deliverer, _coordinator(app, svc, poller) if shared else None,
                      _http_server(app, svc))
    data.runtime = runtime
    await deliverer.acquire_lock()
    cleanup.push_async_callback(deliverer.release_lock)


async def initialize(app: NewsbotApp) -> None:
    """``Application.initialize``, which asks getMe: a refused token (401,
    :class:`~telegram.error.InvalidToken`) is reported at once, before any index work; a Bot
    API that is briefly down (5xx, timeouts) is retried."""
    await retry_startup("getMe", app.initialize)


async def post_init(app: NewsbotApp) -> None:
    """Once Telegram accepted the token: start loading the index, watch the SQLite file, poll
    the sources once, register the command lists and the polling job."""
    runtime, svc, cleanup = _runtime(app), app.bot_data.services, _cleanup(app)
    settings = svc.settings
    keeper = IndexKeeper(svc.ingestor, snapshot_path(settings))
    keeper.start()  # the index loads while the bot already answers
    cleanup.push_async_callback(keeper.stop)  # saves the index if it changed
    watchdog = asyncio.get_running_loop().create_task(_watch_store(svc), name="newsbot-store")
    cleanup.callback(watchdog.cancel)
    if runtime.coordinator is None or await runtime.coordinator.sources.hold():
        await runtime.poller.poll_all()
    await _register_commands(app)
    if runtime.coordinator is None:
        jobs = app.job_queue
        assert jobs is not None, "install python-telegram-bot[job-queue]"
        jobs.run_repeating(_poll_job, interval=settings.sources.poll_seconds,
                           first=settings.sources.poll_seconds, data=runtime.poller,
                           name="poll-sources", job_kwargs={"max_instances": 1})


async def start_updates(app: NewsbotApp) -> None:
    """After ``Application.start``: the delivery loop, the listener, and the updates (webhook,
    long polling, or on PostgreSQL whatever the cluster hands this process)."""
    runtime = _runtime(app)
    settings = app.bot_data.settings
    with metrics.alert_context():  # what the delivery loop sends are alerts
        runtime.deliverer.start()
    if runtime.server is not None:
        await runtime.server.start()
    if settings.telegram.webhook_url:
        await retry_startup("setWebhook", lambda: _set_webhook(app, settings))
    elif runtime.coordinator is None:
        await _start_polling(app)
    if runtime.coordinator is not None:
        await runtime.coordinator.tick()  # long polling at once if nobody else has it
        runtime.coordinator.start()


async def stop_updates(app: NewsbotApp) -> None:
    """Before ``Application.stop``: stop exactly what :func:`start_updates` started (it may
    have stopped half way)."""
    runtime = app.bot_data.runtime
    if runtime is not None:
        if runtime.coordinator is not None:
            await runtime.coordinator.stop()
        if runtime.server is not None:
            await runtime.server.stop()
    if app.updater is not None and app.updater.running:
        await app.updater.stop()
    if runtime is not None:
        await runtime.deliverer.stop()


async def post_shutdown(app: NewsbotApp) -> None:
    """Undo :func:`post_init`, as far as it got: save the index, give the lock back, close
    the sources and the store."""
    data = app.bot_data
    cleanup, data.cleanup, data.runtime = data.cleanup, None, None
    if cleanup is not None:
        await cleanup.aclose()


def _runtime(app: NewsbotApp) -> Runtime:
    runtime = app.bot_data.runtime
    if runtime is None:
        raise RuntimeError("prepare() has not run")
    return runtime


def _cleanup(app: NewsbotApp) -> contextlib.AsyncExitStack:
    cleanup = app.bot_data.cleanup
    if cleanup is None:
        raise RuntimeError("prepare() has not run")
    return cleanup


def _coordinator(app: NewsbotApp, svc: Services, poller: SourcePoller) -> Coordinator:
    settings = svc.settings
    polling = not settings.telegram.webhook_url
    return Coordinator(
        svc.store, process_identity(), poller, svc.ingestor,
        poll_seconds=settings.sources.poll_seconds,
        start_updates=(lambda: _start_polling(app)) if polling else None,
        stop_updates=app.updater.stop if polling and app.updater else None,
    )


def _http_server(app: NewsbotApp, svc: Services) -> HttpServer | None:
    """The listener of ``[server] listen``, kept in ``svc.extra["http"]``; None without one."""
    settings = svc.settings
    if settings.server.listen is None:
        return None
    host, port = settings.server.listen
    server = HttpServer(app, svc.store, host, port, webhook_url=settings.telegram.webhook_url,
                        secret=settings.telegram.webhook_secret, metrics=app.bot_data.metrics)
    svc.extra["http"] = server
    return server


async def _start_polling(app: NewsbotApp) -> None:
    """Long polling for updates (without a webhook)."""
    assert app.updater is not None
    await app.updater.start_polling(
        poll_interval=app.bot_data.poll_interval,
        timeout=app.bot_data.settings.telegram.poll_timeout,
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


async def retry_startup(what: str, call: Callable[[], Awaitable[object]]) -> None:
    """``call()``, retried on 5xx and timeouts (NetworkError) with waits of 1, 2, 4, 8 s."""
    for attempt in range(1, STARTUP_ATTEMPTS + 1):
        try:
            await call()
            return
        except NetworkError as exc:
            if attempt == STARTUP_ATTEMPTS:
                raise
            delay = backoff_seconds(attempt, 1.0)
            log.warning("the Bot API did not answer %s (%s); retrying in %.0f s",
                        what, exc, delay)
            await asyncio.sleep(delay)


async def _set_webhook(app: NewsbotApp, settings: Settings) -> None:
    """Tell Telegram where to push updates; every process behind the proxy sets the same."""
    await app.bot.set_webhook(url=settings.telegram.webhook_url,
                              secret_token=settings.telegram.webhook_secret,
                              allowed_updates=ALLOWED_UPDATES)
    log.info("webhook set: Telegram pushes updates to %s", settings.telegram.webhook_url)


async def _register_commands(app: NewsbotApp) -> None:
    """The command list in each language (English also as the default for everyone else)."""
    for lang in LANGUAGES:
        with use_language(lang):
            commands = help.bot_commands()
        try:
            await app.bot.set_my_commands(commands, language_code=None if lang == "en" else lang)
        except TelegramError as exc:  # clients then lack the menu, but the bot still works
            log.warning("could not register the command list (%s): %s", lang, exc)


async def _poll_job(context: NewsbotContext) -> None:
    job = context.job
    assert job is not None and isinstance(job.data, SourcePoller)
    # Not awaited: a source that hangs must not hold back the next tick for the others.
    job.data.start_all(refresh_index=True)


def _polling_error(error: TelegramError) -> None:
    if isinstance(error, Conflict):
        log.error("Telegram says another process is polling with this bot token (409 "
                  "Conflict). Stop the other newsbot; this one keeps retrying.")
    else:
        log.warning("polling error (retrying): %s", error)
