"""parse_feed: RSS 2.0 and Atom items -> releases (text, dates, ids, kinds), bad items skipped."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest

from bot.releases import id_from_key
from bot.sources import SourceError, parse_feed

FIXTURES = Path(__file__).parent / "fixtures" / "sources"
RSS = (FIXTURES / "feed-rss.xml").read_bytes()
ATOM = (FIXTURES / "feed-atom.xml").read_bytes()


def _rss(*items: str, channel_extra: str = "") -> bytes:
    body = "".join(f"<item>{item}</item>" for item in items)
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        f"{channel_extra}{body}</channel></rss>"
    ).encode()


def test_rss_sample() -> None:
    hunan, advisory, undated = parse_feed(RSS, "https://www.ilo.org/feed.xml")
    assert hunan.title == "Small coal mine operators in Hunan to get special safety training"
    assert hunan.summary == "A comprehensive training programme & safety standards in Hunan, China."
    # 01:30 +08:00 on the 18th is the 17th in UTC; the publisher's day is the one that counts.
    assert hunan.date == date(2004, 10, 18)
    assert (hunan.kind, hunan.place) == ("Press release", None)
    assert hunan.url == "https://www.ilo.org/news/hunan"
    assert hunan.topics == ("Mining", "Safety and health")
    assert hunan.id == id_from_key("feed", "ilo-2004-10-18-hunan")

    assert (advisory.kind, advisory.title) == (
        "Media advisory",
        "ILO to publish first global survey of economic insecurity",
    )
    # No guid: the link is the key, and its host the readable prefix.
    assert advisory.id == id_from_key("ilo.org", "https://www.ilo.org/news/insecurity")
    assert advisory.id.startswith("ilo-org-")

    # No date on the item: the channel's lastBuildDate stands in. A "Statement" category is a kind.
    assert (undated.date, undated.kind, undated.topics) == (date(2004, 10, 30), "Statement", ())


def test_atom_sample() -> None:
    lao, mekong = parse_feed(ATOM, "feed-atom.xml")
    # A type="text" title is plain text: angle brackets in it are characters, not tags.
    assert lao.title == "Use <b> for bold: a plain-text title"
    assert lao.summary == "Young Lao migrants & their families."
    # published wins over updated, in the publisher's own calendar.
    assert lao.date == date(2004, 10, 15)
    assert lao.topics == ("Human trafficking",)
    assert lao.url == "https://www.ilo.org/news/lao"
    assert lao.id == id_from_key("ilo.org", "tag:ilo.org,2004:lao-children")

    assert mekong.title == "Mekong children & governments"
    assert mekong.summary == "An agenda for action."
    assert mekong.date == date(2004, 10, 15)


def test_ids_are_stable_across_fetches_even_when_the_title_changes() -> None:
    before = _rss("<title>Typo in titel</title><guid>https://ex.org/1</guid>")
    after = _rss("<title>Typo in title</title><guid>https://ex.org/1</guid>")
    assert parse_feed(before, "f", today=date(2004, 1, 1))[0].id == (
        parse_feed(after, "f", today=date(2004, 1, 1))[0].id
    )


def test_undated_item_in_undated_feed_uses_today() -> None:
    (release,) = parse_feed(
        _rss("<title>T</title><link>https://ex.org/1</link>"), "f", today=date(2004, 5, 6)
    )
    assert release.date == date(2004, 5, 6)


def test_relative_links_are_resolved_against_the_feed_url() -> None:
    content = _rss("<title>T</title><link>/news/1</link>")
    (release,) = parse_feed(content, "https://ex.org/feeds/rss.xml", today=date(2004, 1, 1))
    assert release.url == "https://ex.org/news/1"
    (unresolved,) = parse_feed(content, "local.xml", today=date(2004, 1, 1))
    assert unresolved.url is None  # relative with nothing to resolve against: no url, item kept


def test_item_without_title_uses_link_or_summary() -> None:
    long_summary = "word " * 40
    items = parse_feed(
        _rss(
            f"<link>https://ex.org/a</link><description>{long_summary}</description>",
            "<link>https://ex.org/b</link>",
        ),
        "f",
        today=date(2004, 1, 1),
    )
    assert items[0].title.endswith("…")
    assert len(items[0].title) <= 81
    assert items[1].title == "https://ex.org/b"


def test_bad_items_are_skipped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    content = _rss(
        "<description>neither title nor link</description>",
        "<title>Kept</title><guid>g</guid>",
        "<title>Same guid again</title><guid>g</guid>",
    )
    with caplog.at_level(logging.WARNING, logger="bot.sources.feeds"):
        releases = parse_feed(content, "https://ex.org/rss", today=date(2004, 1, 1))
    assert [r.title for r in releases] == ["Kept"]
    assert "https://ex.org/rss: item 1 skipped: item has neither a title nor a link" in caplog.text
    assert "item 3 skipped: duplicate id" in caplog.text


def test_strict_mode_raises_on_the_first_bad_item() -> None:
    content = _rss("<title>Ok</title><guid>g</guid>", "<description>x</description>")
    with pytest.raises(SourceError) as caught:
        parse_feed(content, "x.rss", strict=True, today=date(2004, 1, 1))
    assert str(caught.value) == "x.rss: item 2: item has neither a title nor a link"


def test_empty_but_valid_feed_gives_nothing() -> None:
    assert parse_feed(_rss(), "f") == []
    # feedparser flags a missing Content-Type as "bozo"; that alone is no reason to fail.
    assert parse_feed(_rss(), "https://ex.org/rss", headers={}) == []


def test_truncated_feed_keeps_what_was_read_unless_strict() -> None:
    content = _rss("<title>A</title><guid>g</guid>")[: -len("</channel></rss>")]
    content += b"<item><title>cut off he"
    releases = parse_feed(content, "https://ex.org/rss", today=date(2004, 1, 1))
    assert [r.title for r in releases][:1] == ["A"]
    with pytest.raises(SourceError, match=r"^x\.rss: malformed feed"):
        parse_feed(content, "x.rss", strict=True)


@pytest.mark.parametrize(
    "content",
    [b"", b"this is not a feed at all", b"<html><body><p>Not found</p></body></html>", b"\x00\xff"],
    ids=["empty", "text", "html", "binary"],
)
def test_unreadable_feed_is_an_error(content: bytes) -> None:
    with pytest.raises(SourceError) as caught:
        parse_feed(content, "https://ex.org/rss")
    assert caught.value.path == "https://ex.org/rss"
    assert caught.value.where is None
    assert str(caught.value).startswith("https://ex.org/rss: not a readable RSS or Atom feed")


def test_feed_file_with_unreadable_date_is_an_error_but_fetched_feed_keeps_item() -> None:
    from bot.sources import SourceError, parse_feed

    body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
            b"<item><title>Fine</title><guid>a</guid><pubDate>Tue, 02 Nov 2004 10:00:00 GMT"
            b"</pubDate></item><item><title>Odd</title><guid>b</guid>"
            b"<pubDate>yesterday-ish</pubDate></item></channel></rss>")
    with pytest.raises(SourceError, match=r"item 2.*unreadable published date 'yesterday-ish'"):
        parse_feed(body, "feed.rss", strict=True)
    assert len(parse_feed(body, "https://x/feed")) == 2
