"""Small helpers shared by handlers: the text after a command, replying in HTML."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable

from telegram import CallbackQuery, Message, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.store import StoreUnavailable
from bot.text import DEFAULT_LANGUAGE, language_of

log = logging.getLogger(__name__)

#: After a start the search index loads in the background (bot.indexkeeper): a search waits
#: this long for it (a snapshot loads in about a second), then is told to come back.
INDEX_WAIT_SECONDS = 5.0
INDEX_LOADING = ("⏳ The search index is still loading after a restart. "
                 "Please try again in a moment.")


def command_argument(message: Message | None) -> str:
    """Everything after ``/command`` (or ``/command@BotName``), whitespace-trimmed.

    Unlike ``context.args`` this keeps quotes and spacing, which search phrases need.
    """
    text = (message.text or message.caption or "") if message else ""
    parts = text.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def reader_language(update: Update) -> str:
    """The language (en, fr, es) of the person behind an update: their Telegram client's
    ``language_code`` (``fr*`` -> fr, ``es*`` -> es), else English. The one place handlers ask;
    a chat's own language setting, when there is one, belongs here too."""
    user = update.effective_user
    return language_of(user.language_code if user else None) or DEFAULT_LANGUAGE


async def reply(update: Update, text: str, **kwargs: object) -> Message | None:
    """Answer in the chat (and forum thread) the update came from, as HTML, no link previews."""
    message = update.effective_message
    if message is None:
        return None
    return await message.reply_text(
        text, parse_mode=ParseMode.HTML, do_quote=False,
        disable_web_page_preview=True, **kwargs,  # type: ignore[arg-type]
    )


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
        return ("⚠️ Sorry, I could not save that: my database is not working right now, so "
                "nothing was changed. Please try again in a few minutes.")
    return ("⚠️ Sorry, I could not look that up: my database is not working right now. "
            "Please try again in a few minutes.")


Context = ContextTypes.DEFAULT_TYPE
Handler = Callable[[Update, Context], Awaitable[None]]

#: What a button shows when its handler failed (the error itself is logged by on_error).
QUERY_FAILED = "Sorry, that did not work. Please try again."


def answers_query(handler: Handler) -> Handler:
    """Make sure every button press and inline query is answered, even when ``handler``
    raises: unanswered, a client shows a spinner and the press looks ignored. The exception
    still goes on to the application's error handler."""
    @functools.wraps(handler)
    async def answered(update: Update, context: Context) -> None:
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
            await update.callback_query.answer(QUERY_FAILED)
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
