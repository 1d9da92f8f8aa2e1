"""A reproducible synthetic corpus of press releases, for benchmarks (search, fan-out).

``generate_releases(100_000, seed=42)`` always returns the same releases. They look like the
labour press releases the bot serves: titles and summaries built from press-release
templates whose slots are filled from a vocabulary of several thousand words drawn with a
Zipf-like frequency (a few words are in a large share of releases, most words are rare, as in
real text), with labour topics, worker groups and country names among them, plus a long
tail of rare proper names (people, organisations, districts) as real releases have.

Usage from another benchmark::

    from bench.corpus import generate_releases
    releases = generate_releases(10_000, seed=1)
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from bot.releases import Release, make_id
from bot.text import COUNTRIES

__all__ = ["LABOUR_WORDS", "TOPICS", "Vocabulary", "generate_releases", "vocabulary"]


def _words(text: str) -> list[str]:
    """The whitespace-separated words of a block of text."""
    return text.split()


# Labour-domain words, roughly from most to least common in such releases.
LABOUR_WORDS = _words(
    """
    workers work safety health labour employment training jobs social ILO workshop programme
    government employers rights protection decent workplace development standards wages
    child children women young migrant skills policy national conditions trade union unions
    youth occupational enterprises economic poverty dialogue international minimum workforce
    sector informal economy small businesses income security unemployment construction
    mining accidents agriculture domestic equality gender forced labourers vocational
    pension insurance hazards injuries inspection inspectors migration trafficking
    traffickers factories factory textile garment fishing seafarers maritime productivity
    entrepreneurs cooperatives microfinance crisis recovery tripartite bargaining collective
    freedom association discrimination disability retirement contracts subcontracting
    overtime hours maternity leave childcare harassment violence chemicals asbestos silica
    dust ergonomics manufacturing plantation tea cocoa cotton sugarcane brick kilns quarry
    rubber palm tourism hotel transport drivers dockworkers nurses teachers platform digital
    automation green climate transition apprentices apprenticeship compliance ratification
    convention conventions recommendation supervisors coal mine mines miners mineworkers
    employment-intensive low-cost home-based self-employed
    """
)

TOPICS = (
    "child labour",
    "forced labour",
    "occupational safety and health",
    "social protection",
    "youth employment",
    "migrant workers",
    "gender equality",
    "skills development",
    "social dialogue",
    "labour standards",
    "wages",
    "informal economy",
    "green jobs",
    "domestic workers",
    "trafficking",
    "HIV/AIDS",
    "enterprise development",
    "mining",
)

WORKER_GROUPS = (
    "construction",
    "domestic",
    "migrant",
    "garment",
    "mine",
    "farm",
    "plantation",
    "home",
    "textile",
    "factory",
    "fishing",
    "health",
    "transport",
    "platform",
    "young",
    "women",
    "rural",
    "informal",
    "hotel",
    "dock",
    "brick kiln",
    "coal",
)

EVENTS = (
    "workshop",
    "conference",
    "forum",
    "seminar",
    "training course",
    "meeting",
    "symposium",
    "dialogue",
    "survey",
    "study",
    "campaign",
    "project",
    "programme",
    "consultation",
)

GENERAL_WORDS = _words(
    """
    new report study global regional local public private first second third major key main
    launch launches launched support supports supported improve improves improved improving
    review reviews progress plan plans action actions agenda strategy strategies measures
    government governments ministry minister officials experts partners partnership
    partnerships country countries region regions city cities province provinces district
    districts village villages community communities family families people population
    household households group groups network networks organization organizations agency
    agencies office offices council committee commission board council body institution
    institutions centre centres project projects initiative initiatives campaign campaigns
    fund funds funding budget cost costs price prices market markets trade export exports
    import imports industry industries company companies firm firms business sector sectors
    service services product products growth rate rates level levels number numbers share
    percent million billion thousand data evidence results findings figures estimate
    estimates trends analysis research information knowledge experience lessons practice
    practices model models approach tools system systems framework frameworks law laws
    legislation regulation regulations rule rules reform reforms change changes challenge
    challenges problem problems issue issues risk risks need needs demand demands access
    quality quantity capacity capacities role roles impact effect effects benefit benefits
    outcome outcomes goal goals target targets priority priorities opportunity opportunities
    future past today year years month months week weeks day days time period decade decades
    history record records case cases example examples focus focuses focused aim aims aimed
    help helps helped create creates created build builds built provide provides provided
    offer offers offered hold holds held meet meets met call calls called urge urges urged
    warn warns warned welcome welcomes welcomed sign signs signed adopt adopts adopted agree
    agrees agreed discuss discusses discussed address addresses addressed promote promotes
    promoted strengthen strengthens strengthened expand expands expanded reduce reduces
    reduced increase increases increased fight fights fought end ends ended protect protects
    protected ensure ensures ensured develop develops developed implement implements
    implemented assess assesses assessed publish publishes published present presents
    presented release releases released show shows showed reveal reveals revealed find finds
    found estimate estimated highlight highlights highlighted mark marks marked celebrate
    celebrates celebrated host hosts hosted organize organizes organized fund funded finance
    finances financed train trains trained employ employs employed hire hires hired pay pays
    paid earn earns earned lose loses lost face faces faced affect affects affected cover
    covers covered include includes included involve involves involved target targeted reach
    reaches reached bring brings brought join joins joined lead leads led large small big
    high low long short wide broad strong weak safe unsafe dangerous hazardous poor rich
    vulnerable disadvantaged rural urban remote coastal northern southern eastern western
    central national international regional global local formal informal legal illegal fair
    unfair equal unequal decent better best worse worst good bad important significant
    serious severe critical urgent growing rising falling declining persistent widespread
    comprehensive practical effective efficient sustainable inclusive innovative traditional
    modern technical financial economic social political cultural environmental sectoral
    annual monthly daily weekly full part temporary permanent seasonal casual regular
    special specific general common joint mutual direct indirect basic essential minimum
    maximum average total overall additional further initial final current recent early late
    water food energy electricity fuel land forest forests farm farms farmers crop crops
    rice maize wheat coffee fish livestock cattle goods machinery equipment vehicles
    buildings roads housing schools school hospitals clinics university universities
    students teacher doctor doctors nurse engineers technicians managers owners leaders
    members delegates participants representatives specialists trainers officers staff
    volunteers observers journalists media press statement interview speech address message
    letter declaration resolution report reports paper papers guide guidelines manual
    handbook toolkit brochure website online internet phone mobile technology technologies
    innovation science computer software network platforms app apps online video film photo
    exhibition award awards prize ceremony event events session sessions round talks
    negotiations agreement agreements deal accord treaty pact protocol mission visit visits
    tour trip journey return arrival exit flood floods drought earthquake tsunami storm
    disaster disasters emergency conflict war peace refugees displaced returnees victims
    survivors families orphans elderly disabled youth adolescents girls boys men women
    mothers fathers parents spouses widows
    """
)

SYLLABLES = _words(
    """
    ka lo mi sen tar vu ra be don gel hu ni po sa te ul va ze bri cha dro fen gor hal ist
    jun kel lun mar nor ost pel qui ros sul tum ur vel wan xi yor zan ban cor dal eth fir
    gam
    """
)

STOP_FILLERS = ("the", "of", "and", "in", "to", "for", "with", "on", "by", "at", "from", "as")

CITIES = _words(
    """
    Geneva Bangkok Beijing Manila Jakarta Hanoi Dhaka Delhi Karachi Lima Santiago Nairobi
    Dakar Abidjan Lagos Cairo Tunis Rabat Amman Beirut Ankara Moscow Kyiv Warsaw Prague
    Budapest Brussels Paris Madrid Rome Berlin London Lisbon Vienna Oslo Stockholm Ottawa
    Washington Mexico Bogota Quito Caracas Brasilia Montevideo Asuncion Johannesburg
    Pretoria Harare Lusaka Maputo Kampala Kigali Accra Yaounde Kinshasa Colombo Kathmandu
    Islamabad Kabul Tashkent Almaty Bishkek Ulaanbaatar Tokyo Seoul Suva Canberra Wellington
    """
)


@dataclass(frozen=True)
class Vocabulary:
    """The word pools and Zipf weights a corpus is drawn from (exposed for query builders)."""

    words: tuple[str, ...]  # by Zipf rank: words[0] is the most frequent
    cum_weights: tuple[float, ...]
    countries: tuple[str, ...]
    country_weights: tuple[float, ...]
    names: tuple[str, ...]


def _zipf(count: int, exponent: float = 1.0, shift: float = 2.7) -> list[float]:
    return [1.0 / (rank + shift) ** exponent for rank in range(1, count + 1)]


def vocabulary(seed: int = 42) -> Vocabulary:
    """The ranked vocabulary for a seed: labour words first, then general words, then names."""
    rng = random.Random(f"vocabulary-{seed}")
    names: list[str] = []
    seen: set[str] = set()
    for combo in itertools.product(SYLLABLES, repeat=3):
        name = "".join(combo).capitalize()
        if name not in seen:
            seen.add(name)
            names.append(name)
    rng.shuffle(names)
    names = names[:80_000]
    labour = list(dict.fromkeys(LABOUR_WORDS))
    general = [w for w in dict.fromkeys(GENERAL_WORDS) if w not in set(labour)]
    rng.shuffle(general)
    # Labour words and general words interleave at the top of the ranking, names fill the tail.
    ranked: list[str] = []
    for pair in itertools.zip_longest(labour, general[: len(labour)]):
        ranked.extend(w for w in pair if w)
    ranked.extend(general[len(labour) :])
    ranked.extend(names)
    weights = _zipf(len(ranked))
    countries = list(COUNTRIES)
    rng.shuffle(countries)
    return Vocabulary(
        words=tuple(ranked),
        cum_weights=tuple(itertools.accumulate(weights)),
        countries=tuple(countries),
        country_weights=tuple(itertools.accumulate(_zipf(len(countries), 1.0, 8.0))),
        names=tuple(names),
    )


_PICK_WEIGHTS: dict[int, list[float]] = {}


class _Writer:
    """Draws the words and sentences of one corpus."""

    def __init__(self, vocab: Vocabulary, rng: random.Random) -> None:
        self.vocab = vocab
        self.rng = rng

    def words(self, k: int) -> list[str]:
        return self.rng.choices(self.vocab.words, cum_weights=self.vocab.cum_weights, k=k)

    def country(self) -> str:
        return self.rng.choices(self.vocab.countries, cum_weights=self.vocab.country_weights)[0]

    def pick(self, options: Sequence[str]) -> str:
        # Earlier options are more common, like everything else here.
        weights = _PICK_WEIGHTS.get(len(options))
        if weights is None:
            weights = _PICK_WEIGHTS[len(options)] = list(itertools.accumulate(_zipf(len(options))))
        return self.rng.choices(options, cum_weights=weights)[0]

    def filler(self, k: int) -> str:
        out: list[str] = []
        for word in self.words(k):
            out.append(word)
            if self.rng.random() < 0.35:
                out.append(self.rng.choice(STOP_FILLERS))
        return " ".join(out)

    def title(self) -> tuple[str, str]:
        """(kind, title)."""
        r = self.rng.random()
        c = self.country()
        topic = self.pick(TOPICS)
        group = self.pick(WORKER_GROUPS)
        w = self.words(4)
        if r < 0.07:
            return "Media advisory", f"ILO to publish {w[0]} report on {topic}"
        if r < 0.10:
            return "Statement", f"Statement on {topic} in {c}"
        templates = (
            f"{c} {group} workers to get {topic} training",
            f"New {topic} {w[0]} targets {group} workers",
            f"{c}: {w[0]} {w[1]} on {topic}",
            f"ILO and {c} {w[0]} {w[1]} to {w[2]} {topic}",
            f"{w[0].capitalize()} {w[1]} for {group} workers in {c}",
            f"{topic.capitalize()} {w[0]} {w[1]} {w[2]} {w[3]}",
            f"{c} and {self.country()} agree on {topic} {w[0]}",
            f"{w[0].capitalize()} {w[1]} {w[2]} {w[3]} in {c}",
        )
        return "Press release", templates[int(self.rng.random() * len(templates))]

    def summary(self) -> str:
        c = self.country()
        event = self.pick(EVENTS)
        name = self.rng.choice(self.vocab.names)
        body = self.pick(("Ministry", "Federation", "Council", "Association", "Institute"))
        topic = self.pick(TOPICS)
        group = self.pick(WORKER_GROUPS)
        city = self.rng.choice(CITIES)
        openers = (
            f"A {self.rng.randint(2, 5)}-day {event} organized by the ILO and the {name} {body}"
            f" in {city}, {c}, focuses on {topic} and {self.filler(3)} for {group} workers.",
            f"ILO experts go to {c} to review {self.filler(4)} of the {topic} {event}.",
            f"Preliminary results of an ILO-supported {event} released by the Government of {c}"
            f" show that {self.filler(6)} among {group} workers.",
            f"Government officials from {c} and {self.country()} hold {event} with {group} workers"
            f" and {name} {body} on {topic}.",
            f"The {name} {body} and the ILO launch a {event} on {topic} in {city}.",
            f"A new ILO {event} covering {self.rng.randint(3, 120)} countries reveals that"
            f" {self.filler(7)} {group} workers.",
        )
        first = openers[int(self.rng.random() * len(openers))]
        second = f"{self.filler(self.rng.randint(8, 16)).capitalize()}."
        if self.rng.random() < 0.5:
            return f"{first} {second}"
        third = f"The {self.filler(self.rng.randint(5, 10))} in {self.country()}."
        return f"{first} {second} {third}"


def generate_releases(count: int, seed: int = 42) -> list[Release]:
    """``count`` synthetic releases, the same ones for the same seed (dates 1995..2024)."""
    writer = _Writer(vocabulary(seed), random.Random(f"corpus-{seed}"))
    rng = writer.rng
    start = date(1995, 1, 1)
    span = (date(2024, 12, 31) - start).days
    out: list[Release] = []
    ids: set[str] = set()
    for index in range(count):
        kind, title = writer.title()
        when = start + timedelta(days=rng.randrange(span))
        release_id = make_id(when, title)
        if release_id in ids:
            release_id = make_id(when, f"{index} {title}")
        ids.add(release_id)
        place = rng.choice(CITIES) if rng.random() < 0.6 else None
        topics = tuple(sorted({writer.pick(TOPICS) for _ in range(rng.randint(0, 2))}))
        out.append(
            Release(
                id=release_id,
                kind=kind,
                title=title,
                date=when,
                place=place,
                summary=writer.summary(),
                url=f"https://example.org/releases/{release_id}",
                topics=topics,
            )
        )
    return out
