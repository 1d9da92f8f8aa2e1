"""The bundle of long-lived objects that handlers and jobs use, kept in ``bot_data``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telegram.ext import CallbackContext

from bot.chatlang import ChatLanguages
from bot.config import Settings
from bot.ingest import Ingestor
from bot.search import SearchIndex
from bot.store import Store
from bot.topics import TopicMatcher

if TYPE_CHECKING:
    from bot.delivery import Deliverer
    from bot.poller import SourcePoller

_KEY = "newsbot.services"


@dataclass
class Services:
    """Everything a handler may call: settings, store, search index, topics, ingest."""

    settings: Settings
    store: Store
    index: SearchIndex
    topics: TopicMatcher
    ingestor: Ingestor
    extra: dict[str, Any] = field(default_factory=dict)
    #: Set when the bot cannot go on (the database file vanished): ``newsbot run`` stops and
    #: prints ``store.gone``.
    fatal: asyncio.Event = field(default_factory=asyncio.Event)
    #: Each chat's language (made from the store when not given).
    languages: ChatLanguages = None  # type: ignore[assignment]
    #: The running bot's delivery loop and source poller (set by ``bot.app.running``).
    deliverer: Deliverer | None = None
    poller: SourcePoller | None = None

    def __post_init__(self) -> None:
        if self.languages is None:
            self.languages = ChatLanguages(self.store)


def attach(bot_data: dict[str, Any], services: Services) -> None:
    bot_data[_KEY] = services


def services(context: CallbackContext[Any, Any, Any, Any]) -> Services:
    """The services of the running application (set up in ``bot.app``)."""
    return context.application.bot_data[_KEY]  # type: ignore[no-any-return]
