"""The seed's plain-text listing ("News and articles", numbered entries) -> releases.

The format, as in ``ilo-news-2004.txt``::

    News and articles

      1. Press release

        Experts assess progress in improving Cambodian home workers safety and health

        26 October 2004,

        ILO experts goes to Cambodia to review ...

Text before the first numbered line is a header and ignored. Each entry is a numbered line giving
its kind, then the title line, then a date line (day month year, optionally ``, PLACE``), then
a summary that may wrap over several lines and runs until the next numbered entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from bot.releases import Release
from bot.sources.errors import SourceError
from bot.sources.text import collapse_whitespace, normalise_place, split_kind_prefix
from bot.sources.validate import build_release, ensure_unique_ids
from bot.text.languages import DEFAULT_LANGUAGE

_ENTRY = re.compile(r"^\s*(?P<number>\d{1,5})\.\s+(?P<kind>\S.*?)\s*$")
_DATE = re.compile(
    r"^\s*(?P<day>\d{1,2})\s+(?P<month>[A-Za-z]+)\.?\s+(?P<year>\d{4})\s*(?:,(?P<place>.*))?$"
)
_MONTHS: dict[str, int] = {}
_MONTH_NAMES = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
for _number, _name in enumerate(_MONTH_NAMES, start=1):
    _MONTHS[_name] = _number
    _MONTHS[_name[:3]] = _number
_MONTHS["sept"] = 9
_DATE_EXAMPLE = "expected a date like '26 October 2004'"


@dataclass
class _Entry:
    """One numbered entry as read so far: its line numbers let errors point at the right line."""

    line: int
    number: str
    kind: str
    body: list[tuple[int, str]] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"line {self.line}"


def parse_listing(
    text: str, path: str = "<text>", language: str = DEFAULT_LANGUAGE
) -> list[Release]:
    """Every entry of a plain-text listing as releases, in file order.

    All-or-nothing: the first bad entry raises :class:`SourceError` naming ``path`` and the line.
    """
    entries = _split_entries(text, path)
    if not entries:
        raise SourceError(
            path, None, "no numbered entries found (expected lines like '1. Press release')"
        )
    return ensure_unique_ids(path, ((e.where, _to_release(e, path, language)) for e in entries))


def _split_entries(text: str, path: str) -> list[_Entry]:
    entries: list[_Entry] = []
    previous_blank = True
    # Split on line breaks only: str.splitlines() also breaks at form feeds and U+2028, which
    # would make the line numbers in errors disagree with the user's editor.
    for number, raw in enumerate(re.split(r"\r\n|\r|\n", text.removeprefix("\ufeff")), start=1):
        line = raw.strip()
        header = _ENTRY.match(raw)
        # A numbered line counts as a new entry only after a blank line (or before any entry),
        # so a wrapped summary line such as "in 2004. The ILO ..." never starts one.
        if header and (previous_blank or not entries):
            entries.append(_Entry(line=number, number=header["number"], kind=header["kind"]))
        elif line and entries:
            entries[-1].body.append((number, line))
        previous_blank = not line
    return entries


def _to_release(entry: _Entry, path: str, language: str) -> Release:
    label = f"entry {entry.number}"
    if not entry.body:
        raise SourceError(path, entry.where, f"{label} has no title")
    (title_line, title), *rest = entry.body
    if _DATE.match(title):
        raise SourceError(path, f"line {title_line}", f"{label} has no title before its date")
    if not rest:
        raise SourceError(path, entry.where, f"{label} has no date line after its title")
    (date_line, date_text), *summary_lines = rest
    when, place = _parse_date_line(date_text, path, f"line {date_line}")
    if not summary_lines:
        raise SourceError(path, entry.where, f"{label} has no summary")

    kind, title = split_kind_prefix(title)
    if not title:
        raise SourceError(path, f"line {title_line}", f"{label} has no title")
    return build_release(
        path,
        entry.where,
        {
            "kind": kind or entry.kind,
            "title": title,
            "date": when,
            "place": place,
            "summary": collapse_whitespace(" ".join(text for _, text in summary_lines)),
        },
        language,
    )


def _parse_date_line(text: str, path: str, where: str) -> tuple[date, str | None]:
    """``"18 October 2004, BEIJING"`` -> (date, "Beijing"); the place part is optional."""
    match = _DATE.match(text)
    month = _MONTHS.get(match["month"].lower()) if match else None
    if match is None or month is None:
        raise SourceError(path, where, f"{_DATE_EXAMPLE}, got {text!r}")
    try:
        when = date(int(match["year"]), month, int(match["day"]))
    except ValueError as err:
        raise SourceError(path, where, f"{text!r} is not a valid date: {err}") from None
    return when, normalise_place(match["place"])
