"""Digests: one message per chat at its chosen time instead of one alert per release.

How a digest travels (durable exactly like an alert, through the same outbox and sender):

* **Planned at ingest.** A new release that matches only digest subscriptions of a chat (and
  forum thread) gets an ordinary outbox row, in the same transaction as the release, marked
  with its cadence (``digest`` = ``daily`` / ``weekly``) and due at the chat's next digest
  slot (:func:`next_slot`), not now. A release matching an instant subscription of that chat
  goes out at once instead, and only once: one row per release, chat and thread.
* **Grouped at send time.** When the sender meets a due digest row, it takes every due
  digest row of that chat and thread and renders them as one message (:func:`render_digest`),
  cut into parts of at most 4096 characters. The rows of a part are marked sent together,
  after Telegram's ok for that part; a part that fails leaves itself and the parts after it
  pending (retried together) while the parts already sent stay sent. No timer job is needed:
  a digest that fell due while the bot was down is simply due when it starts, and goes once.
* **Re-planned on change.** ``/digest HH:MM Area/City`` moves the chat's pending digest rows
  to the new slot; switching a subscription between instant, daily and weekly re-plans the
  chat's pending rows by the cadences they now have.

Nothing here knows Telegram or SQL: time slots, parsing of the commands' words, rendering.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import cache
from html import escape
from zoneinfo import ZoneInfo, available_timezones

from bot.i18n import _, _n, format_date, format_number
from bot.releases import Release
from bot.render import TITLE_CHARS, cut, quote, split_messages, telegram_length

INSTANT, DAILY, WEEKLY = "instant", "daily", "weekly"
CADENCES = (INSTANT, DAILY, WEEKLY)
DIGESTS = (DAILY, WEEKLY)
#: 08:00, in minutes after midnight, UTC: the digest time of a chat that never chose one.
DEFAULT_MINUTE, DEFAULT_ZONE = 8 * 60, "UTC"
#: Weekly digests go out on this weekday (Monday) at the chat's digest time.
WEEKLY_DAY = 0
#: A link longer than this is left out of a digest line: one line must never outgrow a part.
_MAX_URL = 1000
_TIME = re.compile(r"^([01]?\d|2[0-3])[:.h]([0-5]\d)$")


class DigestError(ValueError):
    """A digest time or time zone that cannot be used; ``str()`` says which and why."""


@dataclass(frozen=True)
class DigestSchedule:
    """When a chat's digests go out: ``minute`` after local midnight in time zone ``zone``."""

    minute: int = DEFAULT_MINUTE
    zone: str = DEFAULT_ZONE

    @property
    def time_text(self) -> str:
        return f"{self.minute // 60:02d}:{self.minute % 60:02d}"


def next_slot(now: float, schedule: DigestSchedule, cadence: str) -> float:
    """The first digest time strictly after ``now`` (epoch seconds) for this cadence.

    Local wall-clock time in the chat's zone, so 08:00 stays 08:00 across daylight saving
    changes; a time that does not exist on a spring-forward day is taken as the wall time it
    would have been an hour later (zoneinfo's ``fold=0`` rule), one that exists twice as the
    first. Weekly digests fall on Mondays.
    """
    zone = ZoneInfo(schedule.zone)
    at = time(schedule.minute // 60, schedule.minute % 60)
    day = datetime.fromtimestamp(now, zone).date() - timedelta(days=1)  # zone offsets
    for _step in range(16):
        when = datetime.combine(day, at, tzinfo=zone).timestamp()
        if when > now and (cadence != WEEKLY or day.weekday() == WEEKLY_DAY):
            return when
        day += timedelta(days=1)
    raise AssertionError("unreachable: a Monday comes within 8 days")


def parse_time(text: str) -> int:
    """``"8:30"`` / ``"08:30"`` / ``"20h15"`` -> minutes after midnight; else DigestError."""
    found = _TIME.match(text.strip())
    if not found:
        raise DigestError(_("“{text}” is not a time of day like 08:00 or 18:30.")
                          .format(text=quote(text, 20)))
    return int(found[1]) * 60 + int(found[2])


@cache
def _zones() -> dict[str, str]:
    names = {name.casefold(): name for name in available_timezones()}
    for alias in ("UTC", "GMT", "Z"):
        names.setdefault(alias.casefold(), "UTC")
    return names


def parse_zone(text: str) -> str:
    """A time zone name as the tz database spells it (``europe/paris`` -> ``Europe/Paris``)."""
    name = _zones().get(text.strip().casefold())
    if name is None:
        raise DigestError(_("“{text}” is not a time zone I know: use a name like Europe/Paris, "
                            "America/Lima or UTC.").format(text=quote(text, 40)))
    return name


def parse_schedule(argument: str, current: DigestSchedule) -> DigestSchedule:
    """``"HH:MM [Area/City]"``; without a zone the chat keeps the one it has."""
    words = argument.split()
    if not 1 <= len(words) <= 2:
        raise DigestError(_("Give a time and, if you like, a time zone."))
    minute = parse_time(words[0])
    zone = parse_zone(words[1]) if len(words) == 2 else current.zone
    return DigestSchedule(minute, zone)


def split_cadence(argument: str) -> tuple[str, str | None]:
    """``"child labour daily"`` -> ``("child labour", "daily")``; no cadence word -> None."""
    head, _sep, last = argument.rpartition(" ")
    word = last.casefold()
    if word in CADENCES:
        return head.strip(), word
    return argument, None


def strongest(cadences: Sequence[str]) -> str:
    """The cadence a release goes out with when several subscriptions match it: the soonest."""
    for cadence in CADENCES:
        if cadence in cadences:
            return cadence
    return INSTANT


def cadence_label(cadence: str) -> str:
    """How replies and lists name a cadence."""
    return {INSTANT: _("instant alerts"), DAILY: _("daily digest"),
            WEEKLY: _("weekly digest")}.get(cadence, cadence)


def schedule_text(schedule: DigestSchedule) -> str:
    """"08:00 (UTC), weekly ones on Mondays" for replies."""
    return _("daily at {time} ({zone}), weekly ones on Mondays at that time").format(
        time=schedule.time_text, zone=escape(schedule.zone))


# -- rendering ------------------------------------------------------------------------------

@dataclass(frozen=True)
class DigestItem:
    """One release in a digest and the outbox row that brought it."""

    row_id: int
    release: Release
    topics: tuple[str, ...]
    cadence: str


@dataclass(frozen=True)
class DigestPart:
    """One message of a digest: HTML, the same as plain text, and the rows it carries."""

    html: str
    plain: str
    row_ids: tuple[int, ...]


def render_digest(items: Sequence[DigestItem]) -> list[DigestPart]:
    """Every item, once, as one message or, above Telegram's limit, several.

    Nothing is dropped: a part holds as many whole lines as fit, and the next part goes on.
    Topics are named on each line only when the digest covers more than one topic.
    """
    if not items:
        return []
    kinds = {item.cadence for item in items}
    several_topics = len({t for item in items for t in item.topics}) > 1
    lines = [(_line(i, several_topics, html=True), _line(i, several_topics, html=False))
             for i in items]
    # Both forms of a part must fit: the plain one is what goes out if the HTML is refused.
    header = max(telegram_length(_header(kinds, len(items), 99, 99, html=h))
                 for h in (True, False))
    groups = split_messages([max(map(telegram_length, line)) for line in lines], header)
    parts = []
    for n, group in enumerate(groups, 1):
        html = "\n\n".join([_header(kinds, len(items), n, len(groups), html=True),
                             *(lines[i][0] for i in group)])
        plain = "\n\n".join([_header(kinds, len(items), n, len(groups), html=False),
                              *(lines[i][1] for i in group)])
        parts.append(DigestPart(html, plain, tuple(items[i].row_id for i in group)))
    return parts


def _header(kinds: set[str], total: int, part: int, parts: int, *, html: bool) -> str:
    if kinds == {DAILY}:
        title = _("Your daily digest")
    elif kinds == {WEEKLY}:
        title = _("Your weekly digest")
    else:
        title = _("Your digest")
    count = _n("{n} new release", "{n} new releases", total).format(n=format_number(total))
    # A template, not a concatenation: French puts a space before the colon.
    head = (_("📰 <b>{title}</b>: {count}") if html else _("📰 {title}: {count}")).format(
        title=title, count=count)
    if parts > 1:
        head += f" ({part}/{parts})"
    return head


def _topics(item: DigestItem) -> str:
    return ", ".join(t or _("all new releases") for t in item.topics[:5])


def _as_plain(text: str, limit: int) -> str:
    return cut(" ".join(text.split()), limit)


def _line(item: DigestItem, with_topics: bool, *, html: bool) -> str:
    """One release of a digest, as HTML or as plain text (both cut the same way)."""
    release = item.release
    show = quote if html else _as_plain
    title = show(release.title, TITLE_CHARS)
    url = release.url if release.url and len(release.url) <= _MAX_URL else None
    if html:
        title = f"<b>{title}</b>"
        if url:
            title = f'<a href="{escape(url, quote=True)}">{title}</a>'
    elif url:
        title += f"\n{url}"
    date = format_date(release.date)
    meta = [escape(date) if html else date, *([show(release.place, 60)] if release.place else [])]
    if with_topics:
        topics = show(_topics(item), 200)
        meta.append(f"<i>{topics}</i>" if html else topics)
    return f"• {title}\n{' · '.join(meta)}"
