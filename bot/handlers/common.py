"""Small helpers shared by handlers: the text after a command, replying in HTML."""

from __future__ import annotations

from telegram import Message, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes


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


Context = ContextTypes.DEFAULT_TYPE
