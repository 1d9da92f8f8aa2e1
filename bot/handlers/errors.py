"""The application's error handler: log a handler's failure, answer honestly, tell operators."""

from __future__ import annotations

import contextlib
import logging

from telegram import Update
from telegram.error import TelegramError

from bot.context import NewsbotContext
from bot.handlers.common import reply, store_failure_text
from bot.i18n import _
from bot.operators import OperatorNotices
from bot.store import StoreGone, StoreUnavailable

log = logging.getLogger(__name__)


async def on_error(update: object, context: NewsbotContext) -> None:
    """Log any handler failure; apologise only when the action itself failed.

    A Telegram error (a refused or timed-out reply, a 429 beyond every retry) means talking to
    Telegram failed, typically the reply sent *after* the action was done: telling the person
    "something went wrong" would be false, and would most likely fail the same way. A database
    failure is one log line (the store names the cause) and an honest reply: what was to be
    saved was not (its transaction rolled back). Other errors (a bug) happen before anything is
    confirmed, so they get the apology, through the same lane as every reply. What is logged as
    an error is also told to the operators (see :mod:`bot.operators`).
    """
    error = context.error
    if error is None:
        return
    if isinstance(error, TelegramError):
        log.warning("could not answer an update (%s: %s); no apology sent: the action may "
                    "have been done", type(error).__name__, error)
        return
    text = _("Sorry, something went wrong on my side. Please try again.")
    gone = isinstance(error, StoreGone)
    if isinstance(error, StoreUnavailable):
        text = store_failure_text(error)
        if gone:
            context.services.fatal.set()  # the stop line says it all
        else:
            log.error("a command failed: %s", error)
    else:
        log.error("error while handling an update", exc_info=error)
    if isinstance(update, Update):
        with contextlib.suppress(TelegramError):
            await reply(update, text)
    if not gone:
        await _notices(context).tell(context.bot, error)


def _notices(context: NewsbotContext) -> OperatorNotices:
    data = context.bot_data
    if data.notices is None:
        settings = data.settings
        data.notices = OperatorNotices(settings.bot, [settings.telegram.token,
                                                      settings.telegram.webhook_secret])
    return data.notices
