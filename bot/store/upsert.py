"""Native upserts: ``INSERT … ON CONFLICT`` in the dialect of the connection at hand.

SQLite and PostgreSQL spell it the same way, but SQLAlchemy builds it from each dialect's own
``insert``; :func:`upsert` picks it, so no store code reads a row first to decide between an
insert and an update (which two processes could both decide at once).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


def upsert(conn: AsyncConnection, table: sa.Table, *, key: Sequence[str],
           values: Mapping[str, Any] | None = None, set_: Mapping[str, Any] | None = None,
           from_new: Sequence[str] = (), where: Any = None,
           rows_of: tuple[Sequence[str], sa.Select[Any]] | None = None
           ) -> postgresql.Insert | sqlite.Insert:
    """``INSERT INTO table`` and, where a row with the same ``key`` exists, update it instead.

    The rows: ``values``, or ``rows_of`` = (columns, select) for what the select returns, or
    the parameters given at execution. The update: the ``set_`` values, and the ``from_new``
    columns from the row that was to be inserted, where ``where`` holds. Neither ``set_`` nor
    ``from_new``: the existing row is kept (``DO NOTHING``).

    The number of rows the statement reports is then the rows inserted or updated.
    """
    make = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = make(table)
    if values is not None:
        statement = statement.values(dict(values))
    if rows_of is not None:
        statement = statement.from_select(list(rows_of[0]), rows_of[1])
    changes = {**(set_ or {}), **{name: statement.excluded[name] for name in from_new}}
    if not changes:
        return statement.on_conflict_do_nothing(index_elements=list(key))
    return statement.on_conflict_do_update(index_elements=list(key), set_=changes, where=where)
