"""Small helpers shared by handlers: the text after a command, replying, answering buttons."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError

from bot import i18n
from bot.context import NewsbotContext
from bot.i18n import N_, _, language_of
from bot.store import StoreUnavailable

log = logging.getLogger(__name__)

#: After a start the search index loads in the background (bot.indexkeeper): a search waits
#: this long for it (a snapshot loads in about a second), then is told to come back.
INDEX_WAIT_SECONDS = 5.0
INDEX_LOADING = N_("⏳ The search index is still loading after a restart. "
                   "Please try again in a moment.")


def command_argument(message: Message | None) -> str:
    """Everything after ``/command`` (or ``/command@BotName``), whitespace-trimmed.

    Unlike ``context.args`` this keeps quotes and spacing, which search phrases need.
    """
    text = (message.text or message.caption or "") if message else ""
    parts = text.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def reader_language(update: Update) -> str:
    """The language (en, fr, es) of the person behind an update, for what the bot says and for
    the releases search prefers: the chat's language as resolved for this update (chosen with
    /language, else the sender's Telegram ``language_code``, see
    ``bot.handlers.language.set_update_language``), else the sender's ``language_code``
    (``fr*`` -> fr, ``es*`` -> es, anything else -> en). The one place handlers ask."""
    resolved = i18n.update_language()
    if resolved is not None:
        return resolved
    return telegram_language(update)


def telegram_language(update: Update) -> str:
    """The language of the sender's Telegram client alone (en when unknown), whatever the
    chat chose: what a chat follows again after ``/language auto``."""
    user = update.effective_user
    return language_of(user.language_code if user else None)


async def reply(update: Update, text: str,
                reply_markup: InlineKeyboardMarkup | None = None) -> Message | None:
    """Answer in the chat (and forum thread) the update came from (as HTML, without link
    previews, unquoted: the application's Defaults)."""
    message = update.effective_message
    if message is None:
        return None
    return await message.reply_text(text, reply_markup=reply_markup)


async def answer_button(callback: CallbackQuery, text: str | None = None,
                        show_alert: bool = False) -> None:
    """Acknowledge a button press. Telegram refuses answers to presses older than a few
    seconds; that must not stop the work the press asked for, so a refusal is only logged."""
    try:
        await callback.answer(text, show_alert=show_alert)
    except TelegramError as exc:
        log.info("could not answer a button press: %s", exc)


def store_failure_text(exc: StoreUnavailable) -> str:
    """The reply when the database failed a person's command: honest about what happened."""
    if exc.writing:
        return _("⚠️ Sorry, I could not save that: my database is not working right now, so "
                 "nothing was changed. Please try again in a few minutes.")
    return _("⚠️ Sorry, I could not look that up: my database is not working right now. "
             "Please try again in a few minutes.")


#: What the application calls for an update.
Handler = Callable[[Update, NewsbotContext], Coroutine[Any, Any, None]]

#: What a button shows when its handler failed (the error itself is logged by on_error).
QUERY_FAILED = N_("Sorry, that did not work. Please try again.")


def answers_query(handler: Handler) -> Handler:
    """Make sure every button press and inline query is answered, even when ``handler``
    raises: unanswered, a client shows a spinner and the press looks ignored. The exception
    still goes on to the application's error handler."""
    @functools.wraps(handler)
    async def answered(update: Update, context: NewsbotContext) -> None:
        try:
            await handler(update, context)
        except Exception:
            await _answer_anyway(update)
            raise
    return answered


async def _answer_anyway(update: Update) -> None:
    """Answer the update's query; if the handler had answered already, Telegram refuses this
    second answer, which is fine."""
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(_(QUERY_FAILED))
        elif update.inline_query is not None:
            await update.inline_query.answer([], cache_time=0)
    except Exception as exc:  # the original failure matters more than this one
        log.info("could not answer a query after a failure: %s", exc)


async def index_ready(ready: asyncio.Event) -> bool:
    """Whether the search index is loaded, after waiting for it a little if it is loading."""
    if not ready.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ready.wait(), INDEX_WAIT_SECONDS)
    return ready.is_set()
