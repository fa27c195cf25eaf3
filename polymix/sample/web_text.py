"""A deterministic, web-like corpus for tests, the benchmark and the demo classifier.

Real crawls cannot ship with the project, yet the filters must be exercised on the page types
that make the published thresholds matter: clean prose, navigation boilerplate, lists, repeated
blocks, hashtag spam, tables, code, "lorem ipsum" and non-English pages. Every document carries its
`kind`, so a test can say which documents a rule set ought to keep.
"""

from __future__ import annotations

import random

_NOUNS = [
    "system",
    "water",
    "history",
    "people",
    "government",
    "information",
    "family",
    "problem",
    "service",
    "power",
    "market",
    "student",
    "program",
    "question",
    "policy",
    "research",
    "community",
    "process",
    "report",
    "theory",
    "village",
    "river",
    "garden",
    "teacher",
    "doctor",
    "engine",
    "network",
    "country",
    "morning",
    "evening",
    "museum",
    "library",
    "journey",
    "station",
    "harbour",
    "mountain",
    "valley",
    "island",
    "kitchen",
    "window",
    "letter",
    "picture",
    "business",
    "company",
    "council",
    "budget",
    "account",
    "season",
    "festival",
    "language",
    "science",
    "nature",
    "surface",
    "pattern",
    "method",
]
_VERBS = [
    "describes",
    "explains",
    "changes",
    "supports",
    "reaches",
    "follows",
    "includes",
    "creates",
    "provides",
    "requires",
    "produces",
    "improves",
    "reduces",
    "protects",
    "examines",
    "discovers",
    "remembers",
    "considers",
    "allows",
    "builds",
    "carries",
    "collects",
    "connects",
    "delivers",
    "develops",
    "encourages",
]
_ADJECTIVES = [
    "important",
    "different",
    "local",
    "public",
    "small",
    "large",
    "several",
    "recent",
    "social",
    "national",
    "strong",
    "careful",
    "simple",
    "modern",
    "ancient",
    "quiet",
    "bright",
    "difficult",
    "natural",
    "popular",
    "regional",
]
_ADVERBS = [
    "quickly",
    "carefully",
    "often",
    "rarely",
    "finally",
    "slowly",
    "clearly",
    "usually",
    "recently",
]
_DETERMINERS = ["the", "the", "the", "a", "this", "that", "every", "their", "our", "each"]
_PREPOSITIONS = ["of", "to", "with", "in", "on", "for", "from", "by", "near", "after"]
_CONNECTORS = ["and", "but", "because", "while", "so that", "although"]
_EXTRAS = [
    "It's worth noting that {s}",
    "We don't think {s}",
    "In 2019, about 1,250 people agreed that {s}",
    'As one resident said, "{s}"',
    "The well-known report (published in 3.5 volumes) says {s}",
    "According to the U.S. survey, {s}",
    "More details are at https://example.org/report.html, where {s}",
]
_NAV = [
    "Home",
    "About us",
    "Contact",
    "Services",
    "Blog",
    "Login",
    "Sign up",
    "Search",
    "Menu",
    "Shop",
    "FAQ",
    "Careers",
]
_BOILERPLATE = [
    "This website uses cookies to improve your experience.",
    "Please enable JavaScript in your browser to view this page.",
    "Privacy Policy | Terms of Use | Cookie Policy",
    "By continuing you agree to our terms of use and privacy policy.",
    "Copyright 2023 Example Media Group. All rights reserved.",
    "Share this article on Facebook Twitter LinkedIn",
]
_SPAM_WORDS = [
    "cheap",
    "best",
    "deal",
    "free",
    "bonus",
    "casino",
    "loans",
    "pills",
    "discount",
    "viral",
    "click",
    "win",
    "prize",
    "offer",
    "now",
]
_LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt "
    "ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation."
)
_CODE = """def {name}(values):
    total = 0
    for value in values:
        if value > {n}:
            total += value
    return {{"total": total, "count": len(values)}}
"""
NON_ENGLISH: dict[str, list[str]] = {
    "fr": [
        "Le conseil municipal a décidé de rénover la bibliothèque du quartier avant l'hiver.",
        "Les habitants se réunissent chaque samedi matin sur la place du marché.",
        "Cette rivière traverse trois villages avant de rejoindre la mer.",
        "Nous avons visité le musée avec nos enfants pendant les vacances.",
        "Le gouvernement présentera son budget au parlement la semaine prochaine.",
        "Il fait souvent froid dans les montagnes, même au printemps.",
        "Les élèves doivent rendre leur rapport avant la fin du mois.",
        "Elle a appris à jouer du piano quand elle était petite.",
    ],
    "de": [
        "Der Gemeinderat hat beschlossen, die Bibliothek im nächsten Jahr zu renovieren.",
        "Die Bewohner treffen sich jeden Samstag auf dem Marktplatz.",
        "Dieser Fluss fließt durch drei Dörfer, bevor er das Meer erreicht.",
        "Wir haben das Museum mit unseren Kindern während der Ferien besucht.",
        "Die Regierung wird ihren Haushalt nächste Woche im Parlament vorstellen.",
        "In den Bergen ist es oft kalt, sogar im Frühling.",
        "Die Schüler müssen ihren Bericht vor dem Ende des Monats abgeben.",
        "Sie hat als Kind gelernt, Klavier zu spielen.",
    ],
    "es": [
        "El ayuntamiento decidió renovar la biblioteca del barrio antes del invierno.",
        "Los vecinos se reúnen cada sábado por la mañana en la plaza del mercado.",
        "Este río atraviesa tres pueblos antes de llegar al mar.",
        "Visitamos el museo con nuestros hijos durante las vacaciones.",
        "El gobierno presentará su presupuesto en el parlamento la próxima semana.",
        "En las montañas hace frío a menudo, incluso en primavera.",
        "Los estudiantes deben entregar su informe antes de que termine el mes.",
        "Ella aprendió a tocar el piano cuando era pequeña.",
    ],
    "it": [
        "Il consiglio comunale ha deciso di rinnovare la biblioteca prima dell'inverno.",
        "Gli abitanti si incontrano ogni sabato mattina nella piazza del mercato.",
        "Questo fiume attraversa tre paesi prima di raggiungere il mare.",
        "Abbiamo visitato il museo con i nostri figli durante le vacanze.",
        "Il governo presenterà il bilancio in parlamento la prossima settimana.",
        "In montagna fa spesso freddo, anche in primavera.",
        "Gli studenti devono consegnare la relazione entro la fine del mese.",
        "Lei ha imparato a suonare il pianoforte quando era piccola.",
    ],
}


def _sentence(rng: random.Random) -> str:
    def phrase() -> str:
        adjective = f"{rng.choice(_ADJECTIVES)} " if rng.random() < 0.5 else ""
        return f"{rng.choice(_DETERMINERS)} {adjective}{rng.choice(_NOUNS)}"

    words = f"{phrase()} {rng.choice(_VERBS)} {phrase()}"
    if rng.random() < 0.6:
        words += f" {rng.choice(_PREPOSITIONS)} {phrase()}"
    if rng.random() < 0.4:
        words += f", {rng.choice(_CONNECTORS)} {phrase()} {rng.choice(_VERBS)} {phrase()}"
    if rng.random() < 0.3:
        words += f" {rng.choice(_ADVERBS)}"
    if rng.random() < 0.15:
        words = rng.choice(_EXTRAS).format(s=words)
    return words[0].upper() + words[1:] + rng.choice(".....!?")


def _paragraph(rng: random.Random, lo: int = 2, hi: int = 6) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(lo, hi)))


def _clean(rng: random.Random) -> str:
    blocks = []
    for _ in range(rng.randint(2, 8)):
        if rng.random() < 0.25:
            blocks.append(rng.choice(_NOUNS).title() + " " + rng.choice(_NOUNS))
        blocks.append(_paragraph(rng))
    return "\n\n".join(blocks)


def _boilerplate(rng: random.Random) -> str:
    nav = "\n".join(rng.sample(_NAV, rng.randint(3, 10)))
    body = "\n\n".join(_paragraph(rng) for _ in range(rng.randint(0, 4)))
    foot = "\n".join(rng.sample(_BOILERPLATE, rng.randint(1, 4)))
    return f"{nav}\n\n{body}\n\n{foot}".strip()


def _listing(rng: random.Random) -> str:
    bullet = rng.choice(["- ", "• ", "* ", "1. "])
    items = [
        f"{bullet}{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {rng.choice(_NOUNS)}"
        for _ in range(rng.randint(5, 40))
    ]
    intro = [_paragraph(rng, 1, 3)] if rng.random() < 0.5 else []
    return "\n".join(intro + items)


def _repetitive(rng: random.Random) -> str:
    unique = [_sentence(rng) for _ in range(rng.randint(1, 8))]
    lines = [rng.choice(unique) for _ in range(rng.randint(6, 40))]
    extra = [_paragraph(rng) for _ in range(rng.randint(0, 6))]
    return "\n".join(lines + extra)


def _short(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(1, 6)))


def _spam(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.4:
        tags = " ".join(f"#{rng.choice(_SPAM_WORDS)}{rng.choice(_NOUNS)}" for _ in range(40))
        return f"{_paragraph(rng, 1, 3)}\n{tags}"
    if kind < 0.7:
        teasers = [f"{_sentence(rng)[:-1]}..." for _ in range(rng.randint(4, 20))]
        return "\n".join(teasers + [_paragraph(rng, 1, 3)])
    words = [rng.choice(_SPAM_WORDS) for _ in range(rng.randint(60, 300))]
    return " ".join(words)


def _table(rng: random.Random) -> str:
    rows = [
        " | ".join(f"{rng.randint(0, 99999)}" for _ in range(rng.randint(3, 8)))
        for _ in range(rng.randint(10, 60))
    ]
    return _paragraph(rng, 1, 3) + "\n" + "\n".join(rows)


def _code(rng: random.Random) -> str:
    snippet = _CODE.format(name=rng.choice(_NOUNS), n=rng.randint(0, 9))
    return f"{_paragraph(rng)}\n\n{snippet}\n{_paragraph(rng)}"


def _lorem(rng: random.Random) -> str:
    return f"{_paragraph(rng)}\n\n{_LOREM}\n\n{_paragraph(rng)}"


def _foreign(rng: random.Random, language: str) -> str:
    sentences = NON_ENGLISH[language]
    return "\n\n".join(
        " ".join(rng.sample(sentences, rng.randint(2, 5))) for _ in range(rng.randint(2, 5))
    )


_KINDS = (
    ("clean", 0.40, _clean),
    ("boilerplate", 0.12, _boilerplate),
    ("list", 0.08, _listing),
    ("repetitive", 0.08, _repetitive),
    ("short", 0.06, _short),
    ("spam", 0.06, _spam),
    ("table", 0.04, _table),
    ("code", 0.03, _code),
    ("lorem", 0.03, _lorem),
)
JUNK_KINDS = frozenset({"boilerplate", "list", "repetitive", "spam", "table"})


def make_corpus(n: int, seed: int = 0, foreign_fraction: float = 0.1) -> list[dict[str, str]]:
    """`n` documents as {"id", "kind", "text"} (kind "foreign:<lang>" for non-English ones)."""
    rng = random.Random(seed)
    kinds, weights, makers = zip(*_KINDS, strict=True)
    languages = sorted(NON_ENGLISH)
    docs = []
    for i in range(n):
        if rng.random() < foreign_fraction:
            language = rng.choice(languages)
            kind, text = f"foreign:{language}", _foreign(rng, language)
        else:
            index = rng.choices(range(len(kinds)), weights)[0]
            kind, text = kinds[index], makers[index](rng)
        docs.append({"id": f"doc-{seed}-{i:06d}", "kind": kind, "text": text})
    return docs


def make_documents(kind: str, n: int, seed: int = 0) -> list[str]:
    """`n` texts of one kind ("clean", "spam", ...): the two sides of a classifier's training set."""
    rng = random.Random(seed)
    maker = {name: fn for name, _, fn in _KINDS}[kind]
    return [maker(rng) for _ in range(n)]
