"""Rendering: escaped HTML, the "title / date · place · kind / summary" shape, the 4096 limit."""

from __future__ import annotations

from datetime import date

from bot.releases import Release
from bot.render import MAX_MESSAGE, release_html, release_list_html, telegram_length


def make(**changes: object) -> Release:
    base = {"id": "x", "kind": "Press release", "title": "Coal <mines> & safety",
            "date": date(2004, 10, 18), "place": "Beijing", "summary": "Text & more <b>",
            "url": None, "topics": ()}
    return Release(**{**base, **changes})  # type: ignore[arg-type]


def test_shape_and_escaping() -> None:
    html = release_html(make())
    assert html == ("<b>Coal &lt;mines&gt; &amp; safety</b>\n"
                    "18 October 2004 · Beijing · Press release\nText &amp; more &lt;b&gt;")


def test_title_links_to_url_with_quotes_escaped() -> None:
    html = release_html(make(url='https://example.org/a?b=1&c="2"'))
    assert html.startswith('<a href="https://example.org/a?b=1&amp;c=&quot;2&quot;"><b>')


def test_no_place_and_alert_topics() -> None:
    html = release_html(make(place=None), matched=("mining", ""))
    assert "18 October 2004 · Press release" in html
    assert html.endswith("<i>Alert: mining, all new releases</i>")


def test_huge_release_fits_even_when_escaping_inflates_it() -> None:
    html = release_html(make(title="T&" * 1000, summary="&<>" * 5000, place="P" * 500),
                        matched=("x" * 200,) * 30)
    assert telegram_length(html) <= MAX_MESSAGE
    assert html.rstrip("</i>").count("…") >= 1 and "&amp;&lt;&gt;" in html


def test_list_of_many_long_releases_fits_one_message() -> None:
    releases = [make(id=str(n), summary="word " * 3000) for n in range(20)]
    html, shown = release_list_html(releases, lambda n: f"<b>Latest {n}</b>")
    assert telegram_length(html) <= MAX_MESSAGE
    assert shown == 20 and html.count("<b>Coal") == 20 and "<b>Latest 20</b>" in html


def test_list_drops_trailing_releases_when_even_titles_do_not_fit() -> None:
    releases = [make(id=str(n), title="Long title " * 30, url="https://example.org/" + "x" * 200)
                for n in range(20)]
    html, shown = release_list_html(releases, lambda n: f"<b>Latest {n}</b>")
    assert telegram_length(html) <= MAX_MESSAGE
    assert 0 < shown < 20 and f"<b>Latest {shown}</b>" in html
    assert "Text &amp; more" not in html  # summaries went first


def test_zero_summary_chars_leaves_the_summary_out() -> None:
    assert "Text" not in release_html(make(), summary_chars=0)


# -- topic keyboards ---------------------------------------------------------------------------

def _buttons(n: int, subscribed: int = -1, name: str = "topic") -> list:
    from bot.render import TopicButton
    from bot.topics.rules import topic_tag
    return [TopicButton(f"{name} {i}", i, topic_tag(f"{name} {i}"), i == subscribed)
            for i in range(n)]


def _data(markup) -> list[str]:
    return [b.callback_data for row in markup.inline_keyboard for b in row]


def _texts(markup) -> list[str]:
    return [b.text for row in markup.inline_keyboard for b in row]


def test_topic_keyboard_pages_and_data_reads_back() -> None:
    from bot.render import TOPICS_PER_PAGE, parse_topic_tap, topic_keyboard
    buttons = _buttons(TOPICS_PER_PAGE * 2 + 1, subscribed=1)
    first = topic_keyboard(buttons, "0")
    assert _texts(first)[:2] == ["Topic 0 (0)", "✅ Topic 1 (1)"]
    assert _texts(first)[-1] == "More › (2/3)"
    last = topic_keyboard(buttons, "2")
    assert _texts(last) == [f"Topic {TOPICS_PER_PAGE * 2} ({TOPICS_PER_PAGE * 2})", "‹ Back"]
    assert _texts(topic_keyboard(buttons, "99")) == _texts(last)  # past the end: the last page
    for markup in (first, last):
        for data in _data(markup):
            tap = parse_topic_tap(data)
            assert tap is not None, data
    tap = parse_topic_tap(_data(first)[1])
    assert tap is not None and (tap.menu, tap.action, tap.tag) == ("0", "s", buttons[1].tag)


def test_topic_keyboard_confirm_row_and_long_names() -> None:
    from bot.render import parse_topic_tap, topic_keyboard
    buttons = _buttons(3, subscribed=1, name="occupational safety and health " * 5)
    markup = topic_keyboard(buttons, "0", confirm=buttons[1].tag)
    rows = [[b.text for b in row] for row in markup.inline_keyboard]
    assert rows[1][0].startswith("✖ Unsubscribe: Occupational") and rows[1][1] == "Keep ✅"
    assert all(len(row) == 1 for i, row in enumerate(rows) if i != 1)  # long labels: a row each
    assert all(len(t) <= 60 for t in _texts(markup))
    assert all(len(d.encode()) <= 64 for d in _data(markup))
    assert parse_topic_tap(_data(markup)[1]).action == "u"  # type: ignore[union-attr]
    assert parse_topic_tap(_data(markup)[2]).action == "k"  # type: ignore[union-attr]


def test_welcome_keyboard_and_forged_data() -> None:
    from bot.render import parse_topic_tap, topic_keyboard
    markup = topic_keyboard(_buttons(4), "w")
    assert _texts(markup)[-1] == "All topics ›"
    assert all(d.startswith("tt:w:") for d in _data(markup)[:-1])
    for data in ("tt:", "tt:0:s", "tt:0:s:XYZ", "tt:0:k:0123456789", "tt:w:p", "tt:1234:p",
                 "unsub:1", "tt:0:s:0123456789:extra"):
        assert parse_topic_tap(data) is None, data


# -- fitting: one rule for every message ------------------------------------------------------


def test_cut_at_a_word_or_at_a_character() -> None:
    from bot.render import cut
    assert cut("child labour, in mines", 14) == "child labour…"
    assert cut("child labour", 12) == "child labour" and cut("child", None) == "child"
    assert cut("child labour", 6, at_word=False) == "child…"
    assert cut("abcdefgh", 4) == "abcd…"  # no space: cut inside the word


def test_fit_lines_keeps_head_and_tail_and_says_how_many_went() -> None:
    from bot.render import fit_lines
    items = [f"line {n} " + "x" * 100 for n in range(100)]
    text = fit_lines(["HEAD"], items, ["TAIL"])
    assert telegram_length(text) <= MAX_MESSAGE
    lines = text.split("\n")
    assert lines[0] == "HEAD" and lines[-1] == "TAIL"
    shown = len(lines) - 3
    assert lines[1:-2] == items[:shown] and lines[-2] == f"… and {100 - shown} more"
    assert fit_lines(["HEAD"], items[:3]) == "\n".join(["HEAD", *items[:3]])  # all fit: no note
    assert fit_lines(["H" * 5000], items, more=lambda n: f"+{n}") == "H" * 5000 + "\n+100"


def test_split_messages_keeps_order_and_fills_each_message() -> None:
    from bot.render import split_messages
    sizes = [1000] * 10 + [5000, 10]
    groups = split_messages(sizes, header=90)
    assert [list(g) for g in groups] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9], [10], [11]]
    for group in groups[:-2]:
        assert 90 + sum(sizes[i] + 2 for i in group) <= MAX_MESSAGE
    assert split_messages([], header=10) == []
