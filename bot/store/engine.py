"""The database connection: opening it, short transactions, and turning faults into errors.

SQLAlchemy 2 Core over an async engine: a SQLite file by default, PostgreSQL by URL. Every
store operation runs in :meth:`Database._write` or :meth:`Database._read`; a failure of the
database there (read-only, disk full, unreachable) becomes :class:`StoreUnavailable`, and a
SQLite file deleted or replaced under the running bot becomes :class:`StoreGone`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sqlite3
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.store.errors import StoreError, StoreGone, StoreUnavailable

log = logging.getLogger(__name__)

#: Database failures that are the database's, not a bug's or the data's: they become
#: :class:`StoreUnavailable`. Integrity errors are answers (a duplicate) that callers handle.
_FAULTS = (sa.exc.DBAPIError, sa.exc.TimeoutError, OSError)
_NOT_FAULTS = (sa.exc.IntegrityError, sa.exc.ProgrammingError, sa.exc.DataError)
#: SQLite errors after which a pooled connection may stay broken: it is replaced.
_STALE_CONNECTION = ("readonly database", "disk i/o error", "unable to open database file",
                     "no such table")


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


def connect(url: str) -> tuple[AsyncEngine, str | None]:
    """An engine for ``url`` and its SQLite file (None for PostgreSQL and :memory:)."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        folder = os.path.dirname(url[len("sqlite:///"):])
        if folder:
            os.makedirs(folder, exist_ok=True)
    path = _sqlite_file(url)
    try:
        if path is not None:
            # Created here, once; the engine then opens it with mode=rw, so a file deleted
            # later is never silently re-created empty.
            sqlite3.connect(path).close()
            engine = create_async_engine(
                async_url(url), async_creator=lambda: aiosqlite.connect(
                    f"file:{urllib.parse.quote(path)}?mode=rw", uri=True))
        else:
            engine = create_async_engine(
                async_url(url), pool_pre_ping=not url.startswith("sqlite"))
    except Exception as exc:  # bad driver names, malformed URLs, unwritable folders
        raise StoreError(f"cannot use database {safe_url(url)}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "handle_error", _sqlite_fault)
    return engine, path


class Database:
    """An engine with fault handling: the base every part of the store builds on."""

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
        self._shown = safe_url(str(engine.url))

    @property
    def _postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    async def close(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction; any database failure becomes :class:`StoreUnavailable`."""
        self.check_file()
        with self._faults(writing=True):
            async with self.engine.begin() as conn:
                yield conn

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reading; failures become :class:`StoreUnavailable` too."""
        if self.gone:
            raise StoreGone(self.gone, writing=False)
        with self._faults(writing=False):
            async with self.engine.connect() as conn:
                yield conn

    @contextlib.contextmanager
    def _faults(self, *, writing: bool) -> Iterator[None]:
        """Turn the database's own failures into :class:`StoreUnavailable` (or StoreGone)."""
        try:
            yield
        except _NOT_FAULTS:
            raise
        except _FAULTS as exc:
            raise self._unavailable(exc, writing=writing) from exc

    async def ping(self) -> None:
        """One trivial query: raises when the database does not answer (for /healthz), or
        when its file was deleted or replaced (pooled connections would still read the old
        one)."""
        self.check_file()
        async with self._read() as conn:
            await conn.execute(sa.select(1))

    def _unavailable(self, exc: BaseException, *, writing: bool) -> StoreUnavailable:
        if self.path:
            with contextlib.suppress(StoreGone):
                self.check_file()  # a vanished file explains the failure best
            if self.gone:
                return StoreGone(self.gone, writing=writing)
        reason: object = exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig else exc
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


def safe_url(url: str) -> str:
    """The URL for messages: a password in it is masked."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # unparsable: then there is no password to find either
        return url


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
