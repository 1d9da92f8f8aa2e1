"""The languages releases and readers come in, and how a language code is read."""

from __future__ import annotations

#: Languages the word analysis knows (ISO 639-1), in the order a query tries them.
LANGUAGES: tuple[str, ...] = ("en", "fr", "es")
#: The language of a release whose source says nothing, and of a reader we know nothing of.
DEFAULT_LANGUAGE = "en"


def language_of(code: str | None) -> str | None:
    """``"fr-CA"``, ``"FR"``, ``"fr_FR"`` -> ``"fr"``; None for empty or unknown languages."""
    if not code:
        return None
    base = code.strip().lower().replace("_", "-").split("-", 1)[0]
    return base if base in LANGUAGES else None
