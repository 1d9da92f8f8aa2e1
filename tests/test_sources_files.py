"""load_file: JSON arrays, JSON Lines, format detection, errors naming file and entry, seed data."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from bot.releases import Release
from bot.sources import SourceError, load_file

FIXTURES = Path(__file__).parent / "fixtures" / "sources"
SEED_FIXTURE = FIXTURES / "ilo-news-2004.txt"
SHARED_SEED = Path(__file__).parents[2] / "shared" / "seed" / "ilo-news-2004.txt"
DATA = Path(__file__).parents[1] / "data" / "releases.json"


def test_data_releases_json_is_the_seed_listing() -> None:
    stored = [Release.from_dict(item) for item in json.loads(DATA.read_text(encoding="utf-8"))]
    assert load_file(SEED_FIXTURE) == stored
    assert len(stored) == 10


def test_data_releases_json_is_exactly_what_the_generator_writes() -> None:
    # Regenerate with: python -m bot.sources tests/fixtures/sources/ilo-news-2004.txt
    expected = [r.to_dict() for r in load_file(SEED_FIXTURE)]
    text = json.dumps(expected, indent=2, ensure_ascii=False) + "\n"
    assert DATA.read_text(encoding="utf-8") == text


@pytest.mark.skipif(not SHARED_SEED.exists(), reason="no ../shared/seed next to this checkout")
def test_fixture_seed_is_a_faithful_copy_of_the_shared_seed() -> None:
    assert SEED_FIXTURE.read_bytes() == SHARED_SEED.read_bytes()


def test_json_array_sample_ignores_unknown_fields() -> None:
    first, second = load_file(FIXTURES / "releases.json")
    assert first == Release(
        id="2004-10-26-cambodia-home-workers",
        kind="Press release",
        title="Experts assess progress in improving Cambodian home workers safety and health",
        date=date(2004, 10, 26),
        place="Phnom Penh",
        summary="ILO experts review the progress of the ILO’s WISH trainers.",
        url="https://www.ilo.org/news/cambodia",
        topics=("safety", "home work"),
    )
    assert second.id == "2004-08-26-ilo-to-publish-first-global-survey-of-economic"
    assert (second.kind, second.place, second.url) == ("Media advisory", "Geneve", None)


def test_json_lines_sample_allows_blank_lines_and_ignores_unknown_fields() -> None:
    first, second = load_file(FIXTURES / "releases.jsonl")
    assert first.id == "2004-10-18-hunan-coal"
    assert (first.place, first.topics) == ("Beijing", ("mining",))
    assert second.id == "2004-10-15-migrant-lao-children-whereabouts-unknown"


def test_ndjson_extension_is_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.ndjson"
    path.write_text('{"title": "T", "date": "2004-01-02"}\n', encoding="utf-8")
    (release,) = load_file(path)
    assert (release.id, release.kind, release.summary) == ("2004-01-02-t", "Press release", "")


@pytest.mark.parametrize(
    ("content", "expected_ids"),
    [
        ('[{"title": "A", "date": "2004-01-02"}]', ["2004-01-02-a"]),
        (
            '{"title": "A", "date": "2004-01-02"}\n{"title": "B", "date": "2004-01-02"}\n',
            ["2004-01-02-a", "2004-01-02-b"],
        ),
        ("\ufeffNews\n\n 1. Press release\n T\n 2 January 2004\n S\n", ["2004-01-02-t"]),
    ],
    ids=["json-array", "json-lines", "listing-with-bom"],
)
def test_format_is_sniffed_from_content_without_a_known_extension(
    tmp_path: Path, content: str, expected_ids: list[str]
) -> None:
    path = tmp_path / "releases.dat"
    path.write_text(content, encoding="utf-8")
    assert [r.id for r in load_file(path)] == expected_ids


def test_feed_is_sniffed_from_a_leading_angle_bracket(tmp_path: Path) -> None:
    path = tmp_path / "feed.txt"
    path.write_bytes((FIXTURES / "feed-rss.xml").read_bytes())
    assert len(load_file(path)) == 3


def _error_for(tmp_path: Path, name: str, content: str | bytes) -> SourceError:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        load_file(path)
    error = caught.value
    assert error.path == str(path)
    assert str(error).startswith(f"{path}: ")
    assert "\n" not in str(error)
    return error


GOOD = '{"title": "Fine", "date": "2004-10-26"}'
OTHER = '{"title": "Other", "date": "2004-10-26"}'


@pytest.mark.parametrize(
    ("content", "where", "reason_part"),
    [
        ('[\n  {"title": "A",\n   "date": }\n]', "line 3, column 12", "Expecting value"),
        ('{"title": "A", "date": "2004-10-26"}', None, "expected a JSON array"),
        (f"[{GOOD}, 42]", "entry 2", "expected a release object, got a number"),
        (f'[{GOOD}, {{"date": "2004-10-26"}}]', "entry 2", "field 'title' is missing"),
        (
            f'[{GOOD}, {OTHER}, {{"title": "B", "date": "26/10/2004"}}]',
            "entry 3",
            "field 'date' is not a date",
        ),
        (
            '[{"title": "B", "date": "2004-10-26", "url": "ftp://x"}]',
            "entry 1",
            "field 'url' must be an http(s) URL",
        ),
        (f"[{GOOD}, {GOOD}]", "entry 2", "duplicate id '2004-10-26-fine' (first used at entry 1)"),
        ("[]\n", None, None),
    ],
    ids=[
        "bad-syntax",
        "not-an-array",
        "entry-not-object",
        "missing-title",
        "bad-date",
        "bad-url",
        "duplicate-id",
        "empty-ok",
    ],
)
def test_json_array_errors_name_file_and_entry(
    tmp_path: Path, content: str, where: str | None, reason_part: str | None
) -> None:
    if reason_part is None:
        path = tmp_path / "feeds" / "x.json"
        path.parent.mkdir()
        path.write_text(content, encoding="utf-8")
        assert load_file(path) == []
        return
    error = _error_for(tmp_path, "x.json", content)
    assert error.where == where
    assert reason_part in error.reason
    expected_prefix = f"{error.path}: {where}: " if where else f"{error.path}: "
    assert str(error).startswith(expected_prefix)


@pytest.mark.parametrize(
    ("content", "where", "reason_part"),
    [
        (f'{GOOD}\n\n{{"title": "B", "date": }}\n', "line 3", "Expecting value (column 24)"),
        (f"{GOOD}\n[1, 2]\n", "line 2", "expected a release object, got an array"),
        (f'{GOOD}\n{{"title": "", "date": "2004-10-26"}}\n', "line 2", "field 'title'"),
        (f"{GOOD}\n\n{GOOD}\n", "line 3", "duplicate id '2004-10-26-fine' (first used at line 1)"),
    ],
    ids=["bad-syntax", "not-object", "empty-title", "duplicate-id"],
)
def test_json_lines_errors_name_file_and_line(
    tmp_path: Path, content: str, where: str, reason_part: str
) -> None:
    error = _error_for(tmp_path, "x.jsonl", content)
    assert error.where == where
    assert reason_part in error.reason


def test_listing_file_error_names_file_and_line(tmp_path: Path) -> None:
    seed = SEED_FIXTURE.read_text(encoding="utf-8")
    seed = seed.replace("15 October 2004,", "15 Octember 2004,", 1)  # entry 3's date, line 24
    error = _error_for(tmp_path, "listing.txt", seed)
    assert str(error) == (
        f"{error.path}: line 24: expected a date like '26 October 2004', got '15 Octember 2004,'"
    )


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    error = _error_for(tmp_path, "x.jsonl", GOOD.encode() + b'\n{"title": "\xff"}\n')
    assert error.where == "line 2"
    assert "not UTF-8" in error.reason


def test_missing_file_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nope\.json: cannot read file"):
        load_file(tmp_path / "nope.json")


def test_feed_file_is_all_or_nothing(tmp_path: Path) -> None:
    item = "<item><title>Same</title><guid>g1</guid></item>"
    feed = f'<rss version="2.0"><channel><title>t</title>{item}{item}</channel></rss>'
    error = _error_for(tmp_path, "x.rss", feed)
    assert error.where == "item 2"
    assert "duplicate id" in error.reason
