"""Telling the bot's operators that something failed: one short Telegram message per kind of
error at most every ``[bot] operator_notice_minutes``, to the chats in ``[bot] operator_chats``.

A notice is one line, "newsbot error: <type>: <first line>", with the bot token (and anything
shaped like one) blanked. Telling them is best effort: a notice that cannot be sent is logged,
never raised, so it cannot turn one failure into two.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from html import escape

from telegram import Bot

from bot.config import BotSettings
from bot.logsetup import redact

log = logging.getLogger(__name__)

#: A notice is a hint to look at the log, not the log itself.
NOTICE_CHARS = 300


class OperatorNotices:
    """Which kinds of error the operators were told about, and when (rate limiting)."""

    def __init__(self, settings: BotSettings, secrets: Iterable[str | None] = (),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.chats = settings.operator_chats
        self.every = settings.operator_notice_minutes * 60.0
        self.secrets = [s for s in secrets if s]
        self._clock = clock
        self._told: dict[str, float] = {}

    def due(self, kind: str) -> bool:
        """Whether a notice of this kind may go out now; if so, it counts as sent."""
        if not self.chats:
            return False
        now = self._clock()
        told = self._told.get(kind)
        if told is not None and now - told < self.every:
            return False
        self._told[kind] = now
        return True

    def text(self, error: BaseException) -> str:
        """``newsbot error: <type>: <first line>``, no secrets, at most NOTICE_CHARS."""
        lines = str(error).strip().splitlines()
        text = f"newsbot error: {type(error).__name__}"
        if lines:
            text += f": {lines[0]}"
        return redact(text, self.secrets)[:NOTICE_CHARS]

    async def tell(self, bot: Bot, error: BaseException) -> None:
        """Send the notice for ``error`` to every operator chat, unless one of its kind went
        out recently."""
        kind = f"{type(error).__module__}.{type(error).__qualname__}"
        if not self.due(kind):
            return
        text = escape(self.text(error))
        for chat in self.chats:
            try:
                await bot.send_message(chat, text)
            except Exception as exc:
                log.warning("could not tell operator chat %s about the error: %s", chat,
                            redact(str(exc), self.secrets))
