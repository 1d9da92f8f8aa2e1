"""The one error every source raises, so callers can report a bad file or feed in one line."""

from __future__ import annotations


class SourceError(Exception):
    """A source could not be read.

    ``str()`` is one line, ``'<path or url>: <where>: <what>'`` (or ``'<path or url>: <what>'``
    when the problem is not tied to one place), e.g.
    ``"feeds/x.json: entry 3: field 'date' is not a date ..."`` or
    ``"listing.txt: line 14: expected a date like '26 October 2004', got 'soon'"``.
    """

    path: str
    where: str | None
    reason: str

    def __init__(self, path: str, where: str | None, reason: str) -> None:
        self.path = path
        self.where = where
        # Messages end up in logs and chat replies, where a stray newline splits one error in two.
        self.reason = " ".join(reason.split())
        super().__init__(self.path, self.where, self.reason)

    def __str__(self) -> str:
        parts = [self.path, self.where, self.reason]
        return ": ".join(part for part in parts if part)
