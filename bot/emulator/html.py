"""Telegram's ``parse_mode=HTML``: turn bot-supplied HTML into plain text plus entities.

This follows the behaviour of Telegram's own parser (TDLib ``parse_html``) closely enough that
markup Telegram rejects is rejected here with the same wording, and markup it accepts produces
the same plain text and entities:

* supported tags: ``b strong i em u ins s strike del tg-spoiler span(class="tg-spoiler") a code
  pre blockquote(expandable) tg-emoji(emoji-id)``; anything else (``<br>``, ``<p>``, a stray
  ``<``) is an error that names the tag and its byte offset;
* only ``&lt; &gt; &amp; &quot;`` and numeric references are decoded, the ``;`` being optional;
  any other named reference (``&nbsp;``) is *kept literally*, as Telegram does, not rejected;
* entity offsets and lengths are in UTF-16 code units, as in the Bot API.

Error messages are returned without the ``Bad Request: can't parse entities:`` prefix, which the
caller adds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["HtmlParseError", "ParsedText", "normalize_url", "parse_html", "utf16_len"]

SUPPORTED_TAGS = frozenset(
    {
        "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins",
        "tg-spoiler", "span", "tg-emoji", "pre", "code", "blockquote",
    }
)  # fmt: skip

_SIMPLE_TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}

# TDLib orders entities that start at the same offset and have the same length by a fixed
# priority; reproducing it keeps entity lists byte-for-byte comparable with Telegram's.
_PRIORITY = {
    "blockquote": 0,
    "expandable_blockquote": 0,
    "pre": 11,
    "code": 20,
    "text_link": 49,
    "text_mention": 49,
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "custom_emoji": 99,
}

_NAMED_REFERENCES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPACES = frozenset(" \t\r\n\v\f")
_ASCII_ALPHA = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DIGITS = frozenset("0123456789")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_NAME_TOKEN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
_SPECIAL = re.compile(r"[&<]")
_URL_SCHEMES = frozenset({"http", "https", "ftp", "tg", "ton", "tonsite"})
_HOST_LABEL = re.compile(r"^[\w-]+$")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_TG_USER = re.compile(r"^tg://user\?id=(\d{1,19})$", re.IGNORECASE)


class HtmlParseError(ValueError):
    """Markup Telegram would refuse; ``str(err)`` is Telegram's wording without the prefix."""


@dataclass
class ParsedText:
    """The result of parsing: the text as Telegram stores it and its entities."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _OpenTag:
    """A start tag waiting for its end tag."""

    name: str
    argument: str
    utf16_offset: int
    text_offset: int  # in characters of the output, to recover the text of ``<a>`` without href


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Bot API entity offsets."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def normalize_url(url: str) -> str | None:
    """Telegram's URL check for ``<a href>``: the normalised URL, or None when it is not a URL.

    Like Telegram, a URL without a scheme gets ``http://`` and an empty path becomes ``/``
    (``telegram.org`` -> ``http://telegram.org/``); a link Telegram cannot use is dropped
    silently rather than rejected, so this returns None instead of raising.
    """
    if not url or any(c.isspace() for c in url):
        return None
    if "://" in url:
        scheme = url.split("://", 1)[0].lower()
        if scheme not in _URL_SCHEMES:
            return None
    else:
        scheme = "http"
        url = "http://" + url
    if scheme in {"tg", "ton", "tonsite"}:
        return url
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 -- raises ValueError on a malformed port
    except ValueError:
        return None
    labels = host.split(".")
    if not _IPV4.match(host) and not (
        len(labels) >= 2
        and all(_HOST_LABEL.match(label) for label in labels)
        and (labels[-1].isalpha() or labels[-1].startswith("xn--"))
    ):
        return None
    return urlunsplit((scheme, parts.netloc, parts.path or "/", parts.query, parts.fragment))


def _decode_reference(text: str, pos: int) -> tuple[str, int] | None:
    """Decode the character reference at ``text[pos] == '&'``: (character, next position).

    None when it is not one Telegram decodes; the ``&`` is then ordinary text.
    """
    n = len(text)
    end = pos + 1
    if text.startswith("#", end):
        end += 1
        value = 0
        if text.startswith("x", end):
            end += 1
            while end < n and text[end] in _HEX_DIGITS:
                value = value * 16 + int(text[end], 16)
                end += 1
        else:
            while end < n and text[end] in _DIGITS:
                value = value * 10 + int(text[end])
                end += 1
        # Telegram leaves absurdly long or out-of-range references as text.
        if value == 0 or value >= 0x10FFFF or end - pos >= 10:
            return None
        char = chr(value)
    else:
        while end < n and text[end] in _ASCII_ALPHA:
            end += 1
        decoded = _NAMED_REFERENCES.get(text[pos + 1 : end])
        if decoded is None:
            return None
        char = decoded
    if end < n and text[end] == ";":
        end += 1
    return char, end


class _Parser:
    """One pass over the HTML; kept as a class so the helpers share the cursor state."""

    def __init__(self, html: str) -> None:
        self.html = html
        self.n = len(html)
        self.out: list[str] = []
        self.out_len = 0  # characters in ``out``
        self.utf16 = 0  # UTF-16 units in ``out``
        self.stack: list[_OpenTag] = []
        self.entities: list[dict[str, Any]] = []

    def char(self, i: int) -> str:
        """The character at ``i``, or "" past the end (which counts as a space, like NUL in C)."""
        return self.html[i] if i < self.n else ""

    def is_space(self, i: int) -> bool:
        """Whether position ``i`` is whitespace or the end of the text."""
        return i >= self.n or self.html[i] in _SPACES

    def byte_offset(self, i: int) -> int:
        """Telegram reports positions as UTF-8 byte offsets into the original text."""
        return len(self.html[:i].encode("utf-8", "surrogatepass"))

    def emit(self, chunk: str) -> None:
        """Append plain text to the output."""
        self.out.append(chunk)
        self.out_len += len(chunk)
        self.utf16 += utf16_len(chunk)

    def parse(self) -> ParsedText:
        """Run the parser over the whole text."""
        i = 0
        html = self.html
        while i < self.n:
            match = _SPECIAL.search(html, i)
            stop = match.start() if match else self.n
            if stop > i:
                self.emit(html[i:stop])
                i = stop
                continue
            if html[i] == "&":
                decoded = _decode_reference(html, i)
                if decoded is None:
                    self.emit("&")
                    i += 1
                else:
                    self.emit(decoded[0])
                    i = decoded[1]
            elif self.char(i + 1) == "/":
                i = self.end_tag(i)
            else:
                i = self.start_tag(i)
        if self.stack:
            raise HtmlParseError(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"'
            )
        text = "".join(self.out)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise HtmlParseError(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            ) from None
        for entity in self.entities:
            # A language only means something on <pre>; a bare <code class=...> drops it.
            if entity["type"] == "code":
                entity.pop("language", None)
        self.entities.sort(
            key=lambda e: (
                e["offset"],
                -e["length"],
                10 if e["type"] == "pre" and "language" in e else _PRIORITY.get(e["type"], 50),
            )
        )
        return ParsedText(text, self.entities)

    def start_tag(self, begin: int) -> int:
        """Parse ``<name attr=value ...>`` at ``begin``; returns the position after ``>``."""
        i = begin + 1
        while not self.is_space(i) and self.html[i] != ">":
            i += 1
        if i >= self.n:
            raise HtmlParseError(f"Unclosed start tag at byte offset {self.byte_offset(begin)}")
        name = self.html[begin + 1 : i].lower()
        if name not in SUPPORTED_TAGS:
            raise HtmlParseError(
                f'Unsupported start tag "{name}" at byte offset {self.byte_offset(begin)}'
            )
        argument = ""
        while self.char(i) != ">":
            while i < self.n and self.is_space(i):
                i += 1
            if i >= self.n:
                raise HtmlParseError(f"Unclosed start tag at byte offset {self.byte_offset(begin)}")
            if self.html[i] == ">":
                break
            attr_begin = i
            while not self.is_space(i) and self.html[i] not in "=>":
                i += 1
            attr_name = self.html[attr_begin:i].lower()
            if not attr_name:
                raise HtmlParseError(
                    f'Empty attribute name in the tag "{name}" at byte offset '
                    f"{self.byte_offset(begin)}"
                )
            while i < self.n and self.is_space(i):
                i += 1
            if self.char(i) != "=":
                # An attribute without a value; only <blockquote expandable> means anything.
                if name == "blockquote" and attr_name == "expandable":
                    argument = "1"
                continue
            i += 1
            while i < self.n and self.is_space(i):
                i += 1
            if i >= self.n:
                raise HtmlParseError(
                    f'Unclosed start tag "{name}" at byte offset {self.byte_offset(begin)}'
                )
            value, i = self.attribute_value(i)
            if i >= self.n:
                raise HtmlParseError(f"Unclosed start tag at byte offset {self.byte_offset(begin)}")
            if name == "a" and attr_name == "href":
                argument = value
            elif name == "code" and attr_name == "class" and value.startswith("language-"):
                argument = value[len("language-") :]
            elif name == "span" and attr_name == "class" and value.startswith("tg-"):
                argument = value[len("tg-") :]
            elif name == "tg-emoji" and attr_name == "emoji-id":
                argument = value
            elif name == "blockquote" and attr_name == "expandable":
                argument = "1"
        if name == "span" and argument != "spoiler":
            raise HtmlParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {self.byte_offset(begin)}'
            )
        if name == "tg-emoji" and not (argument.isdigit() and int(argument) > 0):
            raise HtmlParseError("Invalid custom emoji identifier specified")
        self.stack.append(_OpenTag(name, argument, self.utf16, self.out_len))
        return i + 1

    def attribute_value(self, i: int) -> tuple[str, int]:
        """Parse a quoted string or an unquoted name token starting at ``i``."""
        quote = self.html[i]
        if quote in "'\"":
            i += 1
            chars: list[str] = []
            while i < self.n and self.html[i] != quote:
                if self.html[i] == "&":
                    decoded = _decode_reference(self.html, i)
                    if decoded is not None:
                        chars.append(decoded[0])
                        i = decoded[1]
                        continue
                chars.append(self.html[i])
                i += 1
            if i < self.n:
                i += 1  # the closing quote
            return "".join(chars), i
        token_begin = i
        while i < self.n and self.html[i] in _NAME_TOKEN:
            i += 1
        if not self.is_space(i) and self.html[i] != ">":
            raise HtmlParseError(
                f"Unexpected end of name token at byte offset {self.byte_offset(token_begin)}"
            )
        return self.html[token_begin:i].lower(), i

    def end_tag(self, begin: int) -> int:
        """Parse ``</name>`` (or ``</>``) at ``begin``; returns the position after ``>``."""
        if not self.stack:
            raise HtmlParseError(f"Unexpected end tag at byte offset {self.byte_offset(begin)}")
        i = begin + 2
        while not self.is_space(i) and self.html[i] != ">":
            i += 1
        end_name = self.html[begin + 2 : i].lower()
        while i < self.n and self.is_space(i):
            i += 1
        if self.char(i) != ">":
            raise HtmlParseError(f"Unclosed end tag at byte offset {self.byte_offset(begin)}")
        tag = self.stack[-1]
        if end_name and end_name != tag.name:
            raise HtmlParseError(
                f"Unmatched end tag at byte offset {self.byte_offset(begin)}, "
                f'expected "</{tag.name}>", found "</{end_name}>"'
            )
        self.stack.pop()
        if self.utf16 > tag.utf16_offset:
            self.close_entity(tag)
        return i + 1

    def close_entity(self, tag: _OpenTag) -> None:
        """Record the entity for a closed, non-empty tag."""
        offset = tag.utf16_offset
        length = self.utf16 - offset
        entity: dict[str, Any] = {"offset": offset, "length": length}
        last = self.entities[-1] if self.entities else None
        same_span = last is not None and last["offset"] == offset and last["length"] == length
        if tag.name in _SIMPLE_TAG_TYPES:
            entity["type"] = _SIMPLE_TAG_TYPES[tag.name]
        elif tag.name == "blockquote":
            entity["type"] = "expandable_blockquote" if tag.argument else "blockquote"
        elif tag.name == "tg-emoji":
            entity["type"] = "custom_emoji"
            entity["custom_emoji_id"] = tag.argument
        elif tag.name == "a":
            url = tag.argument or "".join(self.out)[tag.text_offset :]
            user = _TG_USER.match(url)
            if user:
                entity["type"] = "text_mention"
                entity["user"] = {"id": int(user.group(1))}
            else:
                normalized = normalize_url(url)
                if normalized is None:
                    return  # Telegram silently drops links it cannot use
                entity["type"] = "text_link"
                entity["url"] = normalized
        elif tag.name == "pre":
            # <pre><code class="language-x">...</code></pre> is one pre entity with a language.
            if last is not None and same_span and last["type"] == "code" and last.get("language"):
                last["type"] = "pre"
                return
            entity["type"] = "pre"
        else:  # code
            if last is not None and same_span and last["type"] == "pre" and tag.argument:
                last["language"] = tag.argument
                return
            entity["type"] = "code"
            if tag.argument:
                entity["language"] = tag.argument
        self.entities.append(entity)


def parse_html(html: str) -> ParsedText:
    """Parse Telegram HTML; raises HtmlParseError with Telegram's message on bad markup."""
    return _Parser(html).parse()
