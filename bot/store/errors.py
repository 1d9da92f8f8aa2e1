"""What the store raises: it cannot open, one operation failed, or its file is gone."""

from __future__ import annotations


class StoreError(Exception):
    """The database cannot be opened or is from a newer version of newsbot."""


class StoreUnavailable(StoreError):
    """The database failed one operation: read-only, disk full, unreachable, locked too long.

    That operation's transaction was rolled back: nothing of it was stored. The store
    recovers by itself once the database works again (see :mod:`bot.store.engine`).
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
