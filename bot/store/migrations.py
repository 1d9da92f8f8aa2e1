"""Schema versions: each step brings a database at an older version to the next one.

The schema carries a version number from the first release (in the ``meta`` table);
:func:`migrate` runs the missing steps when the store is opened. A fresh database is created
from today's tables by step 1, and the later steps then find their work already done.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.releases import release_key
from bot.store.errors import StoreError
from bot.store.schema import (
    chats_table,
    counters_table,
    digest_schedules_table,
    meta_table,
    metadata,
    outbox_table,
    releases_table,
    subscriptions_table,
)

#: Rows updated per statement when a step rewrites a column.
_CHUNK = 500


async def _columns(conn: AsyncConnection, table: sa.Table) -> set[str]:
    return await conn.run_sync(
        lambda c: {col["name"] for col in sa.inspect(c).get_columns(table.name)})


async def _add_missing_columns(conn: AsyncConnection, table: sa.Table,
                               names: Sequence[str]) -> None:
    """Add the columns a database lacks, as today's table defines them (a fresh database
    has them all already)."""
    have = await _columns(conn, table)
    for name in names:
        if name in have:
            continue
        column = table.c[name]
        ddl = f"ALTER TABLE {table.name} ADD COLUMN {name} {column.type.compile(conn.dialect)}"
        if column.server_default is not None:
            default = column.server_default.arg  # type: ignore[attr-defined]  # a DefaultClause
            ddl += f" NOT NULL DEFAULT '{default}'"
        await conn.execute(sa.text(ddl))


async def _run(conn: AsyncConnection, *statements: str) -> None:
    for statement in statements:
        await conn.execute(sa.text(statement))


async def _migrate_to_1(conn: AsyncConnection) -> None:
    await conn.run_sync(metadata.create_all)
    await conn.execute(counters_table.insert().values(name="releases", value=0))


async def _migrate_to_2(conn: AsyncConnection) -> None:
    """Ids of any length: releases and outbox rows gain the short ``key`` of their id."""
    if "key" in await _columns(conn, releases_table):
        return
    await _run(conn, "ALTER TABLE releases ADD COLUMN key VARCHAR(32)",
               "ALTER TABLE outbox ADD COLUMN release_key VARCHAR(32)")
    for table, id_col, key_col in (("releases", "id", "key"),
                                   ("outbox", "release_id", "release_key")):
        ids = (await conn.execute(sa.text(f"SELECT DISTINCT {id_col} FROM {table}"))).scalars()
        pairs = [{"i": i, "k": release_key(i)} for i in ids]
        for start in range(0, len(pairs), _CHUNK):
            await conn.execute(
                sa.text(f"UPDATE {table} SET {key_col} = :k WHERE {id_col} = :i"),
                pairs[start:start + _CHUNK])
    if conn.dialect.name == "postgresql":  # ids were VARCHAR(64) there, and indexed
        await _run(
            conn,
            "ALTER TABLE releases DROP CONSTRAINT releases_pkey",
            "ALTER TABLE releases ALTER COLUMN id TYPE TEXT",
            "ALTER TABLE releases ALTER COLUMN key SET NOT NULL",
            "ALTER TABLE releases ADD PRIMARY KEY (key)",
            "ALTER TABLE outbox DROP CONSTRAINT uq_outbox_delivery",
            "ALTER TABLE outbox ALTER COLUMN release_id TYPE TEXT",
            "ALTER TABLE outbox ALTER COLUMN release_key SET NOT NULL",
            "ALTER TABLE outbox ADD CONSTRAINT uq_outbox_release_key "
            "UNIQUE (release_key, chat_id, thread_id)")
    else:  # SQLite enforces no lengths; its old keys stay, equivalent to these
        await _run(conn, "CREATE UNIQUE INDEX uq_releases_key ON releases (key)",
                   "CREATE UNIQUE INDEX uq_outbox_release_key "
                   "ON outbox (release_key, chat_id, thread_id)")


async def _migrate_to_3(conn: AsyncConnection) -> None:
    """Releases get ``language`` and ``release_group``; old rows become English, ungrouped."""
    await _add_missing_columns(conn, releases_table, ["language", "release_group"])


async def _migrate_to_4(conn: AsyncConnection) -> None:
    """Chats get ``language`` and ``auto_language``."""
    await _add_missing_columns(conn, chats_table, ["language", "auto_language"])


async def _migrate_to_5(conn: AsyncConnection) -> None:
    """Digests: a cadence per subscription, a digest mark per outbox row, digest times."""
    await _add_missing_columns(conn, subscriptions_table, ["cadence"])
    await _add_missing_columns(conn, outbox_table, ["digest"])
    await conn.run_sync(lambda c: digest_schedules_table.create(c, checkfirst=True))


async def _migrate_to_6(conn: AsyncConnection) -> None:
    """Several processes on one database: outbox claims (leases) and the batch index.

    The batch of due rows is read in ``(status, next_attempt_at, id)`` order from an index
    instead of a window over every pending row; ``claimed_until`` is indexed so the chats
    busy in any process are one short range scan.
    """
    await _add_missing_columns(conn, outbox_table, ["claimed_by", "claimed_until"])
    await _run(
        conn,
        "DROP INDEX IF EXISTS ix_outbox_due",
        "CREATE INDEX IF NOT EXISTS ix_outbox_queue ON outbox (status, next_attempt_at, id)",
        "CREATE INDEX IF NOT EXISTS ix_outbox_claimed ON outbox (claimed_until)")


async def _migrate_to_7(conn: AsyncConnection) -> None:
    """Subscriptions are read by topic when a release's alerts are planned (percolation)."""
    await _run(conn,
               "CREATE INDEX IF NOT EXISTS ix_subscriptions_topic ON subscriptions (topic)")


async def _migrate_to_8(conn: AsyncConnection) -> None:
    """Saved search queries expire: the oldest are found through their time."""
    await _run(conn, "CREATE INDEX IF NOT EXISTS ix_saved_queries_created_at "
                     "ON saved_queries (created_at)")


#: version -> step that brings a database at an older version to this one; steps run in
#: order, and numbers may have gaps (branches take their numbers in advance). Append, never
#: edit; the newest is the schema's version.
MIGRATIONS: dict[int, Callable[[AsyncConnection], Awaitable[None]]] = {
    1: _migrate_to_1, 2: _migrate_to_2, 3: _migrate_to_3, 4: _migrate_to_4,
    5: _migrate_to_5, 6: _migrate_to_6, 7: _migrate_to_7, 8: _migrate_to_8}
SCHEMA_VERSION = max(MIGRATIONS)

_VERSION_KEY = meta_table.c.key == "schema_version"
#: The PostgreSQL advisory lock key that serialises migrations (any constant of our own).
_MIGRATION_LOCK = 0x6E657773  # "news"


async def schema_version(conn: AsyncConnection) -> int:
    """The database's schema version (0: a new, empty database)."""
    value = (await conn.execute(sa.select(meta_table.c.value).where(_VERSION_KEY))).scalar()
    return int(value or 0)


async def migrate(conn: AsyncConnection) -> None:
    """Create or bring the schema up to :data:`SCHEMA_VERSION` (in the caller's transaction).

    Raises :class:`StoreError` for a database of a newer newsbot.
    """
    if conn.dialect.name == "postgresql":
        # Processes started together on a new database would otherwise all create the
        # tables and all but one fail; the lock is held until the caller's commit.
        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
    await conn.run_sync(lambda c: meta_table.create(c, checkfirst=True))
    current = await schema_version(conn)
    if current > SCHEMA_VERSION:
        raise StoreError(f"database schema version {current} is newer than this newsbot "
                         f"({SCHEMA_VERSION}); upgrade newsbot")
    for version in sorted(v for v in MIGRATIONS if v > current):
        await MIGRATIONS[version](conn)
    if current == 0:
        await conn.execute(meta_table.insert().values(key="schema_version",
                                                      value=str(SCHEMA_VERSION)))
    elif current < SCHEMA_VERSION:
        await conn.execute(meta_table.update().where(_VERSION_KEY)
                           .values(value=str(SCHEMA_VERSION)))
