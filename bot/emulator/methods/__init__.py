"""The Bot API methods the emulator answers, with Telegram's validation and error messages.

:mod:`~bot.emulator.methods.api` holds the registry, dispatch and shared checks; each other
module answers one concern (updates and webhooks, the bot's profile, messages, queries, chats
and members) and registers its methods when imported, which this package does.
"""

from bot.emulator.methods import chats, messages, profile, queries, updates
from bot.emulator.methods.api import MAX_MESSAGE_LENGTH, BotApi, EmulatorStats, api_method

__all__ = ["MAX_MESSAGE_LENGTH", "BotApi", "EmulatorStats", "api_method", "chats", "messages",
           "profile", "queries", "updates"]
