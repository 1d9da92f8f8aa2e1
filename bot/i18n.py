"""The bot's own texts in the reader's language: gettext catalogs, Babel dates and numbers.

Every text the bot sends is written in English in the code, wrapped in :func:`_` (or
:func:`_n` when it depends on a count) and translated from ``bot/locale/<lang>/LC_MESSAGES/
newsbot.mo`` into the *current* language. The current language is a context variable: set
once per update (``bot.handlers.language.set_update_language``, handler group -1) and once per
outbox row in delivery, so concurrent updates in other languages never mix. Module-level
constants are marked with :func:`N_` (extracted, not translated) and passed to :func:`_` where
they are used.

Placeholders are ``str.format`` names (``{count}``), never ``%``, so translators may reorder them.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import date
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date as _babel_date
from babel.numbers import format_decimal

from bot.text.languages import DEFAULT_LANGUAGE, LANGUAGES
from bot.text.languages import language_of as _known_language

DOMAIN = "newsbot"
LOCALE_DIR = Path(__file__).parent / "locale"
#: Each language by its own name, as the /language buttons show it.
LANGUAGE_NAMES: dict[str, str] = {"en": "English", "fr": "Français", "es": "Español"}
#: The Babel locale behind each language: British English writes "26 October 2004".
_BABEL_LOCALES: dict[str, str] = {"en": "en_GB", "fr": "fr", "es": "es"}

_current: ContextVar[str] = ContextVar("newsbot_language", default=DEFAULT_LANGUAGE)


def language_of(code: str | None) -> str:
    """A Telegram ``language_code`` (``fr``, ``fr-CA``, ``es-419``…) -> ``fr``/``es``/``en``."""
    return _known_language(code) or DEFAULT_LANGUAGE


def parse_language(text: str) -> str | None:
    """What a reader may type after /language: a code or a name in any of our languages."""
    word = text.strip().casefold()
    for code, names in _NAMES_TYPED.items():
        if word == code or word in names:
            return code
    return None


_NAMES_TYPED: dict[str, tuple[str, ...]] = {
    "en": ("english", "anglais", "inglés", "ingles"),
    "fr": ("français", "francais", "french", "francés", "frances"),
    "es": ("español", "espanol", "spanish", "espagnol"),
}


def current_language() -> str:
    return _current.get()


def update_language() -> str | None:
    """The language set for the task at hand (an update, an outbox row), None if none was."""
    return _current.get(None)


def set_language(language: str) -> Token[str]:
    """Make ``language`` current for the rest of this task (an unknown one means English)."""
    return _current.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)


@contextmanager
def use_language(language: str) -> Iterator[None]:
    """Make ``language`` current inside the block, and restore the previous one after."""
    token = set_language(language)
    try:
        yield
    finally:
        _current.reset(token)


@cache
def translations(language: str) -> _gettext.NullTranslations:
    """The compiled catalog of a language (English, the source language, needs none)."""
    if language == DEFAULT_LANGUAGE:
        return _gettext.NullTranslations()
    return _gettext.translation(DOMAIN, LOCALE_DIR, [language], fallback=True)


def _(message: str) -> str:
    """``message`` in the current language (itself when no translation exists)."""
    return translations(_current.get()).gettext(message)


def _n(singular: str, plural: str, n: int) -> str:
    """The form of a message for ``n`` in the current language (call ``.format`` on it)."""
    return translations(_current.get()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a module-level string for extraction; translate it with :func:`_` where used."""
    return message


@cache
def _locale(language: str) -> Locale:
    return Locale.parse(_BABEL_LOCALES.get(language, "en_GB"))


def format_date(day: date) -> str:
    """A date as readers of the current language write it: "26 octobre 2004"."""
    return _babel_date(day, format="long", locale=_locale(_current.get()))


def format_number(n: float) -> str:
    """A number with the current language's grouping: "12,345", "12 345", "12.345"."""
    return format_decimal(n, locale=_locale(_current.get()))


#: :func:`_` under its long name, for modules whose code uses ``_`` as a throwaway variable.
gettext = _
