"""The release record: what one press release is, how it is validated, and its stable id.

Every source (files, feeds, the seed listing) produces :class:`Release` objects; everything
downstream (store, search, topics, render) consumes them and never sees the raw formats.
"""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.text.languages import DEFAULT_LANGUAGE, LANGUAGES, language_of

#: A publisher's id (a URL, a GUID, a long slug) is kept as given, up to this many characters.
MAX_ID_LENGTH = 1024
#: Ids this program derives (from date and title, or a feed item's guid) stay this short, as
#: they always were: changing how they are derived would turn stored releases into "new" ones.
DERIVED_ID_LENGTH = 64
#: Unicode categories an id may not contain: control characters (tab, newline, NUL, DEL, C1),
#: invisible format characters (zero-width spaces, direction marks: two ids that look the
#: same must be the same), line/paragraph separators, unpaired surrogates (not encodable).
_BAD_ID_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
# The group rule: ids that differ only in a final ".en", ".fr" or ".es" are one release in
# several languages ("ilo-2004-53.en", "ilo-2004-53.fr" -> group "ilo-2004-53").
_LANGUAGE_SUFFIX = re.compile(r"^(?P<group>.+)\.(?P<lang>" + "|".join(LANGUAGES) + r")$")


class ReleaseError(ValueError):
    """A release record is malformed; the message says which field and why."""


@dataclass(frozen=True, slots=True)
class Release:
    """One press release, validated. Ordering and equality compare every field."""

    id: str
    kind: str
    title: str
    date: date
    place: str | None
    summary: str
    url: str | None = None
    topics: tuple[str, ...] = field(default_factory=tuple)
    #: ``en``, ``fr`` or ``es``: which word analysis its text gets, and whom search prefers it for.
    language: str = DEFAULT_LANGUAGE
    #: Links the same release in several languages (see :func:`group_of`); None when alone.
    group: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``data/releases.json`` (dates as ISO strings, topics as a list)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "date": self.date.isoformat(),
            "place": self.place,
            "summary": self.summary,
            "url": self.url,
            "topics": list(self.topics),
            "language": self.language,
            "group": self.group,
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], default_language: str = DEFAULT_LANGUAGE
    ) -> Release:
        """Validate a mapping into a release; unknown extra keys are ignored.

        A missing ``id`` is derived from the date and title with :func:`make_id`. A missing
        ``language`` comes from the id's language suffix (``X.fr``), else ``default_language``
        (the source's); a missing ``group`` from the id (see :func:`group_of`).
        Raises :class:`ReleaseError` naming the first bad field.
        """
        if not isinstance(data, Mapping):
            raise ReleaseError(f"expected an object, got {type(data).__name__}")
        title = _required_text(data, "title")
        when = parse_iso_date(data.get("date"))
        raw_id = data.get("id")
        release_id = make_id(when, title) if raw_id in (None, "") else validate_id(raw_id)
        kind = _optional_text(data, "kind") or "Press release"
        return cls(
            id=release_id,
            kind=kind,
            title=title,
            date=when,
            place=_optional_text(data, "place"),
            summary=_optional_text(data, "summary") or "",
            url=_optional_url(data),
            topics=_topics(data.get("topics")),
            language=_language(data.get("language"), release_id, default_language),
            group=_group(data.get("group"), release_id),
        )


def parse_iso_date(value: object) -> date:
    """A ``YYYY-MM-DD`` string (or a ``date``) into a date, else :class:`ReleaseError`."""
    if isinstance(value, date):
        return value
    if value is not None and not isinstance(value, str):
        raise ReleaseError(f"field 'date' must be a string like \"2004-10-26\", "
                           f"got {type(value).__name__} {value!r}")
    if not isinstance(value, str) or not value.strip():
        raise ReleaseError("field 'date' is missing (expected YYYY-MM-DD)")
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise ReleaseError(f"field 'date' is not a date in YYYY-MM-DD form: {value!r}") from None


def validate_id(value: object) -> str:
    """Check a publisher's release id and return it as given (surrounding whitespace removed).

    Any text of 1 to :data:`MAX_ID_LENGTH` characters is an id: URLs with ``/?&=#``, UUIDs,
    slugs, non-ASCII letters, inner spaces. Refused: an empty id, a longer one, and characters
    that cannot be shown or stored faithfully (see :data:`_BAD_ID_CATEGORIES`). Where Telegram
    caps the length (inline result ids, button data), :func:`release_key` stands in for it.
    """
    if not isinstance(value, str):
        raise ReleaseError(f"field 'id' must be a string, got {type(value).__name__}")
    text = value.strip()
    if not text:
        raise ReleaseError("field 'id' is empty")
    if len(text) > MAX_ID_LENGTH:
        raise ReleaseError(f"field 'id' is longer than {MAX_ID_LENGTH} characters "
                           f"({len(text)}): {text[:60]!r}…")
    for position, char in enumerate(text, 1):
        if unicodedata.category(char) in _BAD_ID_CATEGORIES:
            raise ReleaseError(f"field 'id' holds an invisible or control character "
                               f"U+{ord(char):04X} at position {position}: {text[:60]!r}")
    return text


def release_key(release_id: str) -> str:
    """A short stable key for an id: 26 lower-case base32 characters of its SHA-256.

    Telegram caps inline result ids and callback data at 64 bytes, and a database index
    works best on short values, so those use this key; the id itself is stored as given.
    130 bits make a collision between two ids practically impossible.
    """
    digest = hashlib.sha256(release_id.encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii")[:26].lower()


def slugify(text: str) -> str:
    """Lower-case ASCII words joined by hyphens: "Lao PDR's children" -> lao-pdrs-children."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    ascii_text = re.sub(r"['’]", "", ascii_text.lower())
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")


def make_id(when: date, title: str) -> str:
    """A stable, readable id from date and title, cut at a word boundary to fit 64 bytes."""
    slug = f"{when.isoformat()}-{slugify(title)}".strip("-")
    if len(slug) <= DERIVED_ID_LENGTH:
        return slug
    cut = slug[:DERIVED_ID_LENGTH]
    return cut[: cut.rfind("-")] if "-" in cut[11:] else cut


def id_from_key(prefix: str, key: str) -> str:
    """A stable id for an item known by an opaque key (a feed guid or link)."""
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    slug = slugify(prefix)[: DERIVED_ID_LENGTH - len(digest) - 1].strip("-")
    return f"{slug}-{digest}" if slug else digest


def _required_text(data: Mapping[str, Any], key: str) -> str:
    text = _optional_text(data, key)
    if not text:
        raise ReleaseError(f"field '{key}' is missing or empty")
    return text


def _optional_text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ReleaseError(f"field '{key}' must be a string, got {type(value).__name__}")
    text = " ".join(value.split())
    return text or None


def _optional_url(data: Mapping[str, Any]) -> str | None:
    url = _optional_text(data, "url")
    if url is not None and not re.match(r"^https?://\S+$", url):
        raise ReleaseError(f"field 'url' must be an http(s) URL, got {url!r}")
    return url


def _topics(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or not all(isinstance(t, str) for t in value):
        raise ReleaseError("field 'topics' must be a list of strings")
    seen: dict[str, None] = {}
    for topic in value:
        text = " ".join(topic.split())
        if text:
            seen.setdefault(text, None)
    return tuple(seen)


def group_of(release_id: str) -> str | None:
    """The group an id implies: ``"X.fr"`` -> ``"X"``; None for an id without the suffix."""
    match = _LANGUAGE_SUFFIX.match(release_id)
    return match.group("group") if match else None


def _language(value: object, release_id: str, default: str) -> str:
    if value is None or value == "":
        match = _LANGUAGE_SUFFIX.match(release_id)
        return match.group("lang") if match else default
    lang = language_of(value) if isinstance(value, str) else None
    if lang is None:
        raise ReleaseError(
            f"field 'language' must be one of {', '.join(LANGUAGES)}, got {value!r}")
    return lang


def _group(value: object, release_id: str) -> str | None:
    if value is None or value == "":
        return group_of(release_id)
    if not isinstance(value, str) or not value.strip():
        raise ReleaseError(f"field 'group' must be a non-empty string, got {value!r}")
    return " ".join(value.split())[:MAX_ID_LENGTH]
