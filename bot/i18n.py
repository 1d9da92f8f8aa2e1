"""Placeholder for the bot's translations (the i18n branch brings the real catalogs).

Until then every text is English: :func:`_` and :func:`_n` return the English text, and
:func:`format_date` writes "26 October 2004". Code wraps every user-facing text in ``_()``
so the catalogs can pick it up once they exist.
"""

from __future__ import annotations

from datetime import date


def _(text: str) -> str:
    """The text in the current chat's language (English for now)."""
    return text


def _n(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n`` in the current chat's language."""
    return singular if n == 1 else plural


def format_date(d: date) -> str:
    """A date as readers expect it: "26 October 2004"."""
    return f"{d.day} {d:%B %Y}"
