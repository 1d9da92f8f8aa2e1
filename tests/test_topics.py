"""Topic matching: parsing what users type, the shipped taxonomy, and matching on the seed data.

The seed releases are written out here (from ../shared/seed/ilo-news-2004.txt) rather than read
from data/releases.json, so these counts stay pinned whatever metadata the data file gains.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pytest

import bot.topics.taxonomy as taxonomy_module
from bot.releases import Release, make_id
from bot.search import SearchIndex
from bot.text import match_key as stem
from bot.text import tokenize as words
from bot.text import typo_distance
from bot.topics import (
    ALL,
    MAX_TOPIC_CHARS,
    PreparedRelease,
    TaxonomyEntry,
    Topic,
    TopicError,
    TopicMatcher,
)

ROOT = Path(__file__).resolve().parents[1]
TAXONOMY_FILE = ROOT / "data" / "topics.toml"


def count(matcher: TopicMatcher, topic: Topic,
          releases: Iterable[Release | PreparedRelease]) -> int:
    """How many of ``releases`` match ``topic``, one by one (the reference the index counts
    are checked against)."""
    return sum(1 for release in releases if matcher.matches(topic, release))


def describe_match(matcher: TopicMatcher, topic: Topic, release: Release) -> str | None:
    """Why ``release`` matches, e.g. ``"mining (coal mine)"``; the bare key when the release
    says just what the topic says; None when it does not match."""
    if not matcher.matches(topic, release):
        return None
    prepared = matcher.prepare(release)
    found: list[str] = []
    for term, alts in zip(topic.include, matcher.compile(topic).include, strict=True):
        # The longest alternative that occurs says the most.
        for alt_lang, alt in reversed(alts):
            if alt_lang != prepared.lang:
                continue
            said = prepared.find(alt)
            if said is not None:
                if said != term and said not in found:
                    found.append(said)
                break
    return f"{topic.key} ({', '.join(found)})" if found else topic.key

# (title, date, place, kind, summary) of the ten seed entries, in listing order.
SEED = [
    ("Experts assess progress in improving Cambodian home workers safety and health",
     "2004-10-26", None, "Press release",
     "ILO experts goes to Cambodia to review the progress of the occupational safety and health "
     "trainers who has graduated from the ILO’s WISH (Work Improvement for Safe Home) training "
     "programme."),
    ("Small coal mine operators in Hunan to get special safety training",
     "2004-10-18", "Beijing", "Press release",
     "A comprehensive training programme to improve safety and health standards in "
     "privately-owned small coal mines in Hunan, China, is being implemented with the assistance "
     "of ILO specialist."),
    ("Migrant Lao children - whereabouts unknown",
     "2004-10-15", None, "Press release",
     "Preliminary results of an ILO-supported survey released by the Government of the Lao PDR "
     "have found that a large proportion of young Lao migrants have lost contact with their "
     "families during the last three years and it’s feared many have become the victims of "
     "human traffickers."),
    ("Mekong children offer governments comprehensive action plan to fight human trafficking",
     "2004-10-15", None, "Press release",
     "Government officials from five Mekong countries hold dialogue with young delegates and "
     "accept first Mekong Children’s Agenda for Action on Human Trafficking."),
    ("China's entrepreneurs to get safety and health training",
     "2004-09-27", None, "Press release",
     "A two-day workshop organized by the ILO is held in Inner-Mongolia Autonomous Region, "
     "China, focusing on finding low-cost, easy-to-apply ways of improving safety and health at "
     "work."),
    ("Mongolia's small businesses to get safety and health training",
     "2004-09-21", None, "Press release",
     "Low-cost and easy-to-implement ways to improve safety and health in the workplace is the "
     "focus at an international workshop organized by the ILO and the Mongolian Employers’ "
     "Federation (MONEF)."),
    ("China international forum on work safety focuses on most dangerous work",
     "2004-08-30", None, "Press release",
     "The International Forum on Work Safety in Beijing focuses on cutting the number of deaths "
     "and accidents in the most hazardous sectors such as the mining, construction and chemical "
     "industries."),
    ("ILO to publish first global survey of economic insecurity",
     "2004-08-26", "Geneve", "Media advisory",
     "A new ILO study covering 90 countries world wide reveals that the vast majority of the "
     "global workforce today lives in a world marked by economic uncertainty and insecurity over "
     "the future."),
    ("New safety and health training targets construction workers",
     "2004-08-24", None, "Press release",
     "A three-day workshop based on ILO's Work Improvement in Small Construction Sites (WISCON "
     "scheme) is held in Mongolia to improve the safety and health of Mongolian construction "
     "workers."),
    ("Korean Government funds workshop to improve safety and health for Viet Nam coal miners",
     "2004-08-24", None, "Press release",
     "A workshop funded by the Korean Government and organized by the ILO and the Ministry of "
     "Labour, Invalids and Social Affairs (MoLISA) is taking place in Viet Nam taking important "
     "steps towards creating safer working conditions for Viet Nam’s coal miners."),
]


def seed_releases() -> list[Release]:
    """The ten seed releases, ids as ``make_id`` gives them."""
    out = []
    for title, when, place, kind, summary in SEED:
        day = date.fromisoformat(when)
        out.append(Release(make_id(day, title), kind, title, day, place, summary))
    return out


def release(title: str, summary: str = "", place: str | None = None,
            topics: tuple[str, ...] = ()) -> Release:
    """A made-up release for a tricky case."""
    day = date(2024, 1, 1)
    return Release(make_id(day, title), "Press release", title, day, place, summary, None, topics)


@pytest.fixture(scope="module")
def matcher() -> TopicMatcher:
    return TopicMatcher.from_file(TAXONOMY_FILE)


@pytest.fixture(scope="module")
def seed() -> list[Release]:
    return seed_releases()


def matching(matcher: TopicMatcher, text: str, releases: list[Release]) -> list[int]:
    """1-based positions (as in the seed listing) of the releases ``text`` matches."""
    topic = matcher.parse(text)
    return [i for i, r in enumerate(releases, 1) if matcher.matches(topic, r)]


# --- the seed data -------------------------------------------------------------------------

# Every taxonomy entry and the seed entries it matches, checked by reading the texts.
SEED_COUNTS = {
    "occupational safety and health": [1, 2, 5, 6, 7, 9, 10],  # incl. "work safety" (7)
    "trafficking": [3, 4],
    "child labour": [],  # children appear, but not as workers
    "forced labour": [],
    "migration": [3],
    "mining": [2, 7, 10],  # coal mine(s), mining, coal miners
    "construction": [7, 9],
    "chemical industry": [7],
    "hazardous work": [7],
    "training": [1, 2, 5, 6, 9, 10],  # training or workshop
    "social security": [],  # "Social Affairs" is not social security
    "economic security": [8],
    "employment": [],  # "Employers' Federation" is not employment
    "youth employment": [],
    "small business": [5, 6],  # entrepreneurs, small businesses
    "home workers": [1],
    "gender equality": [],
    "Cambodia": [1],
    "China": [2, 5, 7],
    "Korea": [10],
    "Lao PDR": [3],
    "Mongolia": [5, 6, 9],  # Inner-Mongolia, Mongolia's, Mongolia/Mongolian
    "Viet Nam": [10],
    "Mekong": [4],
    "COVID-19": [],
}
COUNTRIES = ["Cambodia", "China", "Korea", "Lao PDR", "Mongolia", "Viet Nam"]


def test_seed_helper_builds_the_listing(seed: list[Release]) -> None:
    assert len(seed) == 10
    assert seed[7].kind == "Media advisory"
    assert seed[7].title.startswith("ILO to publish")
    assert [r.place for r in seed if r.place] == ["Beijing", "Geneve"]
    assert len({r.id for r in seed}) == 10


def test_every_taxonomy_entry_has_a_pinned_seed_count(matcher: TopicMatcher) -> None:
    assert [e.name for e in matcher.taxonomy()] == list(SEED_COUNTS)


@pytest.mark.parametrize(("name", "expected"), SEED_COUNTS.items())
def test_seed_matches_per_taxonomy_entry(matcher: TopicMatcher, seed: list[Release],
                                         name: str, expected: list[int]) -> None:
    assert matching(matcher, name, seed) == expected
    assert count(matcher, matcher.parse(name), seed) == len(expected)


def test_every_country_in_the_data_matches_something(matcher: TopicMatcher,
                                                     seed: list[Release]) -> None:
    for country in COUNTRIES:
        assert count(matcher, matcher.parse(country), seed) > 0, country


@pytest.mark.parametrize(("text", "key", "expected"), [
    ("mining", "mining", [2, 7, 10]),
    ("Mining", "mining", [2, 7, 10]),
    ("miners", "miners", [2, 7, 10]),  # a synonym stands for the whole entry
    ("trafficking", "trafficking", [3, 4]),
    ("trafiking", "trafficking", [3, 4]),  # typo corrected to the taxonomy term
    ("TRAFFICKERS", "traffickers", [3, 4]),
    ("trafficking -mekong", "trafficking -mekong", [3]),
    ("trafficking -mekog", "trafficking -mekog", [3, 4]),  # exclusions are exact: no typos
    ("xyzzy", "xyzzy", []),
    ("mongolia", "mongolia", [5, 6, 9]),  # incl. "Inner-Mongolia" and "Mongolian"
    ("mongolian", "mongolian", [5, 6, 9]),
    ("inner mongolia", "inner mongolia", [5]),
    ("inner-mongolia", '"inner mongolia"', [5]),  # hyphenated: a phrase
    ('"mongolia inner"', '"mongolia inner"', []),  # a phrase keeps its order
    ("mongolia inner", "mongolia inner", [5]),  # bare words need not be adjacent
    ("constructoin", "construction", [7, 9]),
    ("OSH", "osh", [1, 2, 5, 6, 7, 9, 10]),
    ("safty and helth", "safety and health", [1, 2, 5, 6, 7, 9, 10]),
    ("minig", "mining", [2, 7, 10]),
    ("lao migrants", "lao migrants", [3]),  # both words, each with its synonyms
    ("mining in China", "mining china", [2, 7]),  # stopwords dropped, all words needed
    ("vietnam", "vietnam", [10]),  # synonym of "Viet Nam"
    ("Việt Nam", "viet nam", [10]),
    ("korea", "korea", [10]),  # "Korean" through the taxonomy
    ("beijing", "beijing", [2, 7]),  # the place field, and the summary
    ("genève", "geneve", [8]),  # accents folded; the place field
    ("children", "children", [3, 4]),
    ("child", "child", [3, 4]),  # irregular plural
    ("Children’s", "children", [3, 4]),
    ('"coal mine" -hunan', "coal mine -hunan", [7, 10]),  # a quoted synonym still expands
    ("safety -mongolia -china", "safety -mongolia -china", [1, 10]),
])
def test_seed_topics(matcher: TopicMatcher, seed: list[Release], text: str, key: str,
                     expected: list[int]) -> None:
    assert matcher.parse(text).key == key
    assert matching(matcher, text, seed) == expected


def test_mining_is_precise(matcher: TopicMatcher, seed: list[Release]) -> None:
    # The training releases (1, 5, 6, 9) never mention mines: "mining" must not drift there.
    assert not set(matching(matcher, "mining", seed)) & {1, 5, 6, 9}
    assert matching(matcher, "mining", seed) != list(range(1, 11))


def test_without_taxonomy_words_match_only_themselves(seed: list[Release]) -> None:
    bare = TopicMatcher()
    assert matching(bare, "mining", seed) == [7]  # only the literal word "mining"
    assert matching(bare, "mine", seed) == [2]
    assert matching(bare, "trafiking", seed) == [4]  # a typo of "trafficking", not "traffickers"
    assert bare.parse("trafiking").key == "trafiking"  # nothing to correct it to
    assert matching(bare, "mongolia", seed) == [5, 6, 9]


# --- words ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("Inner-Mongolia", ["inner", "mongolia"]),
    ("Mongolia's", ["mongolia"]),
    ("Children’s Agenda", ["children", "agenda"]),
    ("Employers’ Federation", ["employers", "federation"]),
    ("Genève, VIỆT NAM", ["geneve", "viet", "nam"]),
    ("Đà Nẵng", ["da", "nang"]),
    ("ILO-supported (MoLISA)", ["ilo", "supported", "molisa"]),
    ("don't", ["dont"]),
    ("90 countries", ["90", "countries"]),
])
def test_words(text: str, expected: list[str]) -> None:
    assert words(text) == expected


@pytest.mark.parametrize(("forms", "same"), [
    (["worker", "workers"], True),
    (["trafficking", "trafficked", "traffickers", "trafficker"], True),
    (["training", "trainers", "trained"], True),
    (["country", "countries"], True),
    (["business", "businesses"], True),
    (["child", "children"], True),
    (["labour", "labor", "labors"], True),
    (["programme", "program", "programmes"], True),
    (["organised", "organise"], True),
    (["mine", "mines"], True),
    (["miner", "miners"], True),
    (["laos", "lao"], True),
    (["mining", "mine"], False),  # joined by the taxonomy, not the stemmer
    (["mining", "miner"], False),
    (["mining", "training"], False),
    (["news", "new"], False),
    (["crisis", "cris"], False),
    (["status", "statu"], False),
])
def test_stemming(forms: list[str], same: bool) -> None:
    assert (len({stem(f) for f in forms}) == 1) is same


@pytest.mark.parametrize(("a", "b", "match"), [
    ("trafiking", "trafficking", True),  # 9 letters: two edits
    ("minig", "mining", True),  # 5 letters: one edit
    ("constructoin", "construction", True),
    ("mniing", "mining", True),  # a swap of neighbours is one edit
    ("enterpreneurs", "entrepreneurs", True),
    ("trafficing", "trafficking", True),
    ("trafiking", "training", False),  # two edits, but one is a changed letter
    ("mining", "dining", False),  # first letters differ
    ("mining", "training", False),
    ("mining", "minister", False),
    ("osh", "ash", False),  # short words only match exactly
    ("lao", "lab", False),
    ("mine", "mind", False),
    ("2004", "2005", False),  # numbers never fuzz
])
def test_typo_distance(a: str, b: str, match: bool) -> None:
    assert (typo_distance(a, stem(a), b, stem(b)) is not None) is match


# --- tricky releases -----------------------------------------------------------------------

def test_plurals_case_and_accents(matcher: TopicMatcher) -> None:
    r = release("Workers’ rights in SÃO PAULO", "Domestic workers meet in São Paulo.")
    for text in ("worker", "WORKERS", "sao paulo", "São Paulo", "domestic worker"):
        assert matcher.matches(matcher.parse(text), r), text


def test_phrase_must_sit_inside_one_field(matcher: TopicMatcher) -> None:
    r = release("Report on Inner", "Mongolia weather")
    assert matcher.matches(matcher.parse("inner mongolia"), r)  # bare words: anywhere
    assert not matcher.matches(matcher.parse("inner-mongolia"), r)  # phrase: title ends first


def test_phrase_skips_stopwords_in_the_release(matcher: TopicMatcher) -> None:
    r = release("Safety & health at sea")
    osh = matcher.parse("occupational safety and health")
    assert matcher.matches(osh, r)
    # Quoted back as words: "&" is not one.
    assert describe_match(matcher, osh, r) == "occupational safety and health (safety health)"


def test_release_topics_field_is_searched(matcher: TopicMatcher) -> None:
    r = release("Annual report", "Figures for the year.", topics=("child labour",))
    assert matcher.matches(matcher.parse("child labor"), r)
    assert matcher.matches(matcher.parse("children's work"), r)
    assert not matcher.matches(matcher.parse("forced labour"), r)


def test_synonym_groups_never_leak_short_words(matcher: TopicMatcher) -> None:
    r = release("Osh market reopens", "Cash for the ash clean-up.")
    assert matcher.matches(matcher.parse("osh"), r)
    assert not matcher.matches(matcher.parse("lao"), release("A lab in Laon"))


def test_exclusion_blocks_any_field_and_is_stemmed(matcher: TopicMatcher) -> None:
    r = release("Trafficking and football", "Players trafficked.", place="Madrid")
    assert not matcher.matches(matcher.parse("trafficking -football"), r)
    assert not matcher.matches(matcher.parse("trafficking -footballs"), r)
    assert not matcher.matches(matcher.parse("trafficking -madrid"), r)
    assert not matcher.matches(matcher.parse('trafficking -"and football"'), r)
    assert matcher.matches(matcher.parse('trafficking -"football players"'), r)
    assert matcher.matches(matcher.parse("trafficking -cricket"), r)


def test_exclusion_does_not_use_synonyms(matcher: TopicMatcher, seed: list[Release]) -> None:
    # "-mine" excludes the word mine(s), not the whole mining entry.
    assert matching(matcher, "mining -mine", seed) == [7, 10]


# --- parsing -------------------------------------------------------------------------------

def test_parse_example_from_the_api(matcher: TopicMatcher) -> None:
    assert matcher.parse("Trafficking  -Football") == Topic(
        ("trafficking",), ("football",), "trafficking -football")


def test_parse_phrases_and_dedup(matcher: TopicMatcher) -> None:
    assert matcher.parse('"coal mine"') == Topic(("coal mine",), (), "coal mine")
    assert matcher.parse("safety and health") == Topic(
        ("safety and health",), (), "safety and health")
    topic = matcher.parse('"Hunan Province" mining Mining -"world cup" -Cup -cup')
    assert topic.include == ("hunan province", "mining")
    assert topic.exclude == ("world cup", "cup")
    assert topic.key == '"hunan province" mining -"world cup" -cup'
    assert matcher.parse("lao pdr children").key == '"lao pdr" children'
    assert matcher.parse('"the coal mine"').key == "coal mine"


def test_parse_accepts_phone_punctuation(matcher: TopicMatcher) -> None:
    assert matcher.parse("trafficking —football").key == "trafficking -football"
    assert matcher.parse("“coal miners” --hunan").key == '"coal miners" -hunan'


@pytest.mark.parametrize("text", [
    "Trafficking  -Football", "trafiking -mekong", '"coal mine"', "coal mine", "safety of health",
    "safty and helth", "inner-mongolia", '"mongolia inner" china', "lao pdr children",
    '"safety and health" china', 'mining -"world cup"', "OSH", "Việt Nam", "mining in China",
    '"safety" "health"', '"safety and" health', "the mining", "Children’s", "a b c d e f g h",
])
def test_key_round_trips(matcher: TopicMatcher, text: str) -> None:
    topic = matcher.parse(text)
    assert matcher.parse(topic.key) == topic
    assert str(topic) == topic.key


def test_taxonomy_correction_is_shown_in_the_key(matcher: TopicMatcher) -> None:
    # A close typo of a taxonomy term becomes that term, visibly, so users can spot it.
    assert matcher.parse("constructoin workers").key == "construction workers"
    assert matcher.parse("mongoila").key == "mongolia"
    # "mongolai" is not corrected: French stemming reads it as a form of "mongol", a term.
    assert matcher.parse("mongolai").key == "mongolai"
    assert matcher.parse("osj").key == "osj"  # too short to correct
    assert matcher.parse("home-based workers").key == "home based workers"


def test_a_correction_that_forms_a_phrase_is_read_again(matcher: TopicMatcher,
                                                        seed: list[Release]) -> None:
    # "minres" is corrected to "mines", and "coal mines" is itself a taxonomy phrase.
    topic = matcher.parse("coal minres")
    assert topic == Topic(("coal mines",), (), "coal mines")
    assert matching(matcher, "coal minres", seed) == [2, 7, 10]


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("   ", "empty"),
    ("-football", "not only words to leave out"),
    ("-football -cricket", "not only words to leave out"),
    ("x" * (MAX_TOPIC_CHARS + 1), "at most 100 characters"),
    ("one two three four five six seven eight nine", "at most 8 words"),
    ("!!!", "no letters or digits"),
    ("trafficking -", "no letters or digits"),
    ('""', "no letters or digits"),
    ("the", "too common"),
    ("of the", "too common"),
    ('"of the" mining', "too common"),
    ("mining -the", "too common"),
    ("trafficking -traffickers", "both wanted and excluded"),
])
def test_parse_errors(matcher: TopicMatcher, text: str, message: str) -> None:
    with pytest.raises(TopicError, match=message):
        matcher.parse(text)


def test_topic_error_is_a_value_error() -> None:
    assert issubclass(TopicError, ValueError)


def test_eight_words_are_allowed(matcher: TopicMatcher) -> None:
    assert len(matcher.parse("one two three four five six seven eight").include) == 8


# --- ALL, prepare, count, describe ---------------------------------------------------------

def test_all_matches_everything(matcher: TopicMatcher, seed: list[Release]) -> None:
    assert Topic((), (), "") == ALL
    assert count(matcher, ALL, seed) == 10
    assert TopicMatcher().matches(ALL, seed[0])


def test_prepared_and_plain_releases_agree(matcher: TopicMatcher, seed: list[Release]) -> None:
    prepared = [matcher.prepare(r) for r in seed]
    assert all(isinstance(p, PreparedRelease) and p.release == r for p, r in zip(prepared, seed,
                                                                                  strict=True))
    texts = [e.name for e in matcher.taxonomy()] + ["trafiking -mekong", "inner mongolia"]
    for text in texts:
        topic = matcher.parse(text)
        assert [matcher.matches(topic, p) for p in prepared] == \
            [matcher.matches(topic, r) for r in seed], text
        assert count(matcher, topic, prepared) == count(matcher, topic, seed)


def test_many_topics_against_one_release(matcher: TopicMatcher, seed: list[Release]) -> None:
    # Correctness of the memoised path under many distinct (also misspelt) topics.
    prepared = PreparedRelease(seed[9])
    topics = [Topic((f"miners{i}",), (), f"miners{i}") for i in range(500)]
    topics += [matcher.parse(t) for t in ("viet nam", "koreann", "coal minres", "workshops")]
    results = [matcher.matches(t, prepared) for t in topics]
    assert results[:500] == [False] * 500
    assert results[500:] == [True, True, True, True]


def test_describe_match(matcher: TopicMatcher, seed: list[Release]) -> None:
    assert describe_match(matcher, matcher.parse("mining"), seed[9]) == "mining (miners)"
    assert describe_match(matcher, matcher.parse("mining"), seed[6]) == "mining"
    assert describe_match(matcher, matcher.parse("OSH"), seed[0]) == \
        "osh (occupational safety and health)"
    assert describe_match(matcher, matcher.parse("trafficking -mekong"), seed[2]) == \
        "trafficking -mekong (human traffickers)"
    assert describe_match(matcher, matcher.parse("mining"), seed[0]) is None
    assert describe_match(matcher, ALL, seed[0]) == ""


# --- the taxonomy file ---------------------------------------------------------------------

def test_shipped_taxonomy_loads_and_every_entry_parses(matcher: TopicMatcher) -> None:
    entries = matcher.taxonomy()
    assert 15 <= len(entries) <= 30
    for entry in entries:
        assert isinstance(entry, TaxonomyEntry)
        topic = matcher.parse(entry.name)
        assert topic.include == (" ".join(words(entry.name)),), entry.name
        assert topic.exclude == ()
        for synonym in entry.synonyms:
            # A synonym read back is a term of the same entry, never split into loose words.
            assert len(matcher.parse(synonym).include) == 1, synonym


def test_taxonomy_returns_a_copy(matcher: TopicMatcher) -> None:
    matcher.taxonomy().clear()
    assert matcher.taxonomy()


def test_default_loads_the_repository_file() -> None:
    assert [e.name for e in TopicMatcher.default().taxonomy()] == list(SEED_COUNTS)


def test_default_without_a_file_warns_and_is_empty(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(taxonomy_module, "DEFAULT_TAXONOMY_PATH", tmp_path / "missing.toml")
    with caplog.at_level(logging.WARNING, logger="bot.topics"):
        bare = TopicMatcher.default()
    assert bare.taxonomy() == []
    assert "missing.toml" in caplog.text


@pytest.mark.parametrize(("content", "message"), [
    ("[[topic]\nname = 'x'", "not valid TOML"),
    ("[[topic]]\nsynonyms = ['a']", r"topic #1: 'name' must be"),
    ("[[topic]]\nname = 'mining'\nsynonyms = 'mine'", r"topic #1 \('mining'\): 'synonyms'"),
    ("[[topic]]\nname = 'mining'\nsynonym = ['mine']", r"\('mining'\): unknown key\(s\) synonym"),
    ("[[topic]]\nname = 'a'\n[[topic]]\nname = 'b'\nsynonyms = ['--']",
     r"topic #2 \('b'\): synonym '--' has no words"),
    ("[[topic]]\nname = 'mining'\nsynonyms = ['mine']\n[[topic]]\nname = 'coal'\n"
     "synonyms = ['mines']", r"'mines' is listed under both 'mining' and 'coal'"),
    ("[[topic]]\nname = 'the'", "'the' has no words to match on"),
    ("title = 'x'", "unknown top-level key"),
    ("topic = 'x'", "array of tables"),
])
def test_malformed_taxonomy_names_file_and_entry(tmp_path: Path, content: str,
                                                 message: str) -> None:
    path = tmp_path / "topics.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as info:
        TopicMatcher.from_file(path)
    assert str(path) in str(info.value)


def test_taxonomy_from_code() -> None:
    m = TopicMatcher([TaxonomyEntry("football", ("soccer",))])
    r = release("Soccer season opens")
    assert m.matches(m.parse("football"), r)
    assert m.parse("footbal").key == "football"


def test_shipped_releases_file_has_every_country(matcher: TopicMatcher) -> None:
    path = ROOT / "data" / "releases.json"
    if not path.is_file():
        pytest.skip("data/releases.json is not there yet")
    shipped = [Release.from_dict(d) for d in json.loads(path.read_text(encoding="utf-8"))]
    for country in COUNTRIES:
        assert count(matcher, matcher.parse(country), shipped) > 0, country


# --- languages ------------------------------------------------------------------------------

def in_language(lang: str, title: str, summary: str = "") -> Release:
    return dataclasses.replace(release(title, summary), language=lang)


EN_CHILD = release("Child labour falls in cocoa farms", "Fewer working children.")
FR_CHILD = in_language("fr", "Le travail des enfants recule", "Moins d'enfants au champ.")
ES_CHILD = in_language("es", "Menos trabajo infantil", "Los niños vuelven a la escuela.")


@pytest.mark.parametrize("text", ["travail des enfants", "trabajo infantil", "child labour",
                                  "Travail des Enfants", "trabajo infatil"])
def test_a_subscription_in_any_language_matches_releases_in_every_language(
        matcher: TopicMatcher, text: str) -> None:
    topic = matcher.parse(text)
    assert [matcher.matches(topic, r) for r in (EN_CHILD, FR_CHILD, ES_CHILD)] == [True] * 3


def test_taxonomy_has_french_and_spanish_names_for_every_entry(matcher: TopicMatcher) -> None:
    for entry in matcher.taxonomy():
        assert entry.fr and entry.es, entry.name
        # Each name leads back to its own entry, in whichever language it is typed.
        for name in (entry.fr[0], entry.es[0]):
            assert matcher.synonyms(name) == matcher.synonyms(entry.name), name
    child = next(e for e in matcher.taxonomy() if e.name == "child labour")
    assert child.name_in("fr") == "travail des enfants"
    assert child.name_in("es") == "trabajo infantil"
    assert child.name_in("de") == "child labour"


def test_free_words_meet_releases_in_their_own_language_only(matcher: TopicMatcher) -> None:
    # Spanish stems "workers" to "work"; that must not make it match "work" in Spanish text.
    es_work = in_language("es", "Work y trabajo", "Sobre el work.")
    assert not matcher.matches(matcher.parse("workers"), es_work)
    assert matcher.matches(matcher.parse("work"), es_work)
    # A French word form matches the French release that uses another form of it.
    fr = in_language("fr", "Les travailleuses du textile", "Des ouvrières.")
    assert matcher.matches(matcher.parse("travailleurs textile"), fr)
    es = in_language("es", "Un niño en la mina", "")
    assert matcher.matches(matcher.parse("niños"), es)


def test_search_and_topic_agree_on_osh(matcher: TopicMatcher, seed: list[Release]) -> None:
    from bot.search import SearchIndex

    index = SearchIndex(seed, synonyms=matcher.synonyms)
    topic = matcher.parse("OSH")
    expected = {r.id for r in seed if matcher.matches(topic, r)}
    assert expected
    assert {h.release.id for h in index.search("OSH", limit=50).hits} == expected


def _multilingual_corner_releases() -> list[Release]:
    """French and Spanish releases (the generated corpus is English only), with the terms in
    places search and topics once read differently: place, own topics, typos, stop words."""
    rows = [
        ("fr", "Le travail des enfants recule", "Moins d'enfants au champ.", "Genève", ()),
        ("fr", "Nouvelles règles", "La sécurité et la santé au travail progressent.", None, ()),
        ("fr", "Réunion à Paris", "Un atelier.", None, ("Sécurité au travail",)),
        ("fr", "L'esclavage moderne", "Des victimes de la servitude pour dettes.", None, ()),
        ("fr", "Les mineurs du Nord", "Une mine de charbon ferme.", "Lille", ()),
        ("es", "Menos trabajo infantil", "Los niños vuelven a la escuela.", "Lima", ()),
        ("es", "La minería en Bolivia", "Los mineros piden seguridad laboral.", None, ()),
        ("es", "Reunión", "Un taller.", "Madrid", ("Salud y seguridad en el trabajo",)),
        ("es", "Trabajo forzoso", "La esclavitud persiste.", None, ()),
        ("en", "Talks", "A meeting.", "Phnom Penh, Cambodia", ("Child labor",)),
        ("en", "Saftey and helth rules", "Occupational safty at work.", None, ()),
        ("en", "Coal-mining towns", "Miners and the mine.", "Hanoi, Viet Nam", ()),
    ]
    return [dataclasses.replace(release(title, summary, place, topics), id=f"corner-{i}",
                                language=lang)
            for i, (lang, title, summary, place, topics) in enumerate(rows)]


@pytest.fixture(scope="module")
def agreeing_corpora(matcher: TopicMatcher) -> list[tuple[list[Release], SearchIndex]]:
    from bench.corpus import generate_releases

    corpora = [generate_releases(2000, seed=3),
               generate_releases(600, seed=11) + _multilingual_corner_releases()]
    return [(releases, SearchIndex(releases, synonyms=matcher.synonyms))
            for releases in corpora]


@pytest.mark.parametrize("query", [
    "OSH", "mining", "child labour", '"child labour"', "safety and health", "trafiking",
    "Cambodia", "Viet Nam", "esclavage", "sécurité au travail", "minería", "trabajo infantil",
    "mining accidents"])
def test_search_finds_exactly_what_the_topic_matches(
        matcher: TopicMatcher, agreeing_corpora: list[tuple[list[Release], SearchIndex]],
        query: str) -> None:
    from bot.topics.count import TopicCounter

    topic = matcher.parse(query)
    for releases, index in agreeing_corpora:
        expected = {r.id for r in releases if matcher.matches(topic, r)}
        result = index.search(query, limit=len(releases))
        assert {h.release.id for h in result.hits} == expected, query
        assert result.total == len(expected) == TopicCounter(index, matcher).counts([topic])[0]
        assert not result.partial
    assert any(r.language != "en" for releases, _ in agreeing_corpora for r in releases)


@pytest.mark.parametrize("recheck_limit", [256, 3])
def test_search_and_counts_stay_exact_as_the_index_changes(
        matcher: TopicMatcher, monkeypatch: pytest.MonkeyPatch, recheck_limit: int) -> None:
    """What a taxonomy entry matches is kept across index changes and brought up to date
    with the releases added, replaced and removed since (checked one by one with the rule,
    or, past the recheck limit, read from the postings again)."""
    import bot.search.occurrences as occurrences_module
    from bench.corpus import generate_releases
    from bot.topics.count import TopicCounter

    monkeypatch.setattr(occurrences_module, "RECHECK_LIMIT", recheck_limit)
    corpus = generate_releases(900, seed=5) + _multilingual_corner_releases()
    queries = ["OSH", "mining", "child labour", "esclavage", "trabajo infantil"]
    topics = [matcher.parse(q) for q in queries]
    index = SearchIndex(corpus[:500], synonyms=matcher.synonyms)
    counter = TopicCounter(index, matcher)
    live = {r.id: r for r in corpus[:500]}

    def check() -> None:
        counts = counter.counts(topics)
        for query, topic, count in zip(queries, topics, counts, strict=True):
            expected = {i for i, r in live.items() if matcher.matches(topic, r)}
            assert count == len(expected), query
            found = index.search(query, limit=len(live))
            assert {h.release.id for h in found.hits} == expected, query

    check()
    for start in (500, 501, 510, 600, 700):  # batches of 1, 9, 90, 100 and 212
        end = {500: 501, 501: 510, 510: 600, 600: 700, 700: len(corpus)}[start]
        index.add_many(corpus[start:end])
        live.update((r.id, r) for r in corpus[start:end])
        check()
    # A release rewritten to mention mining (it takes a new slot), another one removed.
    changed = dataclasses.replace(corpus[3], title="Coal mining deaths rise", summary="Miners.")
    index.add_many([changed])
    live[changed.id] = changed
    with index._lock:
        index._remove(corpus[4].id)
    del live[corpus[4].id]
    check()
