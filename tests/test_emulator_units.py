"""Unit tests of the emulator's building blocks: the HTML parser, flood limiter and faults.

The HTML cases are Telegram's own expectations (TDLib's parse_html test suite), so the emulator
accepts and rejects exactly what Telegram does.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.emulator.entities import find_entities
from bot.emulator.faults import FaultInjector
from bot.emulator.html import HtmlParseError, normalize_url, parse_html
from bot.emulator.limits import FloodLimiter, FloodLimits

SURROGATE = (
    "Text contains invalid Unicode characters after decoding HTML entities, "
    "check for unmatched surrogate code units"
)


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("&#57311;", SURROGATE),
        ("&#xDFDF", SURROGATE),
        ("🏟 🏟&lt;<abacaba", "Unclosed start tag at byte offset 13"),
        ("🏟 🏟&lt;<abac aba>", 'Unsupported start tag "abac" at byte offset 13'),
        ("🏟 🏟&lt;<i   =aba>", 'Empty attribute name in the tag "i" at byte offset 13'),
        ("🏟 🏟&lt;<i    aba>", 'Can\'t find end tag corresponding to start tag "i"'),
        ("🏟 🏟&lt;<i    aba  =  ", 'Unclosed start tag "i" at byte offset 13'),
        ("🏟 🏟&lt;<i    aba  =  190azAz-.,", "Unexpected end of name token at byte offset 27"),
        ('🏟 🏟&lt;<i    aba  =  "&lt;&gt;&quot;>', "Unclosed start tag at byte offset 13"),
        ("🏟 🏟&lt;</", "Unexpected end tag at byte offset 13"),
        ("🏟 🏟&lt;<b></b></", "Unexpected end tag at byte offset 20"),
        ("🏟 🏟&lt;<i>a</i   ", "Unclosed end tag at byte offset 17"),
        (
            "🏟 🏟&lt;<i>a</em   >",
            'Unmatched end tag at byte offset 17, expected "</i>", found "</em>"',
        ),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("line<br>break", 'Unsupported start tag "br" at byte offset 4'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<tg-emoji>x</tg-emoji>", "Invalid custom emoji identifier specified"),
    ],
)
def test_html_rejected_like_telegram(html: str, error: str) -> None:
    with pytest.raises(HtmlParseError) as caught:
        parse_html(html)
    assert str(caught.value) == error


def _brief(entities: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    extras = ("url", "language", "custom_emoji_id")
    return [
        (e["type"], e["offset"], e["length"], *(e[k] for k in extras if k in e)) for e in entities
    ]


@pytest.mark.parametrize(
    ("html", "text", "entities"),
    [
        (
            "&ge;&lt;&gt;&amp;&quot;&laquo;&raquo;&#12345678;",
            '&ge;<>&"&laquo;&raquo;&#12345678;',
            [],
        ),
        ("&nbsp;&#65;&#x42;&amp", "&nbsp;AB&", []),
        (
            "🏟 🏟<i>🏟 &gt;<b aba   =   caba>&lt🏟</b></i>",
            "🏟 🏟🏟 ><🏟",
            [("italic", 5, 7), ("bold", 9, 3)],
        ),
        ("🏟 🏟&lt;<i    aba  =  '&lt;&gt;&quot;'>a</>", "🏟 🏟<a", [("italic", 6, 1)]),
        ("<a href=telegram.org>\t</a>", "\t", [("text_link", 0, 1, "http://telegram.org/")]),
        (
            "<a   href=  'telegram.org?&lt;'   > </a>",
            " ",
            [("text_link", 0, 1, "http://telegram.org/?<")],
        ),
        ("<a> </a>", " ", []),
        ("<a>telegram.org </a>", "telegram.org ", []),
        (
            "<a>https://telegram.org/asdsa?asdasdwe#12e3we</a>",
            "https://telegram.org/asdsa?asdasdwe#12e3we",
            [("text_link", 0, 42, "https://telegram.org/asdsa?asdasdwe#12e3we")],
        ),
        (
            "<code><i><b> </b></i></code><i><b><code> </code></b></i>",
            "  ",
            [
                ("code", 0, 1),
                ("bold", 0, 1),
                ("italic", 0, 1),
                ("code", 1, 1),
                ("bold", 1, 1),
                ("italic", 1, 1),
            ],
        ),
        ("🏟 🏟&lt;<pre><code>🏟 🏟&lt;</code></>", "🏟 🏟<🏟 🏟<", [("pre", 6, 6), ("code", 6, 6)]),
        (
            '🏟 🏟&lt;<pre><code class="language-fift">🏟 🏟&lt;</></>',
            "🏟 🏟<🏟 🏟<",
            [("pre", 6, 6, "fift")],
        ),
        (
            '🏟 🏟&lt;<code class="language-fift"><pre>🏟 🏟&lt;</></>',
            "🏟 🏟<🏟 🏟<",
            [("pre", 6, 6, "fift")],
        ),
        (
            '🏟 🏟&lt;<pre><code class="language-fift">🏟 🏟&lt;</> </>',
            "🏟 🏟<🏟 🏟< ",
            [("pre", 6, 7), ("code", 6, 6)],
        ),
        (
            '🏟 🏟<b aba   =   caba><tg-emoji emoji-id="1">🏟</tg-emoji>1</b>',
            "🏟 🏟🏟1",
            [("bold", 5, 3), ("custom_emoji", 5, 2, "1")],
        ),
        (
            '<blockquote   cite="" askdlbas nasjdbaj nj12b3>a&lt;<pre  >b;</></>',
            "a<b;",
            [("blockquote", 0, 4), ("pre", 2, 2)],
        ),
        (
            "<blockquote   expandable>a&lt;<pre  >b;</></>",
            "a<b;",
            [("expandable_blockquote", 0, 4), ("pre", 2, 2)],
        ),
        (
            '➡️ ➡️<span class = "tg-spoiler">➡️ ➡️</span><b>➡️ ➡️</b>',
            "➡️ ➡️➡️ ➡️➡️ ➡️",
            [("spoiler", 5, 5), ("bold", 10, 5)],
        ),
        (
            "<tg-spoiler>x</tg-spoiler><s>y</s><u>z</u>",
            "xyz",
            [
                ("spoiler", 0, 1),
                ("strikethrough", 1, 1),
                ("underline", 2, 1),
            ],
        ),
        ("<b></b>empty", "empty", []),
        ('<a href="javascript:alert(1)">x</a>', "x", []),
    ],
)
def test_html_parsed_like_telegram(html: str, text: str, entities: list[tuple[Any, ...]]) -> None:
    parsed = parse_html(html)
    assert parsed.text == text
    assert _brief(parsed.entities) == entities


def test_html_text_mention_and_offsets_in_utf16() -> None:
    parsed = parse_html('😀 <a href="tg://user?id=42">you</a>')
    assert parsed.entities == [
        {"offset": 3, "length": 3, "type": "text_mention", "user": {"id": 42}}
    ]


def test_normalize_url() -> None:
    assert normalize_url("example.com") == "http://example.com/"
    assert normalize_url("https://www.ilo.org/news?id=1") == "https://www.ilo.org/news?id=1"
    assert normalize_url("tg://resolve?domain=x") == "tg://resolve?domain=x"
    assert normalize_url("not a url") is None
    assert normalize_url("localhost") is None
    assert normalize_url("javascript:alert(1)") is None


def test_find_entities_like_telegram() -> None:
    text = "/search@newsbot_test_bot child labour #ilo @someone https://ilo.org/x"
    kinds = [
        (e["type"], text[e["offset"] : e["offset"] + e["length"]]) for e in find_entities(text)
    ]
    assert kinds == [
        ("bot_command", "/search@newsbot_test_bot"),
        ("hashtag", "#ilo"),
        ("mention", "@someone"),
        ("url", "https://ilo.org/x"),
    ]
    assert find_entities("a/b and path/to") == []


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_flood_limiter_per_chat_burst_then_rate() -> None:
    clock = FakeClock()
    limiter = FloodLimiter(FloodLimits(burst=3), clock=clock)
    assert [limiter.acquire(1, is_group=False) for _ in range(3)] == [None, None, None]
    assert limiter.acquire(1, is_group=False) == 1
    assert limiter.acquire(2, is_group=False) is None  # another chat is unaffected
    clock.now += 1.0
    assert limiter.acquire(1, is_group=False) is None
    assert limiter.acquire(1, is_group=False) == 1


def test_flood_limiter_exact_rate_with_jitter_is_never_refused() -> None:
    clock = FakeClock()
    limiter = FloodLimiter(FloodLimits(), clock=clock)
    for step in range(100):
        clock.now += 1.0 + (0.01 if step % 2 else -0.01)
        assert limiter.acquire(7, is_group=False) is None


def test_flood_limiter_group_per_minute_and_global() -> None:
    clock = FakeClock()
    limiter = FloodLimiter(FloodLimits(burst=3), clock=clock)
    assert [limiter.acquire(-5, is_group=True) for _ in range(3)] == [None, None, None]
    # 20/min refills one message every 3 s: after 1 s the chat bucket is fine, the group's not.
    clock.now += 1.0
    assert limiter.acquire(-5, is_group=True) == 2
    clock.now += 2.0
    assert limiter.acquire(-5, is_group=True) is None
    assert limiter.acquire(-5, is_group=True) == 3

    limiter = FloodLimiter(FloodLimits(per_second=30), clock=clock)
    results = [limiter.acquire(chat, is_group=False) for chat in range(31)]
    assert results[:30] == [None] * 30
    assert results[30] == 1


def test_flood_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="per_second"):
        FloodLimits(per_second=0)


def test_fault_injector_matching_and_counts() -> None:
    faults = FaultInjector()
    faults.add("sendMessage", chat_id=5, times=2, error=403, description="Forbidden: x")
    assert faults.take("sendMessage", 6) is None
    assert faults.take("getMe", 5) is None
    first = faults.take("sendmessage", 5)
    assert first is not None
    assert first.response() == (
        403,
        {"ok": False, "error_code": 403, "description": "Forbidden: x"},
    )
    assert faults.take("sendMessage", 5) is not None
    assert faults.take("sendMessage", 5) is None
    assert len(faults.fired) == 2

    faults.add(retry_after=7)
    fault = faults.take("sendMessage", 1)
    assert fault is not None
    assert fault.response() == (
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 7",
            "parameters": {"retry_after": 7},
        },
    )
    faults.add("*", delay=0.5)
    fault = faults.take("getMe", None)
    assert fault is not None and fault.response() is None and fault.delay == 0.5
    faults.add(error=502)
    faults.clear()
    assert faults.take("sendMessage", 1) is None
