"""Builds the python-telegram-bot ``Application`` (defaults, typed context, handlers, lifecycle
hooks) and runs it.

The same :func:`running` context manager serves ``newsbot run``, ``newsbot demo`` and the
end-to-end tests, so what the tests drive is exactly what users run. What happens at start-up
and shutdown is in :mod:`bot.lifecycle`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    Defaults,
    InlineQueryHandler,
    JobQueue,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import lifecycle, metrics
from bot.config import Settings
from bot.context import CONTEXT_TYPES, NewsbotApp, NewsbotContext, Services
from bot.delivery import DeliveryLockHeld
from bot.delivery.lane import Lane
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
from bot.handlers.common import Handler
from bot.handlers.errors import on_error
from bot.lifecycle import ALLOWED_UPDATES, open_services

#: Commands are answered in new messages and channel posts, not when a message is edited.
COMMAND_UPDATES = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST
#: A channel post copied automatically into its discussion group: the channel post itself is
#: answered, so commands about a chat's settings ignore the copy rather than refuse it.
NOT_ECHO = ~filters.IS_AUTOMATIC_FORWARD

#: Every message the bot sends is HTML, without link previews, and not a quoted reply.
DEFAULTS = Defaults(parse_mode=ParseMode.HTML,
                    link_preview_options=LinkPreviewOptions(is_disabled=True), do_quote=False)


def build_application(settings: Settings) -> NewsbotApp:
    """An application for these settings (not started; see :func:`running`)."""
    timeout = settings.telegram.poll_timeout
    app = (
        ApplicationBuilder()
        .token(settings.require_token())
        .base_url(settings.telegram.api_base_url)
        .base_file_url(file_url(settings.telegram.api_base_url))
        .defaults(DEFAULTS)
        .context_types(CONTEXT_TYPES)
        .job_queue(JobQueue[NewsbotContext]())
        .get_updates_read_timeout(timeout + 10)
        .request(metrics.InstrumentedRequest(read_timeout=settings.delivery.request_timeout,
                                             write_timeout=settings.delivery.request_timeout,
                                             connection_pool_size=256))
        .concurrent_updates(True)
        # Every message, replies and alerts alike, takes a slot of this one lane.
        .rate_limiter(Lane.from_settings(settings.delivery))
        .post_init(lifecycle.post_init)
        .post_shutdown(lifecycle.post_shutdown)
        .build()
    )
    app.bot_data.settings = settings
    register_handlers(app)
    return app


def file_url(api_base_url: str) -> str:
    """The Bot API's file URL next to its method URL (``.../bot`` -> ``.../file/bot``)."""
    if "/bot{token}" in api_base_url:
        return api_base_url.replace("/bot{token}", "/file/bot{token}", 1)
    head, _, tail = api_base_url.rpartition("/bot")
    return f"{head}/file/bot{tail}" if _ else api_base_url + "/file"


def register_handlers(app: NewsbotApp) -> None:
    """Wire every command, button and update type to its handler."""
    def command(name: str, callback: Handler, *, echoes: bool = True) -> None:
        wanted = COMMAND_UPDATES if echoes else COMMAND_UPDATES & NOT_ECHO
        app.add_handler(CommandHandler(name, callback, filters=wanted))

    # Before every other handler: the language this update is answered in.
    app.add_handler(TypeHandler(Update, language.set_update_language), group=-1)

    command("start", help.start)
    command("help", help.help_command)
    command("latest", browse.latest)
    command("search", browse.search)
    command("subscribe", subscriptions.subscribe, echoes=False)
    command("unsubscribe", subscriptions.unsubscribe, echoes=False)
    command("subscriptions", subscriptions.list_subscriptions, echoes=False)
    command("digest", digest.digest_command, echoes=False)
    command("topics", topics.topics, echoes=False)
    command("stats", admin.stats)
    command("language", language.language_command, echoes=False)
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
    app.add_handler(TypeHandler(Update, _count_update), group=-2)
    app.add_error_handler(on_error)


async def _count_update(update: object, context: NewsbotContext) -> None:
    """Counts every update for /metrics, handles nothing."""
    kind = metrics.update_kind(update) if isinstance(update, Update) else "other"
    context.bot_data.metrics.updates.labels(type=kind).inc()


@asynccontextmanager
async def running(app: NewsbotApp, *, poll_interval: float = 0.0) -> AsyncIterator[Services]:
    """Run the bot as ``Application.run_polling`` would, in the running event loop (see
    :mod:`bot.lifecycle`): store, getMe, the lifecycle hooks, then updates; on exit stop it
    all, whatever failed on the way.

    With ``[server] listen`` an HTTP listener serves /healthz and /metrics, and with
    ``[telegram] webhook_url`` also the webhook, which then replaces long polling.
    On SQLite raises :class:`DeliveryLockHeld` when another process already runs on this
    store. On PostgreSQL any number of processes run together (see :mod:`bot.cluster`):
    each delivers and answers its webhook; one at a time polls the sources, and without a
    webhook one at a time long-polls; Telegram's overall limit is booked in the database.
    """
    lifecycle.check_listener(app.bot_data.settings)
    app.bot_data.poll_interval = poll_interval
    with contextlib.ExitStack() as active:
        # Current in every task started below, getMe included.
        active.enter_context(metrics.activate(app.bot_data.metrics))
        try:
            await lifecycle.prepare(app)
            await lifecycle.initialize(app)
            assert app.post_init is not None and app.post_shutdown is not None
            await app.post_init(app)
            await app.start()
            try:
                await lifecycle.start_updates(app)
                yield app.bot_data.services
            finally:
                await lifecycle.stop_updates(app)
                await app.stop()
        finally:
            await app.shutdown()
            if app.post_shutdown is not None:
                await app.post_shutdown(app)


__all__ = ["ALLOWED_UPDATES", "DeliveryLockHeld", "build_application", "open_services",
           "running"]
