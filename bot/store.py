"""All persistent state and all SQL: releases, sources, chats, subscriptions, the outbox, locks.

SQLAlchemy 2 Core over an async engine: a SQLite file by default, PostgreSQL by URL. The
schema carries a version number from the first release; :data:`MIGRATIONS` brings any older
database up to date when the store is opened.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import socket
import sqlite3
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import aiosqlite
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot import clock
from bot.digest import DIGESTS, INSTANT, DigestSchedule, next_slot, strongest
from bot.releases import Release, release_key

log = logging.getLogger(__name__)

_CHUNK = 500
#: Outbox rows written per statement when a release is planned.
_OUTBOX_SLICE = 2000

metadata = sa.MetaData()

meta_table = sa.Table(
    "meta", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
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
    # Which write stored this version of the row; increases in commit order (see _bump).
    sa.Column("revision", sa.BigInteger, nullable=False, index=True),
)
counters_table = sa.Table(
    "counters", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)
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
saved_queries_table = sa.Table(
    "saved_queries", metadata,
    sa.Column("key", sa.String(32), primary_key=True),
    sa.Column("query", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)
locks_table = sa.Table(
    "locks", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

PENDING, SENT, FAILED, ENDED = "pending", "sent", "failed", "ended"


async def _migrate_to_1(conn: AsyncConnection) -> None:
    await conn.run_sync(metadata.create_all)
    await conn.execute(counters_table.insert().values(name="releases", value=0))


async def _migrate_to_2(conn: AsyncConnection) -> None:
    """Ids of any length: releases and outbox rows gain the short ``key`` of their id.

    A fresh database already has the columns (``_migrate_to_1`` creates the current tables);
    then there is nothing to do.
    """
    columns = await conn.run_sync(
        lambda c: {col["name"] for col in sa.inspect(c).get_columns("releases")})
    if "key" in columns:
        return
    postgres = conn.dialect.name == "postgresql"
    await conn.execute(sa.text("ALTER TABLE releases ADD COLUMN key VARCHAR(32)"))
    await conn.execute(sa.text("ALTER TABLE outbox ADD COLUMN release_key VARCHAR(32)"))
    for table, id_col, key_col in (("releases", "id", "key"),
                                   ("outbox", "release_id", "release_key")):
        ids = (await conn.execute(sa.text(f"SELECT DISTINCT {id_col} FROM {table}"))).scalars()
        pairs = [{"i": i, "k": release_key(i)} for i in ids]
        for start in range(0, len(pairs), _CHUNK):
            await conn.execute(
                sa.text(f"UPDATE {table} SET {key_col} = :k WHERE {id_col} = :i"),
                pairs[start:start + _CHUNK])
    if postgres:  # ids were VARCHAR(64) there, and indexed: widen them, index the keys
        for statement in (
            "ALTER TABLE releases DROP CONSTRAINT releases_pkey",
            "ALTER TABLE releases ALTER COLUMN id TYPE TEXT",
            "ALTER TABLE releases ALTER COLUMN key SET NOT NULL",
            "ALTER TABLE releases ADD PRIMARY KEY (key)",
            "ALTER TABLE outbox DROP CONSTRAINT uq_outbox_delivery",
            "ALTER TABLE outbox ALTER COLUMN release_id TYPE TEXT",
            "ALTER TABLE outbox ALTER COLUMN release_key SET NOT NULL",
            "ALTER TABLE outbox ADD CONSTRAINT uq_outbox_release_key "
            "UNIQUE (release_key, chat_id, thread_id)",
        ):
            await conn.execute(sa.text(statement))
    else:  # SQLite enforces no lengths; its old keys stay, equivalent to these
        await conn.execute(sa.text("CREATE UNIQUE INDEX uq_releases_key ON releases (key)"))
        await conn.execute(sa.text("CREATE UNIQUE INDEX uq_outbox_release_key "
                                   "ON outbox (release_key, chat_id, thread_id)"))



async def _migrate_to_3(conn: AsyncConnection) -> None:
    """Releases get ``language`` and ``release_group``. A database created at version 1 by
    this code already has them (create_all uses today's tables), so only missing ones are
    added; existing rows become English and ungrouped."""
    def columns(sync_conn: Any) -> set[str]:
        return {c["name"] for c in sa.inspect(sync_conn).get_columns("releases")}

    present = await conn.run_sync(columns)
    if "language" not in present:
        await conn.execute(sa.text(
            "ALTER TABLE releases ADD COLUMN language VARCHAR(8) NOT NULL DEFAULT 'en'"))
    if "release_group" not in present:
        await conn.execute(sa.text("ALTER TABLE releases ADD COLUMN release_group TEXT"))


async def _add_missing_columns(conn: AsyncConnection, table: sa.Table,
                               names: Sequence[str]) -> None:
    """Add columns a database lacks (a fresh one already has them: step 1 creates the
    tables of today's metadata, and the later steps then run on top of it)."""
    have = await conn.run_sync(
        lambda c: {col["name"] for col in sa.inspect(c).get_columns(table.name)})
    for name in names:
        if name in have:
            continue
        column = table.c[name]
        kind = column.type.compile(dialect=conn.dialect)
        default = column.server_default.arg  # type: ignore[union-attr]
        await conn.execute(sa.text(
            f"ALTER TABLE {table.name} ADD COLUMN {name} {kind} NOT NULL DEFAULT '{default}'"))


async def _migrate_to_5(conn: AsyncConnection) -> None:
    """Digests: a cadence per subscription, a digest mark per outbox row, digest times."""
    await _add_missing_columns(conn, subscriptions_table, ["cadence"])
    await _add_missing_columns(conn, outbox_table, ["digest"])
    await conn.run_sync(lambda c: digest_schedules_table.create(c, checkfirst=True))


async def _migrate_to_4(conn: AsyncConnection) -> None:
    """Chats get ``language`` and ``auto_language`` (a database created at version 1 by this
    code already has them: ``create_all`` builds today's tables)."""
    have = await conn.run_sync(
        lambda c: {col["name"] for col in sa.inspect(c).get_columns("chats")})
    for name in ("language", "auto_language"):
        if name not in have:
            await conn.execute(sa.text(f"ALTER TABLE chats ADD COLUMN {name} VARCHAR(8)"))


async def _migrate_to_6(conn: AsyncConnection) -> None:
    """Several processes on one database: outbox claims (leases) and the batch index.

    The batch of due rows is read in ``(status, next_attempt_at, id)`` order from an index
    instead of a window over every pending row; ``claimed_until`` is indexed so the chats
    busy in any process are one short range scan. A fresh database already has all of it.
    """
    columns = await conn.run_sync(
        lambda c: {col["name"] for col in sa.inspect(c).get_columns("outbox")})
    for name, kind in (("claimed_by", "TEXT"),
                       ("claimed_until", "DOUBLE PRECISION"
                        if conn.dialect.name == "postgresql" else "FLOAT")):
        if name not in columns:
            await conn.execute(sa.text(f"ALTER TABLE outbox ADD COLUMN {name} {kind}"))
    for statement in (
        "DROP INDEX IF EXISTS ix_outbox_due",
        "CREATE INDEX IF NOT EXISTS ix_outbox_queue ON outbox (status, next_attempt_at, id)",
        "CREATE INDEX IF NOT EXISTS ix_outbox_claimed ON outbox (claimed_until)",
    ):
        await conn.execute(sa.text(statement))


async def _migrate_to_7(conn: AsyncConnection) -> None:
    """Subscriptions are read by topic when a release's alerts are planned (percolation)."""
    await conn.execute(sa.text(
        "CREATE INDEX IF NOT EXISTS ix_subscriptions_topic ON subscriptions (topic)"))


#: version -> step that brings a database at an older version to this one; steps run in
#: order, and numbers may have gaps (branches take their numbers in advance). Append, never
#: edit; the newest is the schema's version.
MIGRATIONS: dict[int, Callable[[AsyncConnection], Awaitable[None]]] = {
    1: _migrate_to_1, 2: _migrate_to_2, 3: _migrate_to_3, 4: _migrate_to_4,
    5: _migrate_to_5, 6: _migrate_to_6, 7: _migrate_to_7}
SCHEMA_VERSION = max(MIGRATIONS)


class StoreError(Exception):
    """The database cannot be opened or is from a newer version of newsbot."""


class StoreUnavailable(StoreError):
    """The database failed one operation: read-only, disk full, unreachable, locked too long.

    That operation's transaction was rolled back: nothing of it was stored. The store
    recovers by itself once the database works again (see :func:`_sqlite_fault`).
    ``writing`` tells whether something was to be saved (the reply to a person differs).
    """

    def __init__(self, message: str, *, writing: bool) -> None:
        super().__init__(message)
        self.writing = writing


class StoreGone(StoreUnavailable):
    """The SQLite file was deleted or replaced under the running bot: it must stop.

    Writing on would go to a deleted file (lost at exit) or to somebody else's; creating a
    fresh empty file would silently forget every subscription. Final: every later call raises.
    """


@dataclass(frozen=True)
class UpsertResult:
    """What an ingest did: releases new to the store, changed ones, and untouched ones."""

    new: list[Release]
    updated: list[Release]
    unchanged: int
    deliveries: int = 0
    #: The release revision this upsert took (each upsert takes one, even storing nothing).
    revision: int = 0


@dataclass(frozen=True)
class Subscription:
    """One chat's (or forum thread's) interest in a topic; ``topic == ""`` means everything."""

    id: int
    chat_id: int
    thread_id: int
    topic: str
    created_at: float
    #: "instant", "daily" or "weekly" (see bot.digest).
    cadence: str = INSTANT


@dataclass(frozen=True)
class Delivery:
    """An outbox row to create: this release goes to this chat because of these topics."""

    release_id: str
    chat_id: int
    thread_id: int
    topics: tuple[str, ...]
    #: "instant": due now; "daily" / "weekly": due at the chat's next digest slot.
    cadence: str = INSTANT


@dataclass(frozen=True)
class OutboxRow:
    """A delivery waiting in the outbox (or done with)."""

    id: int
    release_id: str
    chat_id: int
    thread_id: int
    topics: tuple[str, ...]
    status: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    #: "" for an alert, else the digest ("daily" / "weekly") this row goes out in.
    digest: str = ""
    claimed_by: str | None = None
    #: The claim's lease (wall clock) while pending; after a send, the chat's next turn.
    claimed_until: float | None = None


@dataclass(frozen=True)
class Chat:
    """A chat the bot knows: private, group, supergroup or channel."""

    id: int
    type: str
    title: str | None
    username: str | None
    active: bool
    #: Chosen with /language (None: not chosen).
    language: str | None = None
    #: The language the chat was last spoken to in, when none was chosen.
    auto_language: str | None = None


@dataclass(frozen=True)
class SourceState:
    """What the store remembers of a source between polls."""

    name: str
    fingerprint: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_poll_at: float | None = None
    last_ok_at: float | None = None
    last_error: str | None = None
    failures: int = 0
    next_poll_at: float | None = None


#: Given the new releases and every subscription, decide the outbox rows (owned by ingest).
PlanDeliveries = Callable[[Sequence[Release], Sequence[Subscription]], list[Delivery]]


def async_url(url: str) -> str:
    """Map a plain database URL to its async driver (aiosqlite / asyncpg)."""
    for plain, driver in (("sqlite://", "sqlite+aiosqlite://"),
                          ("postgresql://", "postgresql+asyncpg://"),
                          ("postgres://", "postgresql+asyncpg://")):
        if url.startswith(plain):
            return driver + url[len(plain):]
    return url


def process_identity() -> str:
    """``host:pid``, so a lock names who holds it and a dead holder on this host is spotted."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Store:
    """The bot's database. Open with :meth:`open`; every method is one short transaction."""

    def __init__(self, engine: AsyncEngine, path: str | None = None) -> None:
        self.engine = engine
        #: The SQLite file (None for PostgreSQL and :memory:) and its identity at opening.
        self.path = path
        self._identity = _file_identity(path) if path else None
        if path:
            event.listen(engine.sync_engine.pool, "connect", self._note_read_only)
            event.listen(engine.sync_engine.pool, "checkout", self._drop_if_read_only)
        #: Why the store is gone for good (see :class:`StoreGone`), once it is.
        self.gone: str | None = None
        self._shown = _safe_url(str(engine.url))

    @classmethod
    async def open(cls, url: str) -> Store:
        """Connect, create or migrate the schema, and return a ready store."""
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            folder = os.path.dirname(url[len("sqlite:///"):])
            if folder:
                os.makedirs(folder, exist_ok=True)
        shown = _safe_url(url)
        path = _sqlite_file(url)
        try:
            if path is not None:
                # Created here, once; the engine then opens it with mode=rw, so a file
                # deleted later is never silently re-created empty.
                sqlite3.connect(path).close()
                engine = create_async_engine(
                    async_url(url), async_creator=lambda: aiosqlite.connect(
                        f"file:{urllib.parse.quote(path)}?mode=rw", uri=True))
            else:
                engine = create_async_engine(
                    async_url(url), pool_pre_ping=not url.startswith("sqlite"))
        except Exception as exc:  # bad driver names, malformed URLs, unwritable folders
            raise StoreError(f"cannot use database {shown}: {exc}") from None
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(engine.sync_engine, "handle_error", _sqlite_fault)
        store = cls(engine, path)
        store._shown = shown
        try:
            await store._migrate()
        except StoreError:
            await engine.dispose()
            raise
        except Exception as exc:
            await engine.dispose()
            raise StoreError(f"cannot open database {shown}: {exc}") from None
        return store

    async def close(self) -> None:
        await self.engine.dispose()

    async def _migrate(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(lambda c: meta_table.create(c, checkfirst=True))
            row = (await conn.execute(
                sa.select(meta_table.c.value).where(meta_table.c.key == "schema_version")
            )).first()
            current = int(row[0]) if row else 0
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"database schema version {current} is newer than this newsbot "
                    f"({SCHEMA_VERSION}); upgrade newsbot")
            for version in sorted(v for v in MIGRATIONS if v > current):
                await MIGRATIONS[version](conn)
            if current == 0:
                await conn.execute(meta_table.insert().values(
                    key="schema_version", value=str(SCHEMA_VERSION)))
            elif current < SCHEMA_VERSION:
                await conn.execute(meta_table.update()
                                   .where(meta_table.c.key == "schema_version")
                                   .values(value=str(SCHEMA_VERSION)))

    async def schema_version(self) -> int:
        async with self._read() as conn:
            value = (await conn.execute(sa.select(meta_table.c.value)
                                        .where(meta_table.c.key == "schema_version"))).scalar()
        return int(value or 0)

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction; any database failure becomes :class:`StoreUnavailable`."""
        self.check_file()
        try:
            async with self.engine.begin() as conn:
                yield conn
        except _NOT_FAULTS:
            raise
        except _FAULTS as exc:
            raise self._unavailable(exc, writing=True) from exc

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reading; failures become :class:`StoreUnavailable` too."""
        if self.gone:
            raise StoreGone(self.gone, writing=False)
        try:
            async with self.engine.connect() as conn:
                yield conn
        except _NOT_FAULTS:
            raise
        except _FAULTS as exc:
            raise self._unavailable(exc, writing=False) from exc

    def _unavailable(self, exc: BaseException, *, writing: bool) -> StoreUnavailable:
        if self.path:
            with contextlib.suppress(StoreGone):
                self.check_file()  # a vanished file explains the failure best
            if self.gone:
                return StoreGone(self.gone, writing=writing)
        reason = exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig else exc
        if isinstance(reason, OSError) and reason.strerror:
            reason = reason.strerror
        text = " ".join(str(reason).split())[:200] or type(reason).__name__
        action = "save to" if writing else "read"
        return StoreUnavailable(f"could not {action} the database {self._shown}: {text}",
                                writing=writing)

    def check_file(self) -> None:
        """Raise :class:`StoreGone` if the SQLite file was deleted or replaced since opening.

        One ``stat`` call: cheap enough before every write and on a timer (see bot.app).
        """
        if self.gone:
            raise StoreGone(self.gone, writing=True)
        if self.path is None:
            return
        try:
            identity = _file_identity(self.path)
        except FileNotFoundError:
            what = "was deleted"
        except OSError as exc:
            # Unreadable folder, stale NFS handle: the next query will say more.
            log.debug("cannot check the database file %s: %s", self.path, exc)
            return
        else:
            if identity == self._identity:
                return
            what = "was replaced by another file"
        self.gone = (f"the database file {self.path} {what} while newsbot was running; "
                     f"stopped so that nothing is written to the wrong file. Put the file "
                     f"back (or remove it to start afresh) and start newsbot again")
        raise StoreGone(self.gone, writing=True)

    def _note_read_only(self, _dbapi_conn: Any, record: Any) -> None:
        """A connection opened while the file was not writable stays read-only for good."""
        record.info["read_only"] = not _writable(self.path)

    def _drop_if_read_only(self, _dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        """Once the file is writable again, replace such connections: the real cause of
        "subscriptions fail until restart" after a read-only spell."""
        if record.info.get("read_only") and _writable(self.path):
            raise sa.exc.DisconnectionError("connection was opened read-only")

    # -- releases ---------------------------------------------------------------------------

    async def upsert_releases(
        self,
        releases: Iterable[Release],
        source: str | None = None,
        plan: PlanDeliveries | None = None,
        progress: Callable[[int], None] | None = None,
        *,
        planned: Sequence[Delivery] | None = None,
    ) -> UpsertResult:
        """Insert new releases and update changed ones in ONE transaction.

        With ``plan``, the outbox rows for the new releases are written in that same
        transaction, so a crash can never keep a release and lose its alerts. ``planned``
        is the quick way: deliveries computed beforehand (see ``Ingestor``), of which the
        rows of releases that turn out new are written, in bulk, in that transaction.
        """
        now = time.time()
        batch = list(releases)
        new: list[Release] = []
        updated: list[Release] = []
        unchanged = 0
        deliveries: list[Delivery] = []
        async with self._tx() as conn:
            revision = await self._bump(conn, "releases")
            for start in range(0, len(batch), _CHUNK):
                chunk = batch[start:start + _CHUNK]
                existing = {
                    r.id: r for r in map(_release_from_row, (await conn.execute(
                        sa.select(releases_table).where(releases_table.c.key.in_(
                            [release_key(r.id) for r in chunk])))).mappings())
                }
                inserts, changes = [], []
                for release in chunk:
                    old = existing.get(release.id)
                    if old is None:
                        new.append(release)
                        inserts.append(_release_row(release, source, now, revision))
                        existing[release.id] = release
                    elif old != release:
                        updated.append(release)
                        changes.append(release)
                    else:
                        unchanged += 1
                if inserts:
                    await conn.execute(releases_table.insert(), inserts)
                for release in changes:
                    row = _release_row(release, source, now, revision)
                    del row["added_at"], row["id"], row["key"]
                    await conn.execute(releases_table.update()
                                       .where(releases_table.c.key == release_key(release.id))
                                       .values(**row))
                if progress:
                    progress(len(chunk))
            if plan is not None and new:
                subs = await self._subscriptions(conn, None)
                deliveries = plan(new, subs)
            elif planned and new:
                fresh = {r.id for r in new}
                deliveries = [d for d in planned if d.release_id in fresh]
            if deliveries:
                slots = await self._digest_slots(conn, deliveries)
                due_now = clock.now()  # the clock delivery compares due times with
                # In slices: the event loop runs between them (commands are answered while
                # a release reaching many chats is written), all in this one transaction.
                for start in range(0, len(deliveries), _OUTBOX_SLICE):
                    await conn.execute(outbox_table.insert(), [
                        {"release_id": d.release_id, "release_key": release_key(d.release_id),
                         "chat_id": d.chat_id,
                         "thread_id": d.thread_id, "topics": json.dumps(list(d.topics)),
                         "status": PENDING, "attempts": 0,
                         "next_attempt_at": slots.get((d.chat_id, d.cadence), due_now),
                         "digest": d.cadence if d.cadence in DIGESTS else "",
                         "created_at": now}
                        for d in deliveries[start:start + _OUTBOX_SLICE]])
        return UpsertResult(new, updated, unchanged, len(deliveries), revision)

    async def _digest_slots(self, conn: AsyncConnection,
                            deliveries: Sequence[Delivery]) -> dict[tuple[int, str], float]:
        """(chat, cadence) -> when that chat's next digest of that cadence is due."""
        wanted = {(d.chat_id, d.cadence) for d in deliveries if d.cadence in DIGESTS}
        if not wanted:
            return {}
        schedules = await self._digest_schedules(conn, {chat for chat, _ in wanted})
        now = clock.now()
        return {(chat, cadence): next_slot(now, schedules.get(chat, DigestSchedule()), cadence)
                for chat, cadence in wanted}

    @staticmethod
    async def _digest_schedules(conn: AsyncConnection,
                                chat_ids: Iterable[int]) -> dict[int, DigestSchedule]:
        ids = list(chat_ids)
        found: dict[int, DigestSchedule] = {}
        for start in range(0, len(ids), _CHUNK):
            rows = (await conn.execute(sa.select(digest_schedules_table).where(
                digest_schedules_table.c.chat_id.in_(ids[start:start + _CHUNK])))).mappings()
            for r in rows:
                found[r["chat_id"]] = DigestSchedule(r["minute"], r["zone"])
        return found

    async def all_releases(self) -> list[Release]:
        async with self._read() as conn:
            rows = (await conn.execute(sa.select(releases_table))).mappings()
            return [_release_from_row(r) for r in rows]

    async def get_release(self, release_id: str) -> Release | None:
        async with self._read() as conn:
            row = (await conn.execute(
                sa.select(releases_table).where(releases_table.c.key == release_key(release_id))
            )).mappings().first()
        return _release_from_row(row) if row else None

    async def latest_releases(self, limit: int, offset: int = 0) -> list[Release]:
        """Newest by date first (ties by id), like the search index's ``latest``."""
        async with self._read() as conn:
            rows = (await conn.execute(
                sa.select(releases_table)
                .order_by(releases_table.c.date.desc(), releases_table.c.id)
                .limit(limit).offset(offset))).mappings()
            return [_release_from_row(r) for r in rows]

    async def releases_updated_after(self, revision: int) -> tuple[list[Release], int]:
        """Releases written after ``revision`` (by any process), and the newest revision.

        A running bot uses this to pick up releases that ``newsbot import`` stored.
        Revisions follow commit order, so a long import that commits late is not skipped.
        """
        async with self._read() as conn:
            query = sa.select(releases_table).where(releases_table.c.revision > revision)
            rows = (await conn.execute(query)).mappings().all()
        newest = max((r["revision"] for r in rows), default=revision)
        return [_release_from_row(r) for r in rows], newest

    async def releases_page(self, after: tuple[int, str | None], limit: int
                            ) -> list[tuple[int, Release]]:
        """Up to ``limit`` (revision, release) pairs after ``after`` = (revision, id), in that
        order: a large store read in pages, so no one read holds every release at once.
        With id None, the page starts after every release of that revision."""
        revision, release_id = after
        later = releases_table.c.revision > revision
        if release_id is not None:
            later = sa.or_(later, sa.and_(releases_table.c.revision == revision,
                                          releases_table.c.id > release_id))
        async with self._read() as conn:
            rows = (await conn.execute(
                sa.select(releases_table)
                .where(later)
                .order_by(releases_table.c.revision, releases_table.c.id)
                .limit(limit))).mappings().all()
        return [(int(r["revision"]), _release_from_row(r)) for r in rows]

    async def instance_id(self) -> str:
        """A random id given to this database once, e.g. to tell its files from another's.

        Kept in the ``meta`` table (no schema change); made on first use.
        """
        query = sa.select(meta_table.c.value).where(meta_table.c.key == "instance_id")
        async with self._read() as conn:
            value = (await conn.execute(query)).scalar()
        if value is None:
            try:
                async with self._tx() as conn:
                    await conn.execute(meta_table.insert().values(
                        key="instance_id", value=os.urandom(16).hex()))
            except IntegrityError:
                pass  # another process made it first: use theirs
            async with self._read() as conn:
                value = (await conn.execute(query)).scalar_one()
        return str(value)

    @staticmethod
    async def _bump(conn: AsyncConnection, name: str) -> int:
        """The next value of a counter. Its row update is the transaction's first write, so
        it takes the write lock (SQLite) or the row lock (PostgreSQL) at once: concurrent
        writers queue here, and values increase in the order their transactions commit."""
        await conn.execute(counters_table.update().where(counters_table.c.name == name)
                           .values(value=counters_table.c.value + 1))
        return int((await conn.execute(sa.select(counters_table.c.value)
                                       .where(counters_table.c.name == name))).scalar_one())

    async def count_releases(self) -> int:
        async with self._read() as conn:
            return int((await conn.execute(
                sa.select(sa.func.count()).select_from(releases_table))).scalar() or 0)

    # -- sources ----------------------------------------------------------------------------

    async def source_state(self, name: str) -> SourceState | None:
        async with self._read() as conn:
            row = (await conn.execute(sa.select(sources_table)
                                      .where(sources_table.c.name == name))).mappings().first()
        return SourceState(**row) if row else None

    async def save_source_state(self, state: SourceState) -> None:
        values = {k: getattr(state, k) for k in SourceState.__dataclass_fields__}
        async with self._tx() as conn:
            await _update_or_insert(conn, sources_table, sources_table.c.name == state.name,
                                    values, {"name": state.name})

    async def claim_source_poll(self, name: str, now: float, min_gap: float) -> bool:
        """Record a poll of source ``name`` starting now, unless one started less than
        ``min_gap`` seconds ago (by any process): True when this caller may poll it.

        One conditional update, so two processes (an old leader that has not noticed it
        lost its lease, and the new one) never both poll a source in the same interval.
        """
        async with self._tx() as conn:
            moved = (await conn.execute(sources_table.update().where(
                sources_table.c.name == name,
                sa.or_(sources_table.c.last_poll_at.is_(None),
                       sources_table.c.last_poll_at <= now - min_gap),
            ).values(last_poll_at=now))).rowcount
            if moved:
                return True
            if (await conn.execute(sa.select(sources_table.c.name)
                                   .where(sources_table.c.name == name))).first():
                return False
            try:
                async with conn.begin_nested():
                    await conn.execute(sources_table.insert().values(
                        name=name, last_poll_at=now, failures=0))
                return True
            except IntegrityError:
                return False

    async def source_states(self) -> list[SourceState]:
        async with self._read() as conn:
            rows = (await conn.execute(sa.select(sources_table)
                                       .order_by(sources_table.c.name))).mappings()
            return [SourceState(**r) for r in rows]

    # -- chats and subscriptions ------------------------------------------------------------

    async def save_chat(self, chat_id: int, type_: str, title: str | None = None,
                        username: str | None = None, auto_language: str | None = None) -> None:
        """Remember a chat (or refresh its title); a chat seen again becomes active again.

        ``auto_language`` (when given) is the language it was just spoken to in.
        """
        values: dict[str, Any] = {"type": type_, "title": title, "username": username,
                                  "active": True, "ended_reason": None,
                                  "updated_at": time.time()}
        if auto_language is not None:
            values["auto_language"] = auto_language
        async with self._tx() as conn:
            await _update_or_insert(conn, chats_table, chats_table.c.id == chat_id, values,
                                    {"id": chat_id})

    async def get_chat(self, chat_id: int) -> Chat | None:
        async with self._read() as conn:
            row = (await conn.execute(sa.select(chats_table)
                                      .where(chats_table.c.id == chat_id))).mappings().first()
        return _chat_from_row(row) if row else None

    async def set_chat_language(self, chat_id: int, type_: str, language: str | None,
                                title: str | None = None, username: str | None = None) -> None:
        """Record the language chosen for a chat with /language (None: follow its users)."""
        async with self._tx() as conn:
            await _update_or_insert(
                conn, chats_table, chats_table.c.id == chat_id,
                {"language": language, "updated_at": time.time()},
                {"id": chat_id, "type": type_, "title": title, "username": username,
                 "active": True})

    async def note_auto_language(self, chat_id: int, language: str) -> None:
        """The language a known chat was just spoken to in (nothing for unknown chats)."""
        async with self._tx() as conn:
            await conn.execute(chats_table.update().where(chats_table.c.id == chat_id)
                               .values(auto_language=language))

    async def add_subscription(self, chat_id: int, thread_id: int, topic: str,
                               cadence: str = INSTANT) -> bool:
        """Subscribe; False when that exact subscription already exists."""
        try:
            async with self._tx() as conn:
                await conn.execute(subscriptions_table.insert().values(
                    chat_id=chat_id, thread_id=thread_id, topic=topic, created_at=time.time(),
                    cadence=cadence))
            return True
        except IntegrityError:  # the unique constraint: a duplicate, however concurrent
            return False

    async def set_cadence(self, chat_id: int, thread_id: int, topic: str,
                          cadence: str) -> bool:
        """Change how a subscription is delivered and re-plan the chat's pending digest rows
        by the cadences they now have. False when there is no such subscription."""
        async with self._tx() as conn:
            changed = (await conn.execute(subscriptions_table.update().where(
                subscriptions_table.c.chat_id == chat_id,
                subscriptions_table.c.thread_id == thread_id,
                subscriptions_table.c.topic == topic).values(cadence=cadence))).rowcount
            if changed:
                await self._replan_digests(conn, chat_id)
            return bool(changed)

    async def digest_schedule(self, chat_id: int) -> DigestSchedule:
        """The chat's digest time (the default when it never chose one)."""
        async with self._read() as conn:
            return (await self._digest_schedules(conn, [chat_id])).get(chat_id, DigestSchedule())

    async def set_digest_schedule(self, chat_id: int, schedule: DigestSchedule) -> int:
        """Set the chat's digest time and move its pending digest rows to the new slots, in
        one transaction. Returns how many pending releases were re-planned."""
        values = {"minute": schedule.minute, "zone": schedule.zone, "updated_at": time.time()}
        async with self._tx() as conn:
            await _update_or_insert(conn, digest_schedules_table,
                                    digest_schedules_table.c.chat_id == chat_id, values,
                                    {"chat_id": chat_id})
            return await self._replan_digests(conn, chat_id)

    async def _replan_digests(self, conn: AsyncConnection, chat_id: int) -> int:
        """Give each pending digest row of the chat the cadence its topics now have (the
        soonest of its thread's matching subscriptions; unchanged when none is left) and
        that cadence's next slot; a row whose topics became instant is due now."""
        rows = (await conn.execute(sa.select(outbox_table).where(
            outbox_table.c.chat_id == chat_id, outbox_table.c.status == PENDING,
            outbox_table.c.digest != ""))).mappings().all()
        if not rows:
            return 0
        subs = await self._subscriptions(conn, chat_id)
        schedule = (await self._digest_schedules(conn, [chat_id])).get(chat_id,
                                                                        DigestSchedule())
        now = clock.now()
        for row in rows:
            topics = set(json.loads(row["topics"] or "[]"))
            cadences = [s.cadence for s in subs
                        if s.thread_id == row["thread_id"] and s.topic in topics]
            cadence = strongest(cadences) if cadences else row["digest"]
            values: dict[str, Any] = {"digest": "", "next_attempt_at": now}
            if cadence in DIGESTS:
                values = {"digest": cadence,
                          "next_attempt_at": next_slot(now, schedule, cadence)}
            await conn.execute(outbox_table.update().where(outbox_table.c.id == row["id"])
                               .values(**values))
        return len(rows)

    async def count_subscriptions(self, chat_id: int) -> int:
        async with self._read() as conn:
            return int((await conn.execute(
                sa.select(sa.func.count()).select_from(subscriptions_table)
                .where(subscriptions_table.c.chat_id == chat_id))).scalar() or 0)

    async def remove_subscription(self, chat_id: int, thread_id: int, topic: str) -> bool:
        async with self._tx() as conn:
            result = await conn.execute(subscriptions_table.delete().where(
                subscriptions_table.c.chat_id == chat_id,
                subscriptions_table.c.thread_id == thread_id,
                subscriptions_table.c.topic == topic))
            return result.rowcount > 0

    async def get_subscription(self, sub_id: int) -> Subscription | None:
        """One subscription by id (a remove button carries only the id)."""
        async with self._read() as conn:
            row = (await conn.execute(sa.select(subscriptions_table).where(
                subscriptions_table.c.id == sub_id))).mappings().first()
        return Subscription(**row) if row else None

    async def remove_subscription_by_id(self, chat_id: int, sub_id: int) -> Subscription | None:
        """Remove one subscription of this chat by its id (for inline "remove" buttons)."""
        async with self._tx() as conn:
            row = (await conn.execute(sa.select(subscriptions_table).where(
                subscriptions_table.c.id == sub_id,
                subscriptions_table.c.chat_id == chat_id))).mappings().first()
            if row is None:
                return None
            await conn.execute(subscriptions_table.delete()
                               .where(subscriptions_table.c.id == sub_id))
            return Subscription(**row)

    async def remove_all_subscriptions(self, chat_id: int, thread_id: int | None = None) -> int:
        """End every subscription of a chat (of one forum thread, when given)."""
        cond = [subscriptions_table.c.chat_id == chat_id]
        if thread_id is not None:
            cond.append(subscriptions_table.c.thread_id == thread_id)
        async with self._tx() as conn:
            return (await conn.execute(subscriptions_table.delete().where(*cond))).rowcount

    async def subscriptions(self, chat_id: int | None = None) -> list[Subscription]:
        """One chat's subscriptions (every chat's with ``None``), oldest first."""
        async with self._read() as conn:
            return await self._subscriptions(conn, chat_id)

    @staticmethod
    async def _subscriptions(conn: AsyncConnection, chat_id: int | None) -> list[Subscription]:
        query = sa.select(subscriptions_table).order_by(subscriptions_table.c.id)
        if chat_id is not None:
            query = query.where(subscriptions_table.c.chat_id == chat_id)
        return [Subscription(**r) for r in (await conn.execute(query)).mappings()]

    async def subscriptions_of_topics(self, topics: Sequence[str],
                                      page: int = 5000) -> AsyncIterator[list[Subscription]]:
        """The subscriptions to these topic keys, a page at a time (through the topic index:
        planning reads only the subscriptions a release matched)."""
        for start in range(0, len(topics), _CHUNK):
            # No ORDER BY: it could make the database walk the whole table by id instead of
            # the topic index (callers order what they keep).
            query = (sa.select(subscriptions_table)
                     .where(subscriptions_table.c.topic.in_(topics[start:start + _CHUNK])))
            async with self._read() as conn:
                result = await conn.stream(query)
                async for rows in result.mappings().partitions(page):
                    yield [Subscription(**r) for r in rows]

    async def topics_since(self, after_id: int) -> tuple[set[str], int]:
        """Distinct topics of subscriptions with an id above ``after_id``, and the highest id
        (``after_id`` 0: every topic). Keeps a topic index in step with other processes."""
        async with self._read() as conn:
            top = (await conn.execute(sa.select(sa.func.max(subscriptions_table.c.id)))).scalar()
            topics = (await conn.execute(
                sa.select(subscriptions_table.c.topic).distinct()
                .where(subscriptions_table.c.id > after_id))).scalars().all()
        return set(topics), max(int(top or 0), after_id)

    async def known_release_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of these release ids are stored already."""
        found: set[str] = set()
        async with self._read() as conn:
            for start in range(0, len(ids), _CHUNK):
                keys = [release_key(i) for i in ids[start:start + _CHUNK]]
                found.update((await conn.execute(sa.select(releases_table.c.id).where(
                    releases_table.c.key.in_(keys)))).scalars())
        return found

    async def end_chat(self, chat_id: int, reason: str) -> int:
        """The chat is gone for us (blocked, kicked, deleted): end its subscriptions and
        pending deliveries. Returns how many subscriptions ended."""
        async with self._tx() as conn:
            ended = (await conn.execute(subscriptions_table.delete()
                                        .where(subscriptions_table.c.chat_id == chat_id))).rowcount
            await conn.execute(outbox_table.update().where(
                outbox_table.c.chat_id == chat_id, outbox_table.c.status == PENDING,
            ).values(status=ENDED, last_error=reason))
            await conn.execute(chats_table.update().where(chats_table.c.id == chat_id)
                               .values(active=False, ended_reason=reason, updated_at=time.time()))
            return ended

    async def migrate_chat(self, old_id: int, new_id: int) -> None:
        """A group became a supergroup: its subscriptions and pending rows move to the new id."""
        async with self._tx() as conn:
            old_subs = await self._subscriptions(conn, old_id)
            have = {(s.thread_id, s.topic) for s in await self._subscriptions(conn, new_id)}
            for sub in old_subs:
                if (sub.thread_id, sub.topic) not in have:
                    await conn.execute(subscriptions_table.insert().values(
                        chat_id=new_id, thread_id=sub.thread_id, topic=sub.topic,
                        created_at=sub.created_at, cadence=sub.cadence))
            await conn.execute(subscriptions_table.delete()
                               .where(subscriptions_table.c.chat_id == old_id))
            await conn.execute(digest_schedules_table.update().where(
                digest_schedules_table.c.chat_id == old_id,
                ~sa.exists().where(digest_schedules_table.c.chat_id == new_id),
            ).values(chat_id=new_id))
            pending = (await conn.execute(sa.select(outbox_table).where(
                outbox_table.c.chat_id == old_id,
                outbox_table.c.status == PENDING))).mappings().all()
            for row in pending:
                clash = (await conn.execute(sa.select(outbox_table.c.id).where(
                    outbox_table.c.release_key == row["release_key"],
                    outbox_table.c.chat_id == new_id,
                    outbox_table.c.thread_id == row["thread_id"]))).first()
                if clash:
                    await conn.execute(outbox_table.update().where(outbox_table.c.id == row["id"])
                                       .values(status=ENDED, last_error="migrated"))
                else:
                    # A digest row keeps its slot; an alert is due at once.
                    due = row["next_attempt_at"] if row["digest"] else clock.now()
                    await conn.execute(outbox_table.update().where(outbox_table.c.id == row["id"])
                                       .values(chat_id=new_id, next_attempt_at=due,
                                               claimed_by=None, claimed_until=None))
            old_chat = (await conn.execute(sa.select(chats_table)
                                           .where(chats_table.c.id == old_id))).mappings().first()
            if old_chat and not (await conn.execute(
                    sa.select(chats_table.c.id).where(chats_table.c.id == new_id))).first():
                await conn.execute(chats_table.insert().values(
                    id=new_id, type="supergroup", title=old_chat["title"],
                    username=old_chat["username"], active=True, updated_at=time.time(),
                    language=old_chat["language"], auto_language=old_chat["auto_language"]))
            await conn.execute(chats_table.update().where(chats_table.c.id == old_id).values(
                active=False, ended_reason=f"migrated to {new_id}", updated_at=time.time()))

    # -- outbox -----------------------------------------------------------------------------

    async def due_deliveries(self, now: float, limit: int,
                             per_chat: int | None = None) -> list[OutboxRow]:
        """Pending rows whose time has come, oldest first (without claiming them).

        With ``per_chat``, at most that many (the oldest) of each chat: the sender can only
        send about one message a second to a chat, so a chat with hundreds of pending rows must
        not fill the batch and hide every other chat's rows behind it.
        """
        async with self._read() as conn:
            rows = await _due_rows(conn, now, limit, per_chat=per_chat, skip=set())
        return [_outbox_from_row(r) for r in rows]

    async def claim_due(self, owner: str, now: float, limit: int, lease: float,
                        skip_chats: Collection[int] = ()) -> list[OutboxRow]:
        """Claim up to ``limit`` due rows for ``owner`` until ``now + lease``, oldest first.

        At most one row per chat, and none for a chat that has a live claim anywhere (a send
        in flight in some process, or a chat whose turn has not come since its last answer,
        see :meth:`mark_sent`) or is in ``skip_chats``: so two processes never send the same
        row, nor two messages to one chat at once. A claim whose process dies simply expires.
        On PostgreSQL the claims of all processes take turns on a transaction-level advisory
        lock (a few milliseconds each), so two claimers never pick rows of one chat at once;
        rows another transaction has locked (being marked) are skipped, not waited for.
        """
        postgres = self.engine.dialect.name == "postgresql"
        async with self._tx() as conn:
            if postgres:
                await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": _CLAIM_LOCK})
            busy = set(skip_chats)
            busy.update((await conn.execute(
                sa.select(outbox_table.c.chat_id)
                .where(outbox_table.c.claimed_until >= now))).scalars())
            rows = await _due_rows(conn, now, limit, per_chat=1, skip=busy,
                                   unclaimed=True, lock=postgres)
            if not rows:
                return []
            until = now + lease
            ids = [r["id"] for r in rows]
            for start in range(0, len(ids), _CHUNK):
                await conn.execute(outbox_table.update()
                                   .where(outbox_table.c.id.in_(ids[start:start + _CHUNK]))
                                   .values(claimed_by=owner, claimed_until=until))
        return [_outbox_from_row({**r, "claimed_by": owner, "claimed_until": until})
                for r in rows]

    async def release_claims(self, owners: Collection[str]) -> int:
        """Give back the pending rows claimed by ``owners`` (stopped or dead processes)."""
        if not owners:
            return 0
        async with self._tx() as conn:
            return (await conn.execute(outbox_table.update().where(
                outbox_table.c.status == PENDING,
                outbox_table.c.claimed_by.in_(list(owners)),
            ).values(claimed_by=None, claimed_until=None))).rowcount

    async def claim_holders(self, now: float) -> set[str]:
        """The owners of live claims on pending rows (to spot dead processes)."""
        async with self._read() as conn:
            return set((await conn.execute(
                sa.select(outbox_table.c.claimed_by).distinct().where(
                    outbox_table.c.claimed_until >= now,
                    outbox_table.c.status == PENDING,
                    outbox_table.c.claimed_by.is_not(None)))).scalars())

    async def release_claim(self, row_id: int, owner: str) -> None:
        """Give one claimed row back unsent (its lease was too close to running out)."""
        async with self._tx() as conn:
            await conn.execute(outbox_table.update().where(
                outbox_table.c.id == row_id, outbox_table.c.claimed_by == owner,
                outbox_table.c.status == PENDING).values(claimed_by=None, claimed_until=None))

    async def due_digest_rows(self, chat_id: int, thread_id: int,
                              now: float) -> list[OutboxRow]:
        """Every due pending digest row of one chat and thread, oldest first: one digest."""
        query = sa.select(outbox_table).where(
            outbox_table.c.chat_id == chat_id, outbox_table.c.thread_id == thread_id,
            outbox_table.c.status == PENDING, outbox_table.c.digest != "",
            outbox_table.c.next_attempt_at <= now).order_by(outbox_table.c.id)
        async with self._read() as conn:
            return [_outbox_from_row(r) for r in (await conn.execute(query)).mappings()]

    async def next_due_at(self) -> float | None:
        """When the earliest pending row is due, or None with nothing pending."""
        async with self._read() as conn:
            return (await conn.execute(sa.select(sa.func.min(outbox_table.c.next_attempt_at))
                                       .where(outbox_table.c.status == PENDING))).scalar()

    # ``chat_free_at``: when the row's chat may get its next message (the answer's time plus
    # the chat's gap). It stays on the row as ``claimed_until``, which every process's
    # claim_due honours; None clears the claim.

    async def mark_sent(self, row_id: int | Sequence[int], sent_at: float | None = None,
                        chat_free_at: float | None = None) -> None:
        """One row, or all the rows of a digest part together, after Telegram's ok."""
        await self._update_outbox(row_id, status=SENT, sent_at=sent_at or time.time(),
                                  attempts=outbox_table.c.attempts + 1,
                                  claimed_until=chat_free_at)

    async def mark_retry(self, row_id: int | Sequence[int], next_attempt_at: float, error: str,
                         count_attempt: bool = True, chat_free_at: float | None = None) -> None:
        """Try again later; a 429 pause is not the row's fault, so it may not count."""
        attempts = outbox_table.c.attempts + (1 if count_attempt else 0)
        await self._update_outbox(row_id, next_attempt_at=next_attempt_at, last_error=error,
                                  attempts=attempts, claimed_by=None,
                                  claimed_until=chat_free_at)

    async def mark_failed(self, row_id: int | Sequence[int], error: str,
                          chat_free_at: float | None = None) -> None:
        await self._update_outbox(row_id, status=FAILED, last_error=error,
                                  attempts=outbox_table.c.attempts + 1,
                                  claimed_until=chat_free_at)

    async def _update_outbox(self, row_id: int | Sequence[int], **values: Any) -> None:
        ids = [row_id] if isinstance(row_id, int) else list(row_id)
        if not ids:
            return
        async with self._tx() as conn:  # all together, in chunks the drivers accept
            for start in range(0, len(ids), _CHUNK):
                await conn.execute(outbox_table.update().where(
                    outbox_table.c.id.in_(ids[start:start + _CHUNK])).values(**values))

    async def outbox_rows(self, chat_id: int | None = None) -> list[OutboxRow]:
        query = sa.select(outbox_table).order_by(outbox_table.c.id)
        if chat_id is not None:
            query = query.where(outbox_table.c.chat_id == chat_id)
        async with self._read() as conn:
            return [_outbox_from_row(r) for r in (await conn.execute(query)).mappings()]

    # -- saved search queries (for "More" buttons, whose data is capped at 64 bytes) --------

    async def save_query(self, query: str) -> str:
        """Store a search query under a short key that survives restarts; same query, same key."""
        key = hashlib.sha1(query.encode()).hexdigest()[:16]
        async with self._tx() as conn:
            exists = (await conn.execute(sa.select(saved_queries_table.c.key)
                                         .where(saved_queries_table.c.key == key))).first()
            if not exists:
                await conn.execute(saved_queries_table.insert().values(
                    key=key, query=query, created_at=time.time()))
        return key

    async def saved_query(self, key: str) -> str | None:
        async with self._read() as conn:
            return (await conn.execute(sa.select(saved_queries_table.c.query)
                                       .where(saved_queries_table.c.key == key))).scalar()

    # -- locks ------------------------------------------------------------------------------

    async def acquire_lock(self, name: str, owner: str, ttl: float,
                           is_stale: Callable[[str], bool] = lambda _owner: False) -> str | None:
        """Take or renew a named lock. Returns None on success, else the current holder.

        ``is_stale(owner)`` lets the caller declare a holder dead (a process on this host
        that no longer exists) so a restart after a crash need not wait for the expiry.
        """
        now = time.time()
        async with self._tx() as conn:
            row = (await conn.execute(sa.select(locks_table)
                                      .where(locks_table.c.name == name))).mappings().first()
            if row is None:
                try:
                    async with conn.begin_nested():
                        await conn.execute(locks_table.insert().values(
                            name=name, owner=owner, expires_at=now + ttl))
                    return None
                except IntegrityError:  # another process took it at this very moment
                    return str((await conn.execute(sa.select(locks_table.c.owner).where(
                        locks_table.c.name == name))).scalar_one())
            if row["owner"] == owner or row["expires_at"] < now or is_stale(row["owner"]):
                await conn.execute(locks_table.update().where(
                    locks_table.c.name == name, locks_table.c.owner == row["owner"],
                ).values(owner=owner, expires_at=now + ttl))
                return None
            return str(row["owner"])

    async def release_lock(self, name: str, owner: str) -> None:
        async with self._tx() as conn:
            await conn.execute(locks_table.delete().where(
                locks_table.c.name == name, locks_table.c.owner == owner))

    # -- the shared sending budget (PostgreSQL) -------------------------------------------

    async def claim_send_slots(self, name: str, count: int, now_slot: int,
                               limit_slot: int) -> tuple[int, int]:
        """Take up to ``count`` consecutive slots of the global grid ``name``.

        Slot numbers count intervals of a wall-clock grid that every process shares; the
        counter holds the first slot nobody owns. Slots before ``now_slot`` are gone, and
        none is handed out at or past ``limit_slot`` (how far ahead a caller may book).
        Returns ``(first, end)``: the caller owns ``first .. end-1`` (none when equal).
        """
        query = sa.text(
            "WITH cur AS (SELECT GREATEST(value, :now) AS start FROM counters "
            "WHERE name = :name FOR UPDATE) "
            "UPDATE counters SET value = GREATEST(cur.start, LEAST(cur.start + :count, :lim)) "
            "FROM cur WHERE counters.name = :name RETURNING cur.start, counters.value")
        params = {"name": name, "now": now_slot, "count": count, "lim": limit_slot}
        async with self._tx() as conn:
            row = (await conn.execute(query, params)).first()
            if row is None:
                await conn.execute(sa.text(
                    "INSERT INTO counters (name, value) VALUES (:name, :now) "
                    "ON CONFLICT (name) DO NOTHING"), params)
                row = (await conn.execute(query, params)).one()
        return int(row[0]), int(row[1])

    async def push_send_slots(self, name: str, slot: int) -> None:
        """Hand out no slot of grid ``name`` before ``slot`` (a 429 pauses every process)."""
        async with self._tx() as conn:
            await conn.execute(counters_table.update().where(
                counters_table.c.name == name, counters_table.c.value < slot,
            ).values(value=slot))

    # -- figures ----------------------------------------------------------------------------

    async def stats(self) -> dict[str, Any]:
        """Counts for /stats: releases, chats by type, subscriptions by chat type, outbox."""
        async with self._read() as conn:
            releases = (await conn.execute(
                sa.select(sa.func.count()).select_from(releases_table))).scalar() or 0
            chats = dict((await conn.execute(
                sa.select(chats_table.c.type, sa.func.count()).where(chats_table.c.active)
                .group_by(chats_table.c.type))).all())
            join = subscriptions_table.outerjoin(
                chats_table, chats_table.c.id == subscriptions_table.c.chat_id)
            subs = dict((await conn.execute(
                sa.select(sa.func.coalesce(chats_table.c.type, "unknown"), sa.func.count())
                .select_from(join).group_by(chats_table.c.type))).all())
            outbox = dict((await conn.execute(
                sa.select(outbox_table.c.status, sa.func.count())
                .group_by(outbox_table.c.status))).all())
        return {"releases": int(releases), "chats": chats, "subscriptions": subs,
                "outbox": outbox}

    async def ping(self) -> None:
        """One trivial query: raises when the database does not answer (for /healthz), or
        when its file was deleted or replaced (pooled connections would still read the old
        one)."""
        self.check_file()
        async with self._read() as conn:
            await conn.execute(sa.select(1))

    async def outbox_backlog(self) -> tuple[int, float | None]:
        """Pending outbox rows and the creation time of the oldest (None when none).

        One pass over the pending rows through the ``(status, next_attempt_at)`` index, so
        it costs what is pending, not the outbox's whole history (for /metrics).
        """
        query = (sa.select(sa.func.count(), sa.func.min(outbox_table.c.created_at))
                 .where(outbox_table.c.status == PENDING))
        async with self._read() as conn:
            count, oldest = (await conn.execute(query)).one()
        return int(count or 0), (float(oldest) if oldest is not None else None)


async def _update_or_insert(conn: AsyncConnection, table: sa.Table, where: Any,
                            values: dict[str, Any], key: dict[str, Any]) -> None:
    """Update the row, or insert it; if another writer inserted it meanwhile, update it.

    The insert runs in a savepoint so that losing the race leaves the transaction usable.
    """
    if (await conn.execute(table.update().where(where).values(values))).rowcount:
        return
    try:
        async with conn.begin_nested():
            await conn.execute(table.insert().values({**key, **values}))
    except IntegrityError:
        await conn.execute(table.update().where(where).values(values))


#: The key of the PostgreSQL advisory lock that claims of outbox rows take turns on.
_CLAIM_LOCK = 0x6E657773_626F7401  # "newsbot" + 1
#: How many due rows one batch looks through at most to find rows of distinct free chats.
_MAX_EXAMINED = 5_000


async def _due_rows(conn: AsyncConnection, now: float, limit: int, *, per_chat: int | None,
                    skip: set[int], unclaimed: bool = False,
                    lock: bool = False) -> list[dict[str, Any]]:
    """Due pending rows in ``(next_attempt_at, id)`` order, read page by page from the
    ``ix_outbox_queue`` index: the cost is the rows looked at, not the rows pending.

    With ``per_chat`` a chat's rows beyond its first ``per_chat`` (its oldest) are passed
    over, like those of the chats in ``skip``; the pages go on (up to ``_MAX_EXAMINED`` rows)
    until ``limit`` rows are found, so one chat with thousands of due rows at the head of the
    queue cannot hide the others. ``lock``: PostgreSQL ``FOR UPDATE SKIP LOCKED``.
    """
    o = outbox_table.c
    page = max(limit * 2, 100) if per_chat is not None else limit
    picked: list[dict[str, Any]] = []
    taken: dict[int, int] = {}
    after: tuple[float, int] | None = None
    examined = 0
    while len(picked) < limit and examined < _MAX_EXAMINED:
        query = sa.select(outbox_table).where(o.status == PENDING, o.next_attempt_at <= now)
        if unclaimed:
            query = query.where(sa.or_(o.claimed_until.is_(None), o.claimed_until < now))
        if after is not None:  # keyset paging on the index's own order
            query = query.where(sa.tuple_(o.status, o.next_attempt_at, o.id)
                                > sa.tuple_(sa.literal(PENDING), after[0], after[1]))
        query = query.order_by(o.status, o.next_attempt_at, o.id).limit(page)
        if lock:
            query = query.with_for_update(skip_locked=True)
        rows = [dict(r) for r in (await conn.execute(query)).mappings()]
        examined += len(rows)
        for row in rows:
            chat = row["chat_id"]
            if chat in skip or (per_chat is not None and taken.get(chat, 0) >= per_chat):
                continue
            taken[chat] = taken.get(chat, 0) + 1
            picked.append(row)
            if len(picked) >= limit:
                break
        if len(rows) < page:
            break
        after = (rows[-1]["next_attempt_at"], rows[-1]["id"])
    return picked


def _safe_url(url: str) -> str:
    """The URL for messages: a password in it is masked."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # unparsable: then there is no password to find either
        return url


#: Database failures that are the database's, not a bug's or the data's: they become
#: :class:`StoreUnavailable`. Integrity errors are answers (a duplicate) that callers handle.
_FAULTS = (sa.exc.DBAPIError, sa.exc.TimeoutError, OSError)
_NOT_FAULTS = (sa.exc.IntegrityError, sa.exc.ProgrammingError, sa.exc.DataError)
#: SQLite errors after which a pooled connection may stay broken: it is replaced.
_STALE_CONNECTION = ("readonly database", "disk i/o error", "unable to open database file",
                     "no such table")


def _sqlite_file(url: str) -> str | None:
    """The file of a SQLite URL (None for :memory: and other databases)."""
    if not url.startswith("sqlite:///") or url == "sqlite:///:memory:":
        return None
    path = url[len("sqlite:///"):].split("?", 1)[0]
    return path if path and path != ":memory:" else None


def _file_identity(path: str) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_dev, stat.st_ino


def _writable(path: str | None) -> bool:
    return path is not None and os.access(path, os.W_OK)


def _sqlite_fault(context: Any) -> None:
    """SQLAlchemy's handle_error hook: treat "read-only", "disk I/O" and "cannot open" as a
    lost connection, so the pool replaces its connections instead of keeping broken ones."""
    message = str(context.original_exception).lower()
    if any(marker in message for marker in _STALE_CONNECTION):
        context.is_disconnect = True


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets the bot read while an import writes; busy_timeout rides out short write locks.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _release_row(release: Release, source: str | None, now: float,
                 revision: int) -> dict[str, Any]:
    return {
        "key": release_key(release.id), "id": release.id, "kind": release.kind,
        "title": release.title, "date": release.date,
        "place": release.place, "summary": release.summary, "url": release.url,
        "topics": json.dumps(list(release.topics), ensure_ascii=False),
        "language": release.language, "release_group": release.group,
        "source": source, "added_at": now, "updated_at": now, "revision": revision,
    }


def _release_from_row(row: Any) -> Release:
    when = row["date"]
    return Release(
        id=row["id"], kind=row["kind"], title=row["title"],
        date=when if isinstance(when, date) else date.fromisoformat(str(when)),
        place=row["place"], summary=row["summary"], url=row["url"],
        topics=tuple(json.loads(row["topics"] or "[]")),
        language=row["language"] or "en", group=row["release_group"],
    )


def _outbox_from_row(row: Any) -> OutboxRow:
    return OutboxRow(
        id=row["id"], release_id=row["release_id"], chat_id=row["chat_id"],
        thread_id=row["thread_id"], topics=tuple(json.loads(row["topics"] or "[]")),
        status=row["status"], attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"], last_error=row["last_error"],
        digest=row["digest"] or "",
        claimed_by=row.get("claimed_by"), claimed_until=row.get("claimed_until"),
    )


def _chat_from_row(row: Any) -> Chat:
    return Chat(id=row["id"], type=row["type"], title=row["title"],
                username=row["username"], active=bool(row["active"]),
                language=row["language"], auto_language=row["auto_language"])
