"""RSS 2.0 and Atom feeds -> releases, and fetching them over HTTP with conditional GETs.

Feeds are somebody else's data: one odd item must not block the rest, so :func:`parse_feed` skips
(and logs) items it cannot use unless asked to be strict. Decisions worth knowing:

* **Date**: the item's published date, else its updated date, as the *publisher's* calendar day
  (an item stamped 01:00 +02:00 on 26 October is dated 26 October, not 25 October in UTC). An
  item with no date takes the feed's own updated/published date, else today's date in UTC. Such
  fallback dates can change between fetches; the id does not (see below).
* **Id**: :func:`~bot.releases.id_from_key` over the item's guid, else its link, else its title.
  The readable prefix is the key's host name (``ilo-org-<hash>``), not the title, so a corrected
  title does not turn an old item into a "new" one.
* **Kind**: "Press release", unless the title starts with a kind prefix ("Media Advisory: ...")
  or a category names a known kind; all other categories become topics.
* **URL**: the item's link when it is an absolute http(s) URL, else ``None``.
"""

from __future__ import annotations

import asyncio
import email.utils
import io
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import feedparser
import httpx
from feedparser.exceptions import ThingsNobodyCaresAboutButMe

from bot.releases import Release, ReleaseError, id_from_key
from bot.sources.errors import SourceError
from bot.sources.text import collapse_whitespace, html_to_text, split_kind_prefix
from bot.text.languages import DEFAULT_LANGUAGE, language_of

logger = logging.getLogger(__name__)

#: A feed bigger than this is refused rather than read into memory; real feeds are far smaller.
MAX_FEED_BYTES = 10 * 1024 * 1024

#: Categories that name a kind of release rather than a topic, lower-cased, with that kind.
KNOWN_KINDS: dict[str, str] = {
    "press release": "Press release",
    "press releases": "Press release",
    "media advisory": "Media advisory",
    "media advisories": "Media advisory",
    "statement": "Statement",
    "statements": "Statement",
}
DEFAULT_KIND = "Press release"
#: Untitled items are named after the start of their summary, cut to this many characters.
_UNTITLED_LENGTH = 80

_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.1"
)


@dataclass(frozen=True, slots=True)
class FeedFetch:
    """The outcome of one conditional fetch: new releases and the validators for the next one."""

    status: Literal["ok", "not_modified"]
    releases: list[Release]
    etag: str | None
    last_modified: str | None


def parse_feed(
    content: bytes,
    source: str,
    *,
    strict: bool = False,
    today: date | None = None,
    headers: Mapping[str, str] | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> list[Release]:
    """The items of an RSS 2.0 or Atom document as releases, in document order.

    ``source`` (URL or path) names the feed in errors. Unusable items (no title and no link,
    duplicate id) are logged and skipped, or raise :class:`SourceError` naming ``item N`` when
    ``strict`` (files are strict, fetched feeds are not). ``today`` is the last-resort date for
    undated items (default: today in UTC). ``language`` is the default for items whose
    ``xml:lang`` and channel ``<language>`` say nothing we know. ``headers`` are the HTTP
    response headers, which
    feedparser uses for the encoding and to resolve relative links.
    """
    response_headers = {key.lower(): value for key, value in (headers or {}).items()}
    if source.startswith(("http://", "https://")):
        response_headers.setdefault("content-location", source)
    # A stream, never the bytes themselves: feedparser treats some strings as URLs or file names.
    parsed = feedparser.parse(io.BytesIO(content), response_headers=response_headers)
    entries: list[Any] = parsed.get("entries", [])
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    # feedparser also flags harmless things (a missing or non-XML Content-Type, an overridden
    # encoding); only a real parse problem counts.
    if isinstance(problem, ThingsNobodyCaresAboutButMe):
        problem = None
    if not entries and (problem is not None or not parsed.get("version")):
        detail = f" ({problem})" if problem else ""
        raise SourceError(source, None, f"not a readable RSS or Atom feed{detail}")
    if problem is not None:
        # Malformed XML that feedparser still recovered items from: a file must be fixed, but a
        # fetched feed keeps what could be read rather than losing every item.
        if strict:
            raise SourceError(source, None, f"malformed feed: {problem}")
        logger.warning(
            "%s: malformed feed, using the items that could be read: %s", source, problem
        )

    feed_date = _entry_date(parsed.get("feed", {}), order=("updated", "published"))
    fallback = feed_date or today or datetime.now(UTC).date()
    feed_language = language_of(parsed.get("feed", {}).get("language")) or language
    releases: list[Release] = []
    first_seen: dict[str, int] = {}
    for index, entry in enumerate(entries, start=1):
        where = f"item {index}"
        try:
            release = _entry_to_release(entry, fallback, strict=strict, language=feed_language)
            if release.id in first_seen:
                raise ReleaseError(
                    f"duplicate id {release.id!r} (first used at item {first_seen[release.id]})"
                )
        except ReleaseError as err:
            if strict:
                raise SourceError(source, where, str(err)) from None
            logger.warning("%s: %s skipped: %s", source, where, err)
            continue
        first_seen[release.id] = index
        releases.append(release)
    return releases


async def fetch_feed(
    client: httpx.AsyncClient,
    url: str,
    etag: str | None = None,
    last_modified: str | None = None,
    timeout: float = 20.0,
    language: str = DEFAULT_LANGUAGE,
) -> FeedFetch:
    """Fetch and parse a feed with a conditional GET; 304 gives ``status="not_modified"``.

    Redirects are followed. Any failure (network error, timeout over the whole request,
    non-2xx status, a body over :data:`MAX_FEED_BYTES`, an unparsable feed) raises
    ``SourceError(url, None, reason)``.
    """
    request_headers = {"Accept": _ACCEPT}
    if etag:
        request_headers["If-None-Match"] = etag
    if last_modified:
        request_headers["If-Modified-Since"] = last_modified
    try:
        # httpx's timeout bounds each read, not the whole exchange; a server trickling one byte
        # at a time would never trip it, so the deadline is enforced around everything.
        async with asyncio.timeout(timeout):
            status, response_headers, body = await _get(client, url, request_headers, timeout)
    except (TimeoutError, httpx.TimeoutException):
        raise SourceError(
            url, None, f"timeout: no complete response within {timeout:g} s"
        ) from None
    except (httpx.HTTPError, httpx.InvalidURL) as err:
        reason = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        raise SourceError(url, None, f"request failed: {reason}") from None

    if status == 304:
        return FeedFetch(
            status="not_modified",
            releases=[],
            etag=response_headers.get("etag") or etag,
            last_modified=response_headers.get("last-modified") or last_modified,
        )
    # Parsing a large feed takes long enough to stall the bot's event loop, so it runs aside.
    releases = await asyncio.to_thread(
        parse_feed, body, url, headers=response_headers, language=language)
    return FeedFetch(
        status="ok",
        releases=releases,
        etag=response_headers.get("etag"),
        last_modified=response_headers.get("last-modified"),
    )


async def _get(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], timeout: float
) -> tuple[int, dict[str, str], bytes]:
    """Status, lower-cased headers and body of a GET; non-2xx/304 and oversized bodies raise."""
    async with client.stream(
        "GET", url, headers=headers, timeout=timeout, follow_redirects=True
    ) as response:
        response_headers = {key.lower(): value for key, value in response.headers.items()}
        # After redirects, relative links in the feed are relative to where it was found.
        response_headers.setdefault("content-location", str(response.url))
        if response.status_code == 304:
            return 304, response_headers, b""
        if not response.is_success:
            phrase = f" {response.reason_phrase}" if response.reason_phrase else ""
            raise SourceError(url, None, f"HTTP {response.status_code}{phrase}")
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_FEED_BYTES:
                raise SourceError(url, None, f"response is larger than {MAX_FEED_BYTES} bytes")
        return response.status_code, response_headers, bytes(body)


def _entry_to_release(entry: Mapping[str, Any], fallback: date, *,
                      strict: bool = False, language: str = DEFAULT_LANGUAGE) -> Release:
    """One feedparser entry as a release; :class:`ReleaseError` when it cannot be one.

    ``strict`` (files): a date that is there but unreadable is an error, not "today".
    """
    title = _text_of(entry, "title")
    summary = _text_of(entry, "summary")
    if not summary:
        contents = _get_raw(entry, "content") or []
        if contents:
            summary = _detail_text(contents[0])
    link = collapse_whitespace(_get_raw(entry, "link") or "")
    if not title and not link:
        raise ReleaseError("item has neither a title nor a link")
    title = title or _untitled(summary) or link

    kind, title = split_kind_prefix(title)
    topics: list[str] = []
    for tag in _get_raw(entry, "tags") or []:
        term = collapse_whitespace(tag.get("label") or tag.get("term") or "")
        known = KNOWN_KINDS.get(term.lower())
        if known:
            kind = kind or known
        elif term:
            topics.append(term)

    key = collapse_whitespace(_get_raw(entry, "id") or "") or link or f"title:{title}"
    return Release.from_dict(
        {
            "id": id_from_key(_key_prefix(key), key),
            "kind": kind or DEFAULT_KIND,
            "title": title,
            "date": _entry_date(entry) or _fallback_date(entry, fallback, strict),
            "place": None,
            "summary": summary,
            "url": link if link.startswith(("http://", "https://")) and " " not in link else None,
            "topics": topics,
            "language": _entry_language(entry) or language,
        }
    )


def _entry_language(entry: Mapping[str, Any]) -> str | None:
    """An item's own language, from the ``xml:lang`` of its title or summary (Atom)."""
    for key in ("title_detail", "summary_detail"):
        detail = _get_raw(entry, key)
        if isinstance(detail, Mapping):
            found = language_of(detail.get("language"))
            if found:
                return found
    return None


def _get_raw(mapping: Mapping[str, Any], key: str) -> Any:
    # dict.get, not FeedParserDict.get: the latter silently maps some keys to others
    # (updated -> published) with a deprecation warning.
    if isinstance(mapping, dict):
        return dict.get(mapping, key)
    return mapping.get(key)


def _text_of(entry: Mapping[str, Any], key: str) -> str:
    """A text construct as plain text: HTML types are stripped, plain text kept as written."""
    detail = _get_raw(entry, f"{key}_detail")
    if detail:
        return _detail_text(detail)
    return html_to_text(_get_raw(entry, key) or "")


def _detail_text(detail: Mapping[str, Any]) -> str:
    value = detail.get("value") or ""
    if detail.get("type") == "text/plain":
        return collapse_whitespace(value)
    return html_to_text(value)


def _untitled(summary: str) -> str:
    """A stand-in title for an untitled item: the start of its summary, cut at a word."""
    if len(summary) <= _UNTITLED_LENGTH:
        return summary
    cut = summary[:_UNTITLED_LENGTH].rsplit(" ", 1)[0]
    return f"{cut}…"


def _key_prefix(key: str) -> str:
    """A readable id prefix derived from the key alone (so ids stay stable): its host name.

    ``https://www.ilo.org/n/1`` and ``tag:ilo.org,2004:n1`` (RFC 4151) both give ``ilo.org``.
    """
    if "://" in key:
        host = urlsplit(key).hostname
    else:
        tag = re.match(r"^tag:([^,:/\s]+),", key)
        host = tag.group(1) if tag else None
    return host.removeprefix("www.") if host else "feed"


def _fallback_date(entry: Mapping[str, Any], fallback: date, strict: bool) -> date:
    if strict:
        for field in ("published", "updated"):
            raw = _get_raw(entry, field)
            if isinstance(raw, str) and raw.strip():
                raise ReleaseError(f"unreadable {field} date {raw.strip()!r}")
    return fallback


def _entry_date(
    entry: Mapping[str, Any], order: tuple[str, ...] = ("published", "updated")
) -> date | None:
    """The first of the ``order`` date fields present in an entry (or a feed's header)."""
    for field in order:
        found = _local_date(_get_raw(entry, field)) or _struct_date(entry, field)
        if found:
            return found
    return None


def _local_date(raw: object) -> date | None:
    """The calendar day as the publisher wrote it (RFC 822 or ISO 8601), before any UTC shift."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    text = raw.strip()
    try:
        return email.utils.parsedate_to_datetime(text).date()
    except (TypeError, ValueError, IndexError):
        pass
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        return None


def _struct_date(mapping: Mapping[str, Any], field: str) -> date | None:
    """feedparser's own parse (a UTC struct_time), for formats the stdlib does not read."""
    parsed = _get_raw(mapping, f"{field}_parsed")
    if isinstance(parsed, time.struct_time):
        try:
            return date(parsed.tm_year, parsed.tm_mon, parsed.tm_mday)
        except ValueError:
            return None
    return None
