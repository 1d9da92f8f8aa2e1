"""The one word analysis (bot/text/): folding, tokens, stop words and stems per language."""

from __future__ import annotations

import pytest

from bot.text import (
    COUNTRIES,
    country_of,
    find_countries,
    fold,
    is_stopword,
    language_of,
    match_key,
    root,
    stem,
    tokenize,
)


def test_folding_drops_case_and_accents() -> None:
    assert fold("Sécurité ÉCOLE Genève Straße Niño") == "securite ecole geneve strasse nino"
    assert fold("Œuvre") == "oeuvre"


@pytest.mark.parametrize(("text", "expected"), [
    ("Mongolia’s low-cost", ["mongolia", "low", "cost"]),
    ("l'emploi d'enfants qu'il", ["emploi", "enfants", "il"]),  # French elisions
    ("L’OIT", ["oit"]),
    ("don't", ["dont"]),
    ("Côte d'Ivoire", ["cote", "ivoire"]),
    ("niños, trabajo", ["ninos", "trabajo"]),
])
def test_tokenize(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


@pytest.mark.parametrize(("lang", "forms"), [
    ("en", ["workers", "worker"]),
    ("en", ["countries", "country"]),
    ("fr", ["travailleuses", "travailleurs", "travailleur", "travailleuse"]),
    ("fr", ["securite", "sécurité"]),
    ("fr", ["enfants", "enfant"]),
    ("fr", ["directrices", "directeurs"]),
    ("es", ["niños", "niño", "ninos"]),
    ("es", ["trabajadoras", "trabajadores"]),
    ("es", ["minas", "mina"]),
])
def test_word_forms_share_a_stem(lang: str, forms: list[str]) -> None:
    assert len({stem(fold(form), lang) for form in forms}) == 1, forms


def test_english_stem_is_light_and_root_joins_families() -> None:
    assert [stem(w) for w in ("workers", "businesses", "children", "news", "is")] == [
        "worker", "business", "child", "news", "is"]
    assert root(stem("traffickers")) == root("trafficking")
    assert root(stem("miners")) == root("mining") == root("mine")
    assert root("labor") == root("labour")
    # Strict roots (topics) keep short families apart, loose ones (search) join them.
    assert match_key("mining") != match_key("mine")
    assert match_key("trainers") == match_key("training")


@pytest.mark.parametrize(("word", "lang", "stop"), [
    ("the", "en", True), ("des", "fr", True), ("los", "es", True),
    ("des", "en", False), ("travail", "fr", False), ("son", None, False),
    ("del", None, True),
])
def test_stop_words_per_language(word: str, lang: str | None, stop: bool) -> None:
    assert is_stopword(word, lang) is stop


def test_stop_words_are_not_stemmed() -> None:
    assert stem("les", "fr") == "les"
    assert stem("para", "es") == "para"


def test_language_codes() -> None:
    assert [language_of(c) for c in ("fr-CA", "ES", "en_GB", "de", "", None)] == [
        "fr", "es", "en", None, None, None]


def test_country_table_is_a_data_file() -> None:
    assert len(COUNTRIES) > 190 and "Viet Nam" in COUNTRIES
    assert find_countries("Inner-Mongolia, China; Papua New Guinea and Timor-Leste") == [
        "China", "Papua New Guinea", "Timor-Leste"]
    assert country_of("vietnam") == "Viet Nam"
    assert country_of("cote divoire") == country_of("Côte d'Ivoire") == "Côte d'Ivoire"
