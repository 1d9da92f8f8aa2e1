"""Which language the bot speaks in a chat: the one chosen with /language, else the reader's.

A chat's stored settings are read once and kept in memory (every update asks, so this must not
cost a query each time); /language replaces the cached entry. Entries also expire after
:data:`CACHE_SECONDS`, so with several processes on one PostgreSQL database a choice made in
one reaches the others soon.

- In a private chat, until someone chooses, the bot follows the user's Telegram
  ``language_code``; it also remembers that language for the chat, so alerts sent later (with
  no user at hand) are framed in it.
- In groups and channels, a chosen language applies to everyone; until one is chosen, replies
  follow whoever wrote, and alerts use the language of whoever subscribed the chat.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bot.i18n import language_of
from bot.store import Store
from bot.text.languages import DEFAULT_LANGUAGE, LANGUAGES

#: How long a chat's stored language is trusted without reading it again.
CACHE_SECONDS = 300.0
#: Chats remembered at most (a crowd of new users must not grow memory without bound).
CACHE_SIZE = 50_000


@dataclass(frozen=True)
class _Entry:
    chosen: str | None
    auto: str | None
    known: bool  # the chat has a row in the store
    read_at: float


class ChatLanguages:
    """The language of each chat, from the store, cached."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[int, _Entry] = {}

    async def _entry(self, chat_id: int) -> _Entry:
        entry = self._cache.get(chat_id)
        now = time.monotonic()
        if entry is None or now - entry.read_at > CACHE_SECONDS:
            chat = await self.store.get_chat(chat_id)
            entry = _Entry(chat.language if chat else None, chat.auto_language if chat else None,
                           chat is not None, now)
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()  # crude but bounded; entries are cheap to read again
            self._cache[chat_id] = entry
        return entry

    async def chosen(self, chat_id: int) -> str | None:
        """The language chosen with /language in this chat, or None."""
        return (await self._entry(chat_id)).chosen

    async def for_update(self, chat_id: int | None, private: bool,
                         language_code: str | None) -> str:
        """The language to answer an update in: the chat's choice, else the sender's."""
        reader = language_of(language_code) if language_code else None
        if chat_id is None:  # inline queries: no chat, only the user
            return reader or DEFAULT_LANGUAGE
        entry = await self._entry(chat_id)
        if entry.chosen:
            return entry.chosen
        if private and reader and entry.known and entry.auto != reader:
            await self.store.note_auto_language(chat_id, reader)
            self._cache[chat_id] = _Entry(None, reader, True, entry.read_at)
        return reader or entry.auto or DEFAULT_LANGUAGE

    async def for_chat(self, chat_id: int) -> str:
        """The language of messages sent with nobody to answer (alerts)."""
        entry = await self._entry(chat_id)
        language = entry.chosen or entry.auto or DEFAULT_LANGUAGE
        return language if language in LANGUAGES else DEFAULT_LANGUAGE

    async def choose(self, chat_id: int, chat_type: str, language: str | None,
                     title: str | None = None, username: str | None = None) -> None:
        """Store the choice (None: follow the readers again) and use it from now on."""
        await self.store.set_chat_language(chat_id, chat_type, language, title, username)
        self.forget(chat_id)

    def forget(self, chat_id: int) -> None:
        """Read this chat from the store next time (it was just saved or changed)."""
        self._cache.pop(chat_id, None)
