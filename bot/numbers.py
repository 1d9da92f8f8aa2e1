"""Whole numbers typed by people or carried in button data and inline offsets.

``str.isdigit()`` and ``int()`` accept far more than ASCII digits ("²" passes ``isdigit`` and
then fails ``int``; "٣" is 3), and nothing bounds the size. Every number that comes from
outside goes through :func:`parse_count` instead, so bad ones are a usage reply or ignored,
never an exception.
"""

from __future__ import annotations

import re

#: ASCII digits only, and few enough that ``int()`` is cheap and the value fits SQL's BIGINT.
_DIGITS = re.compile(r"[0-9]{1,18}")


def parse_count(text: str, minimum: int, maximum: int) -> int | None:
    """``text`` as a whole number in ``minimum..maximum``, or None when it is not one."""
    text = text.strip()
    if not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if minimum <= value <= maximum else None
