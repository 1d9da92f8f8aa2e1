"""The tables: what the store keeps, column by column, and the outbox row states.

The tables here are today's; :mod:`bot.store.migrations` brings older databases to them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from bot.digest import INSTANT

metadata = sa.MetaData()


def _named(name: str, key: str, *columns: sa.Column[Any]) -> sa.Table:
    """A table of a few rows, each found by a short name (a setting, a counter, a lock)."""
    return sa.Table(name, metadata, sa.Column(key, sa.String(64), primary_key=True), *columns)


meta_table = _named("meta", "key", sa.Column("value", sa.Text, nullable=False))
releases_table = sa.Table(
    "releases", metadata,
    # The publisher's id as given (up to 1,024 characters) is looked up through ``key``, its
    # short hash (bot.releases.release_key): long ids would bloat (PostgreSQL: overflow) an
    # index. Databases migrated from version 1 keep their primary key on ``id`` (SQLite).
    sa.Column("key", sa.String(32), primary_key=True),
    sa.Column("id", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("date", sa.Date, nullable=False, index=True),
    sa.Column("place", sa.Text),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("url", sa.Text),
    sa.Column("topics", sa.Text, nullable=False, default="[]"),
    sa.Column("source", sa.Text),
    # Schema 3: the release's language (en/fr/es) and the group linking its translations.
    sa.Column("language", sa.String(8), nullable=False, server_default="en"),
    sa.Column("release_group", sa.Text),
    sa.Column("added_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    # Which write stored this version of the row; increases in commit order (see
    # bot.store.ingest_batch.next_revision).
    sa.Column("revision", sa.BigInteger, nullable=False, index=True),
)
counters_table = _named("counters", "name", sa.Column("value", sa.BigInteger, nullable=False))
sources_table = sa.Table(
    "sources", metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("fingerprint", sa.Text),
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.Text),
    sa.Column("last_poll_at", sa.Float),
    sa.Column("last_ok_at", sa.Float),
    sa.Column("last_error", sa.Text),
    sa.Column("failures", sa.Integer, nullable=False, default=0),
    sa.Column("next_poll_at", sa.Float),
)
chats_table = sa.Table(
    "chats", metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("title", sa.Text),
    sa.Column("username", sa.Text),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("ended_reason", sa.Text),
    sa.Column("updated_at", sa.Float, nullable=False),
    # The bot's language in this chat as chosen with /language (None: not chosen) ...
    sa.Column("language", sa.String(8)),
    # ... and else the one it was last spoken to in (a private chat's user, or whoever
    # subscribed the chat), so alerts are framed in a language the chat reads.
    sa.Column("auto_language", sa.String(8)),
)
subscriptions_table = sa.Table(
    "subscriptions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("chat_id", sa.BigInteger, nullable=False, index=True),
    # 0, not NULL, for "no thread": NULLs never collide in a UNIQUE constraint.
    sa.Column("thread_id", sa.BigInteger, nullable=False, default=0),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("chat_id", "thread_id", "topic", name="uq_subscription"),
    # "instant", "daily" or "weekly" (schema 5); see bot.digest.
    sa.Column("cadence", sa.String(8), nullable=False, default=INSTANT, server_default=INSTANT),
    # Schema 7: planning reads only the subscriptions of the topics a release matches.
    sa.Index("ix_subscriptions_topic", "topic"),
)
outbox_table = sa.Table(
    "outbox", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("release_id", sa.Text, nullable=False),
    sa.Column("release_key", sa.String(32), nullable=False),
    sa.Column("chat_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("thread_id", sa.BigInteger, nullable=False, default=0),
    sa.Column("topics", sa.Text, nullable=False, default="[]"),
    sa.Column("status", sa.String(16), nullable=False, default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", sa.Float, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("sent_at", sa.Float),
    # Which process is sending the row, until when (a lease: a killed process's rows come
    # back when it ends). After Telegram's answer ``claimed_until`` becomes the time the
    # chat may get its next message, so every process keeps one chat's pace (see claim_due).
    sa.Column("claimed_by", sa.Text),
    sa.Column("claimed_until", sa.Float),
    sa.UniqueConstraint("release_key", "chat_id", "thread_id", name="uq_outbox_release_key"),
    # The next batch is read from this index in order, never by ranking every pending row.
    sa.Index("ix_outbox_queue", "status", "next_attempt_at", "id"),
    # Chats with a send in flight or whose turn has not come: a range of the newest leases.
    sa.Index("ix_outbox_claimed", "claimed_until"),
    # "" for an alert; "daily" / "weekly" for a row that goes out in a digest (schema 5).
    sa.Column("digest", sa.String(8), nullable=False, default="", server_default=""),
)
#: A chat's digest time (schema 5); a chat without a row uses bot.digest's default.
digest_schedules_table = sa.Table(
    "digest_schedules", metadata,
    sa.Column("chat_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("minute", sa.Integer, nullable=False),
    sa.Column("zone", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)
#: Search queries behind "More" buttons (button data is capped at 64 bytes).
saved_queries_table = sa.Table(
    "saved_queries", metadata,
    sa.Column("key", sa.String(32), primary_key=True),
    sa.Column("query", sa.Text, nullable=False),
    # When the query was last saved: every "More" page saves it again, so this is its last
    # use. Rows unused for a while are deleted (schema 8 indexes it for that).
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_saved_queries_created_at", "created_at"),
)
locks_table = _named("locks", "name", sa.Column("owner", sa.Text, nullable=False),
                     sa.Column("expires_at", sa.Float, nullable=False))

#: An outbox row's status: waiting to be sent, sent, given up, or its chat ended.
PENDING, SENT, FAILED, ENDED = "pending", "sent", "failed", "ended"
