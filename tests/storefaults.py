"""A fault injector for a running :class:`bot.store.Store` (SQLite): read-only, disk full.

Runs as root here, where ``chmod`` cannot make a file read-only, so the effect is simulated
where SQLite would show it:

* ``read_only``: every connection used meanwhile gets ``PRAGMA query_only`` and is marked as
  opened read-only, like a connection SQLite opens on a file it may not write. After the spell
  such connections stay read-only: exactly what kept the bot from recovering.
* ``disk_full``: every write fails with SQLite's own "database or disk is full".
* ``fail_writes_to``: writes whose SQL contains this text fail (e.g. "UPDATE outbox").
* ``io_error``: every statement, reads too, fails with SQLite's "disk I/O error" (a disk
  that stopped answering for a while).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import event

from bot.store import Store

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class StoreFaults:
    def __init__(self, store: Store) -> None:
        self.read_only = False
        self.disk_full = False
        self.fail_writes_to: str | None = None
        self.io_error = False
        self.failures = 0
        engine = store.engine.sync_engine
        event.listen(engine.pool, "checkout", self._checkout)
        event.listen(engine, "before_cursor_execute", self._before_execute)

    def _checkout(self, dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if self.read_only and not record.info.get("read_only"):
            record.info["read_only"] = True
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA query_only=ON")
            cursor.close()

    def _before_execute(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.io_error:
            self.failures += 1
            raise sqlite3.OperationalError("disk I/O error")
        if not statement.lstrip().upper().startswith(_WRITES):
            return
        if self.disk_full:
            self.failures += 1
            raise sqlite3.OperationalError("database or disk is full")
        if self.fail_writes_to and self.fail_writes_to in statement:
            self.failures += 1
            raise sqlite3.OperationalError("attempt to write a readonly database")
