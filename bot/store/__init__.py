"""All persistent state and all SQL: releases, sources, chats, subscriptions, the outbox, locks.

One :class:`Store` (SQLAlchemy 2 Core, async: a SQLite file by default, PostgreSQL by URL)
made of one module per part:

* :mod:`~bot.store.engine`: opening, transactions, faults; :mod:`~bot.store.errors`;
* :mod:`~bot.store.schema` (the tables) and :mod:`~bot.store.migrations` (schema versions);
* :mod:`~bot.store.releases` and :mod:`~bot.store.ingest_batch` (releases and their alerts
  stored in one unit of work);
* :mod:`~bot.store.subscriptions`, :mod:`~bot.store.chats`, :mod:`~bot.store.digests`;
* :mod:`~bot.store.claims` (who sends which outbox row) and :mod:`~bot.store.outbox`;
* :mod:`~bot.store.sources`, :mod:`~bot.store.queries` (saved searches),
  :mod:`~bot.store.locks` (leases and shared sending slots);
* :mod:`~bot.store.rows` (the values handed out) and :mod:`~bot.store.upsert`.
"""

from bot.store.engine import async_url, process_identity
from bot.store.errors import StoreError, StoreGone, StoreUnavailable
from bot.store.facade import Store
from bot.store.ingest_batch import IngestBatch
from bot.store.migrations import MIGRATIONS, SCHEMA_VERSION
from bot.store.queries import QUERY_LIFETIME
from bot.store.rows import Chat, Delivery, OutboxRow, SourceState, Subscription, UpsertResult
from bot.store.schema import (
    ENDED,
    FAILED,
    PENDING,
    SENT,
    chats_table,
    metadata,
    outbox_table,
    releases_table,
    saved_queries_table,
    subscriptions_table,
)

__all__ = [
    "ENDED", "FAILED", "MIGRATIONS", "PENDING", "QUERY_LIFETIME", "SCHEMA_VERSION", "SENT",
    "Chat", "Delivery", "IngestBatch", "OutboxRow", "SourceState", "Store", "StoreError",
    "StoreGone", "StoreUnavailable", "Subscription", "UpsertResult", "async_url",
    "chats_table", "metadata", "outbox_table", "process_identity", "releases_table",
    "saved_queries_table", "subscriptions_table",
]
