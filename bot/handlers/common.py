"""Small helpers shared by handlers: the text after a command, replying in HTML."""

from __future__ import annotations

import logging

from telegram import CallbackQuery, Message, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.i18n import language_of

log = logging.getLogger(__name__)


def command_argument(message: Message | None) -> str:
    """Everything after ``/command`` (or ``/command@BotName``), whitespace-trimmed.

    Unlike ``context.args`` this keeps quotes and spacing, which search phrases need.
    """
    text = (message.text or message.caption or "") if message else ""
    parts = text.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


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


def reader_language(update: Update) -> str:
    """The language of the person behind an update, from Telegram's ``language_code``:
    ``fr*`` -> ``fr``, ``es*`` -> ``es``, anything else (or no user) -> ``en``."""
    user = update.effective_user
    return language_of(user.language_code if user else None)


Context = ContextTypes.DEFAULT_TYPE
