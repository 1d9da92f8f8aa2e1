"""What every handler and job is given: python-telegram-bot's context, typed for newsbot.

The application is built with ``ContextTypes(context=NewsbotContext, bot_data=BotData)`` (see
:mod:`bot.app`), so a handler reads ``context.services.store`` or ``context.settings`` with
types, instead of looking up string keys in ``bot_data``.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot, JobQueue

from bot.chatlang import ChatLanguages
from bot.config import Settings
from bot.ingest import Ingestor
from bot.metrics import Metrics
from bot.search import SearchIndex
from bot.store import Store
from bot.topics import TopicMatcher

if TYPE_CHECKING:
    from bot.delivery import Deliverer
    from bot.lifecycle import Runtime
    from bot.operators import OperatorNotices
    from bot.poller import SourcePoller


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
    #: Each chat's language, read through from the store.
    languages: ChatLanguages = field(init=False)
    #: The running bot's delivery loop and source poller (set by :func:`bot.lifecycle.prepare`).
    deliverer: Deliverer | None = None
    poller: SourcePoller | None = None

    def __post_init__(self) -> None:
        self.languages = ChatLanguages(self.store)


class BotData:
    """The application's ``bot_data``: one per bot, typed (PTB makes it with no arguments)."""

    #: Set by :func:`bot.app.build_application`.
    settings: Settings
    #: Set by :func:`bot.lifecycle.prepare`: the store, index, topics and ingest.
    services: Services

    def __init__(self) -> None:
        self.metrics = Metrics()
        #: The parts :func:`bot.lifecycle.prepare` made.
        self.runtime: Runtime | None = None
        #: What post_shutdown undoes (set first thing in prepare, so also after a failure).
        self.cleanup: contextlib.AsyncExitStack | None = None
        #: How often long polling asks again (the tests poll without a pause).
        self.poll_interval = 0.0
        #: Supergroup migrations run one at a time (see bot.handlers.membership).
        self.migrate_lock = asyncio.Lock()
        #: Which errors the operators were told about (made on the first one).
        self.notices: OperatorNotices | None = None


#: The bot handlers are given: its rate limiter (bot.lane.Lane) takes a dict of arguments.
NewsbotBot = ExtBot[dict[str, Any]]


class NewsbotContext(CallbackContext[NewsbotBot, dict[Any, Any], dict[Any, Any], BotData]):
    """The ``context`` of every handler, error handler and job of newsbot."""

    @property
    def services(self) -> Services:
        """The store, index, topics and ingest of the running bot."""
        return self.bot_data.services

    @property
    def settings(self) -> Settings:
        return self.bot_data.settings


CONTEXT_TYPES = ContextTypes(context=NewsbotContext, bot_data=BotData)

#: The application type newsbot builds.
NewsbotApp = Application[NewsbotBot, NewsbotContext, dict[Any, Any], dict[Any, Any], BotData,
                         JobQueue[NewsbotContext]]
