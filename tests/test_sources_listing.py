"""The seed's plain-text listing: every entry parsed exactly, and each kind of mistake named."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.releases import make_id
from bot.sources import SourceError, load_file, parse_listing

SEED = Path(__file__).parent / "fixtures" / "sources" / "ilo-news-2004.txt"

# (title, date, place, kind) of the ten entries, in file order.
EXPECTED = [
    (
        "Experts assess progress in improving Cambodian home workers safety and health",
        date(2004, 10, 26),
        None,
        "Press release",
    ),
    (
        "Small coal mine operators in Hunan to get special safety training",
        date(2004, 10, 18),
        "Beijing",
        "Press release",
    ),
    ("Migrant Lao children - whereabouts unknown", date(2004, 10, 15), None, "Press release"),
    (
        "Mekong children offer governments comprehensive action plan to fight human trafficking",
        date(2004, 10, 15),
        None,
        "Press release",
    ),
    (
        "China's entrepreneurs to get safety and health training",
        date(2004, 9, 27),
        None,
        "Press release",
    ),
    (
        "Mongolia's small businesses to get safety and health training",
        date(2004, 9, 21),
        None,
        "Press release",
    ),
    (
        "China international forum on work safety focuses on most dangerous work",
        date(2004, 8, 30),
        None,
        "Press release",
    ),
    (
        "ILO to publish first global survey of economic insecurity",
        date(2004, 8, 26),
        "Geneve",
        "Media advisory",
    ),
    (
        "New safety and health training targets construction workers",
        date(2004, 8, 24),
        None,
        "Press release",
    ),
    (
        "Korean Government funds workshop to improve safety and health for Viet Nam coal miners",
        date(2004, 8, 24),
        None,
        "Press release",
    ),
]


def test_seed_listing_gives_all_ten_entries_exactly() -> None:
    releases = load_file(SEED)
    got = [(r.title, r.date, r.place, r.kind) for r in releases]
    assert got == EXPECTED
    for release in releases:
        assert release.id == make_id(release.date, release.title)
        assert release.url is None
        assert release.topics == ()
        assert release.summary


def test_seed_summaries_keep_typographic_apostrophes_and_wrap_into_one_line() -> None:
    releases = load_file(SEED)
    assert releases[0].summary.startswith("ILO experts goes to Cambodia")
    assert "ILO’s WISH" in releases[0].summary
    assert releases[9].summary.endswith("for Viet Nam’s coal miners.")
    assert releases[7].summary.startswith("A new ILO study covering 90 countries")


def _listing(*entries: str) -> str:
    return "News and articles\n\n\n" + "\n".join(entries)


ENTRY = """  1. Press release

    A title

    26 October 2004,

    A summary.
"""


def test_summary_wrapping_over_lines_and_date_variants() -> None:
    text = _listing(
        """  1. Statement

    First title

    3 Oct. 2004, NEW YORK

    A summary that wraps
    over two lines.

  2. Press release
    Second title
    9 Sept 2004
    Compact entry, no blank lines, no comma, in 2004.
    3. This numbered line is summary text, not an entry: no blank line before it.
"""
    )
    first, second = parse_listing(text, "listing.txt")
    assert (first.kind, first.date, first.place) == ("Statement", date(2004, 10, 3), "New York")
    assert first.summary == "A summary that wraps over two lines."
    assert (second.title, second.date, second.place) == ("Second title", date(2004, 9, 9), None)
    assert second.summary.endswith(
        "3. This numbered line is summary text, not an entry: no blank line before it."
    )


def test_mixed_case_place_is_kept_and_media_advisory_prefix_any_case() -> None:
    text = _listing(
        """  1. Press release

    MEDIA ADVISORY:  Something happens

    1 May 2004, Dar es Salaam

    Words.
"""
    )
    (release,) = parse_listing(text)
    assert (release.kind, release.title, release.place) == (
        "Media advisory",
        "Something happens",
        "Dar es Salaam",
    )


def _error(text: str) -> str:
    with pytest.raises(SourceError) as caught:
        parse_listing(text, "listing.txt")
    return str(caught.value)


def test_garbage_date_line_names_the_line() -> None:
    text = ENTRY.replace("26 October 2004,", "sometime in autumn")
    message = _error(_listing(text))
    assert message == (
        "listing.txt: line 8: expected a date like '26 October 2004', got 'sometime in autumn'"
    )


def test_unknown_month_and_impossible_day_are_errors() -> None:
    assert "line 8: expected a date like" in _error(_listing(ENTRY.replace("October", "Octobre")))
    message = _error(_listing(ENTRY.replace("26 October", "31 September")))
    assert message.startswith("listing.txt: line 8: '31 September 2004,' is not a valid date")


def test_entry_without_summary_names_its_line() -> None:
    text = _listing(ENTRY, "  2. Press release\n\n    Second\n\n    1 May 2004\n")
    assert _error(text) == "listing.txt: line 12: entry 2 has no summary"


def test_entry_without_date_names_its_line() -> None:
    assert _error(_listing("  1. Press release\n\n    Only a title\n")) == (
        "listing.txt: line 4: entry 1 has no date line after its title"
    )


def test_entry_without_title_names_its_line() -> None:
    assert _error(_listing("  1. Press release\n\n    26 October 2004,\n\n    Summary.\n")) == (
        "listing.txt: line 6: entry 1 has no title before its date"
    )
    assert _error(_listing("  1. Press release\n", ENTRY)) == (
        "listing.txt: line 4: entry 1 has no title"
    )


def test_listing_without_entries_is_an_error() -> None:
    assert _error("News and articles\n\nNothing this week.\n") == (
        "listing.txt: no numbered entries found (expected lines like '1. Press release')"
    )
    assert "no numbered entries" in _error("")


def test_duplicate_entries_are_an_error() -> None:
    text = _listing(ENTRY, ENTRY.replace("1. Press", "2. Press"))
    assert _error(text) == (
        "listing.txt: line 12: duplicate id '2004-10-26-a-title' (first used at line 4)"
    )


def test_windows_line_endings_and_bom_are_read() -> None:
    text = "\ufeff" + _listing(ENTRY).replace("\n", "\r\n")
    (release,) = parse_listing(text)
    assert (release.title, release.summary) == ("A title", "A summary.")
