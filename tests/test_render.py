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
