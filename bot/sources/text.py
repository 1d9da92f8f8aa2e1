"""Small text helpers shared by the parsers: HTML to plain text, place names, kind prefixes."""

from __future__ import annotations

import re
from html.parser import HTMLParser

#: Title prefixes that say what kind of release an item really is, lower-cased, with that kind.
_KIND_PREFIXES: dict[str, str] = {"media advisory": "Media advisory"}
_KIND_PREFIX = re.compile(r"^\s*(?P<prefix>[^:]{1,40}?)\s*:\s*(?P<rest>.*)$", re.DOTALL)

# Tags after which text continues as a new block; without a space there "<p>a</p><p>b</p>"
# would read "ab".
_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p",
    "pre", "section", "table", "td", "th", "tr", "ul",
})  # fmt: skip
_INVISIBLE_TAGS = frozenset({"script", "style", "template"})


def collapse_whitespace(text: str) -> str:
    """Runs of whitespace (newlines included) as single spaces, trimmed."""
    return " ".join(text.split())


class _TextExtractor(HTMLParser):
    """Collects the text content of an HTML fragment; entities are decoded by the base class."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _INVISIBLE_TAGS:
            self._hidden_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _INVISIBLE_TAGS:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.parts.append(data)


def html_to_text(fragment: str) -> str:
    """The visible text of an HTML fragment: no tags, entities decoded, whitespace collapsed."""
    extractor = _TextExtractor()
    extractor.feed(fragment)
    extractor.close()
    return collapse_whitespace("".join(extractor.parts))


def normalise_place(place: str | None) -> str | None:
    """A place name as people write it: ALL-CAPS becomes title case, anything else is kept.

    Only letters right after whitespace, a hyphen or a slash are capitalised, so that
    ``"ST. JOHN'S"`` reads ``"St. John's"`` rather than ``str.title()``'s ``"St. John'S"``.
    """
    if place is None:
        return None
    text = collapse_whitespace(place).strip(" ,;")
    if not text:
        return None
    if text.isupper():
        text = re.sub(
            r"(^|[\s/-])(\w)(\w*)",
            lambda m: m.group(1) + m.group(2).upper() + m.group(3).lower(),
            text.lower(),
        )
    return text


def split_kind_prefix(title: str) -> tuple[str | None, str]:
    """Split a kind prefix off a title: ``"Media Advisory: X"`` -> ``("Media advisory", "X")``.

    Titles without a known prefix come back unchanged with kind ``None``.
    """
    match = _KIND_PREFIX.match(title)
    if match:
        kind = _KIND_PREFIXES.get(collapse_whitespace(match["prefix"]).lower())
        if kind is not None:
            return kind, match["rest"].strip()
    return None, title
