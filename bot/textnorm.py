"""Text normalization shared by search and topics: folding, tokens, light stemming, countries.

Dependency-free on purpose (only the standard library), so any module can reuse it without
pulling in rapidfuzz or the search index.

- :func:`fold` lower-cases and strips accents (``"Genève"`` -> ``"geneve"``).
- :func:`tokenize` splits text into folded word tokens; hyphenated words give their parts.
- :func:`stem` is a *light* stemmer: plurals only (``workers`` -> ``worker``).
- :func:`root` is a heavier, search-only reduction that also joins word families
  (``trafficking``/``traffickers`` -> ``traffick``, ``mine``/``miners``/``mining`` -> ``min``).
- :func:`find_countries` names the countries a text mentions (``"Viet Nam"``, ``"Lao PDR"`` ...).
"""

from __future__ import annotations

import functools
import re
import unicodedata

__all__ = [
    "COUNTRIES",
    "COUNTRY_NAMES",
    "STOPWORDS",
    "countries_in",
    "country_of",
    "find_countries",
    "fold",
    "root",
    "split_words",
    "stem",
    "tokenize",
]

# Letters that NFKD does not decompose into a base letter plus marks.
_EXTRA_FOLD = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i", "ß": "ss"}
)
# Typographic apostrophes and hyphens, so "Children’s" and "Inner‑Mongolia" tokenize like ASCII.
_PUNCT_FOLD = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "‐": "-", "‑": "-"})
_POSSESSIVE = re.compile(r"(?<=[^\W_])'s\b")
# A word, or several joined by hyphens with no spaces ("low-cost", "Inner-Mongolia").
_COMPOUND = re.compile(r"[^\W_]+(?:-[^\W_]+)*")

#: Function words that carry no meaning in a search; they are not indexed as search terms
#: (but still count as positions, so a quoted phrase like "safety and health" works).
STOPWORDS: frozenset[str] = frozenset(
    """
    a an the of to in on at by for from with as into onto about over under and or but
    nor is are was were be been being am has have had do does did its it this that these
    those their there then than so such also both either neither any all each other s
    """.split()  # noqa: SIM905 - a word list reads better as text
)

_IRREGULAR_PLURALS = {"children": "child", "women": "woman", "men": "man", "people": "people"}
_NO_PLURAL = frozenset({"news", "series", "species", "means", "economics", "politics", "physics"})


def fold(text: str) -> str:
    """Lower-case, accent-free text: the form every comparison in search uses."""
    if text.isascii():  # the common case, and ten times faster than decomposing
        return text.lower()
    text = unicodedata.normalize("NFKD", text.translate(_PUNCT_FOLD))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return text.casefold().translate(_EXTRA_FOLD)


def split_words(text: str) -> list[str]:
    """Folded words with hyphenated compounds kept whole (``"inner-mongolia"``).

    Possessive ``'s`` is dropped and other apostrophes join (``"d'Ivoire"`` -> ``divoire``),
    because searchers type neither.
    """
    folded = fold(text)
    if "'" in folded:
        folded = _POSSESSIVE.sub("", folded).replace("'", "")
    return _COMPOUND.findall(folded)


def tokenize(text: str) -> list[str]:
    """Folded word tokens in order; a hyphenated word yields its parts (``low``, ``cost``)."""
    out: list[str] = []
    for word in split_words(text):
        out.extend(word.split("-"))
    return out


@functools.lru_cache(maxsize=1 << 17)
def stem(word: str) -> str:
    """Reduce an English plural to its singular; anything else is returned unchanged.

    Deliberately light (``workers`` -> ``worker``, ``countries`` -> ``country``,
    ``businesses`` -> ``business``) so that it is safe for exact matching and phrases.
    """
    if len(word) <= 3 or not word.isalpha() or word in STOPWORDS:
        return word
    irregular = _IRREGULAR_PLURALS.get(word)
    if irregular is not None:
        return irregular
    if word in _NO_PLURAL:
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("sses") or word.endswith(("ches", "shes", "xes", "zzes")):
        return word[:-2]
    if word.endswith(("ss", "us", "is")) or not word.endswith("s"):
        return word
    return word[:-1]


# Suffixes that :func:`root` strips, longest first; the replacement keeps the word's stem.
_ROOT_SUFFIXES = (
    ("ization", "iz"),
    ("isation", "is"),
    ("ment", ""),
    ("ing", ""),
    ("ee", ""),
    ("er", ""),
    ("ed", ""),
    ("ly", ""),
)
_KEEP_DOUBLE = frozenset("lsz")


@functools.lru_cache(maxsize=1 << 17)
def root(term: str) -> str:
    """A coarse word-family key for a light-stemmed term, used to connect related words.

    ``trafficking``/``trafficker`` -> ``traffick``; ``mine``/``miner``/``mining`` -> ``min``;
    ``employer``/``employment``/``employee`` -> ``employ``. It over-merges now and then
    (``paper`` -> ``pap``), which is acceptable because search ranks root-only matches below
    exact ones.
    """
    if len(term) <= 3 or not term.isalpha():
        return term
    word = term
    for suffix, replacement in _ROOT_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + replacement
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in _KEEP_DOUBLE:
        word = word[:-1]
    return word


# Canonical name first, then other names it goes by. Hyphenated names match only as a whole,
# which is what keeps "Inner-Mongolia" (a region of China) from counting as Mongolia.
_COUNTRY_TABLE = """
Afghanistan
Albania
Algeria
Andorra
Angola
Antigua and Barbuda
Argentina
Armenia
Australia
Austria
Azerbaijan
Bahamas
Bahrain
Bangladesh
Barbados
Belarus
Belgium
Belize
Benin
Bhutan
Bolivia|Plurinational State of Bolivia
Bosnia and Herzegovina|Bosnia
Botswana
Brazil
Brunei Darussalam|Brunei
Bulgaria
Burkina Faso
Burundi
Cabo Verde|Cape Verde
Cambodia
Cameroon
Canada
Central African Republic
Chad
Chile
China|People's Republic of China|PRC
Colombia
Comoros
Congo|Republic of the Congo
Democratic Republic of the Congo|DR Congo|DRC
Costa Rica
Côte d'Ivoire|Ivory Coast
Croatia
Cuba
Cyprus
Czechia|Czech Republic
Denmark
Djibouti
Dominica
Dominican Republic
Ecuador
Egypt
El Salvador
Equatorial Guinea
Eritrea
Estonia
Eswatini|Swaziland
Ethiopia
Fiji
Finland
France
Gabon
Gambia
Georgia
Germany
Ghana
Greece
Grenada
Guatemala
Guinea
Guinea-Bissau
Guyana
Haiti
Honduras
Hungary
Iceland
India
Indonesia
Iran|Islamic Republic of Iran
Iraq
Ireland
Israel
Italy
Jamaica
Japan
Jordan
Kazakhstan
Kenya
Kiribati
Korea|Republic of Korea|South Korea
Democratic People's Republic of Korea|North Korea|DPRK
Kuwait
Kyrgyzstan
Lao PDR|Laos|Lao People's Democratic Republic
Latvia
Lebanon
Lesotho
Liberia
Libya
Liechtenstein
Lithuania
Luxembourg
Madagascar
Malawi
Malaysia
Maldives
Mali
Malta
Marshall Islands
Mauritania
Mauritius
Mexico
Micronesia
Moldova|Republic of Moldova
Monaco
Mongolia
Montenegro
Morocco
Mozambique
Myanmar|Burma
Namibia
Nauru
Nepal
Netherlands|Holland
New Zealand
Nicaragua
Niger
Nigeria
North Macedonia|Macedonia
Norway
Oman
Pakistan
Palau
Palestine|Occupied Palestinian Territory
Panama
Papua New Guinea
Paraguay
Peru
Philippines
Poland
Portugal
Qatar
Romania
Russian Federation|Russia
Rwanda
Saint Kitts and Nevis
Saint Lucia
Saint Vincent and the Grenadines
Samoa
San Marino
Sao Tome and Principe
Saudi Arabia
Senegal
Serbia
Seychelles
Sierra Leone
Singapore
Slovakia
Slovenia
Solomon Islands
Somalia
South Africa
South Sudan
Spain
Sri Lanka
Sudan
Suriname
Sweden
Switzerland
Syria|Syrian Arab Republic
Tajikistan
Tanzania|United Republic of Tanzania
Thailand
Timor-Leste|East Timor
Togo
Tonga
Trinidad and Tobago
Tunisia
Türkiye|Turkey
Turkmenistan
Tuvalu
Uganda
Ukraine
United Arab Emirates|UAE
United Kingdom|UK|Britain|Great Britain
United States|United States of America|USA
Uruguay
Uzbekistan
Vanuatu
Venezuela
Viet Nam|Vietnam
Yemen
Zambia
Zimbabwe
"""


def _country_key(name: str) -> tuple[str, ...]:
    # Compounds stay whole here (unlike tokenize), so "timor-leste" is one key word.
    return tuple(word.replace("-", "") for word in split_words(name))


def _load_countries() -> tuple[tuple[str, ...], dict[tuple[str, ...], str]]:
    canonical: list[str] = []
    aliases: dict[tuple[str, ...], str] = {}
    for line in _COUNTRY_TABLE.strip().splitlines():
        names = [name.strip() for name in line.split("|")]
        canonical.append(names[0])
        for name in names:
            aliases[_country_key(name)] = names[0]
            # People type "Timor Leste" as often as "Timor-Leste".
            aliases.setdefault(tuple(tokenize(name)), names[0])
    return tuple(canonical), aliases


#: Canonical country names, as :func:`find_countries` returns them.
COUNTRIES, _COUNTRY_ALIASES = _load_countries()
_ALIASES_BY_FIRST: dict[str, list[tuple[str, ...]]] = {}
for _key in sorted(_COUNTRY_ALIASES, key=len, reverse=True):
    _ALIASES_BY_FIRST.setdefault(_key[0], []).append(_key)
#: Every name a country goes by, folded (``"viet nam"``, ``"vietnam"`` ...) -> canonical name.
COUNTRY_NAMES: dict[str, str] = {" ".join(key): name for key, name in _COUNTRY_ALIASES.items()}


def find_countries(text: str) -> list[str]:
    """Canonical names of the countries mentioned in ``text``, in order of first mention.

    The longest name wins (``"Papua New Guinea"`` is not also Guinea), and a name inside a
    hyphenated word does not count (``"Inner-Mongolia"`` is not Mongolia).
    """
    return countries_in(split_words(text))


def countries_in(words: list[str]) -> list[str]:
    """:func:`find_countries` over the output of :func:`split_words` (saves splitting twice)."""
    found: dict[str, None] = {}
    starts = [i for i, word in enumerate(words) if word in _ALIASES_BY_FIRST or "-" in word]
    end = 0  # a country name never overlaps the previous one
    for i in starts:
        if i < end:
            continue
        for key in _ALIASES_BY_FIRST.get(words[i].replace("-", ""), ()):
            if tuple(word.replace("-", "") for word in words[i : i + len(key)]) == key:
                found.setdefault(_COUNTRY_ALIASES[key], None)
                end = i + len(key)
                break
    return list(found)


def country_of(name: str) -> str | None:
    """The canonical country for a name or alias typed by a person (``"vietnam"``), else None."""
    return _COUNTRY_ALIASES.get(_country_key(name)) or _COUNTRY_ALIASES.get(tuple(tokenize(name)))
