"""Telegram's message limit, and every rule that shortens text to fit it or a field.

Telegram refuses a message over :data:`MAX_MESSAGE` characters, counted in UTF-16 code units
after entity parsing; lengths here are measured on the final markup, a stricter bound. A text
cut short ends in :data:`ELLIPSIS`. What does not fit is handled here once for every message
the bot writes: a summary shortened (:func:`shrink_to_fit`), a list that drops its last lines
and says how many (:func:`fit_lines`), a long digest split into several messages
(:func:`split_messages`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from bot import i18n
from bot.i18n import _

MAX_MESSAGE = 4096
ELLIPSIS = "…"


def telegram_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def fits(text: str) -> bool:
    """Whether ``text`` is short enough for one message."""
    return telegram_length(text) <= MAX_MESSAGE


def cut(text: str, limit: int | None, *, at_word: bool = True) -> str:
    """``text`` shortened to ``limit`` characters, ending in an ellipsis when anything went.

    ``at_word``: back to the last whole word of the first ``limit`` characters, trailing
    punctuation dropped, then the ellipsis (one more character); otherwise the first
    ``limit - 1`` characters and the ellipsis. ``None``: no limit.
    """
    if limit is None or len(text) <= limit:
        return text
    if not at_word:
        return text[:limit - 1] + ELLIPSIS
    head = text[:limit]
    kept = head.rsplit(" ", 1)[0] if " " in head else head
    return kept.rstrip(" ,.;:") + ELLIPSIS


def quote(text: str, limit: int = 100) -> str:
    """User or release text shown inside markup: on one line, cut short and escaped."""
    return escape(cut(" ".join(text.split()), limit))


def _same(text: str) -> str:
    return text


def shrink_to_fit(text: str, room: int, *, start: int | None = None,
                  render: Callable[[str], str] = _same) -> str:
    """``render(cut(text, n))`` for ``n`` up to ``start`` (default: all of it), shortened until
    it is at most ``room`` long; at one character it is returned even if still too long."""
    limit = min(start or len(text), len(text))
    shown = render(cut(text, limit))
    while telegram_length(shown) > room and limit > 1:
        # Rendering lengthens text (& -> &amp;) unevenly: shrink in proportion, measure again.
        limit = max(1, min(limit - 1, limit * room // telegram_length(shown)))
        shown = render(cut(text, limit))
    return shown


def _more(count: int) -> str:
    return _("… and {count} more").format(count=i18n.format_number(count))


def fit_lines(head: Sequence[str], items: Sequence[str], tail: Sequence[str] = (), *,
              more: Callable[[int], str] = _more) -> str:
    """``head``, ``items`` and ``tail`` one per line, as one message.

    When that is too long, items are left out from the end and a line saying how many
    ("… and 12 more", or ``more(count)``) takes their place; ``head`` and ``tail`` always
    stay (even if they alone are too long).
    """
    sizes = [telegram_length(item) for item in items]
    fixed = sum(telegram_length(line) for line in (*head, *tail))
    lines = len(head) + len(tail)
    total = sum(sizes)
    keep = len(items)
    while keep > 0:
        note = [more(len(items) - keep)] if keep < len(items) else []
        length = (fixed + total + sum(telegram_length(n) for n in note)
                  + lines + keep + len(note) - 1)  # the newlines between
        if length <= MAX_MESSAGE:
            break
        keep -= 1
        total -= sizes[keep]
    note = [more(len(items) - keep)] if keep < len(items) else []
    return "\n".join([*head, *items[:keep], *note, *tail])


def split_messages(sizes: Sequence[int], header: int, gap: int = 2) -> list[range]:
    """Blocks of these lengths (in order) into messages that each begin with a header of
    length ``header`` and put ``gap`` characters between any two pieces: as many whole
    blocks in each as fit, in order, a block too long for any message in one of its own.
    Returns the blocks (index ranges) of each message."""
    room = MAX_MESSAGE - header - gap
    groups: list[range] = []
    start = used = 0
    for n, size in enumerate(sizes):
        if n > start and used + size + gap > room:
            groups.append(range(start, n))
            start, used = n, 0
        used += size + gap
    if sizes:
        groups.append(range(start, len(sizes)))
    return groups
