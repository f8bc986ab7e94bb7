"""A deterministic corpus of articles in the seed format, for benchmarks and tests.

``generate(n, seed=s)`` yields the same ``(file name, bytes)`` pairs on every
machine and Python version (only `random.Random` with a fixed seed is used).
Articles average ~3.5 KB, mix Italian and English, have 0–5 headed sections,
captions with credits, quote lead-ins, abbreviations and thousands separators,
and month- or day-precision dates spread over 2012–2025 (all in the past, so
feed validators never see an implausible future date).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

__all__ = ["generate", "write_corpus"]

_WORDS = {
    "it": {
        "person": [
            "il presidente Tokayev",
            "il ministro degli Esteri",
            "la portavoce del governo",
            "il dott. Marco Rossi",
            "il sindaco di Almaty",
            "la sen. Anna Bianchi",
            "il prof. Luca Verdi",
            "il comandante della missione",
        ],
        "place": [
            "Almaty",
            "Roma",
            "Milano",
            "Nur Sultan",
            "Bruxelles",
            "Kiev",
            "Napoli",
            "Torino",
        ],
        "org": ["la CSTO", "il governo", "la NATO", "l'ONU", "il Parlamento", "la Commissione UE"],
        "thing": [
            "le proteste di piazza",
            "l'aumento dei prezzi dell'energia",
            "la riforma delle pensioni",
            "il piano per le infrastrutture",
            "la crisi del gas",
            "le elezioni regionali",
        ],
        "when": ["lunedì", "ieri sera", "la settimana scorsa", "nei giorni scorsi", "stamattina"],
    },
    "en": {
        "person": [
            "President Biden",
            "the foreign minister",
            "a government spokeswoman",
            "Dr. Jane Smith",
            "the mayor of Boston",
            "Sen. John Doe",
            "Prof. Alan Green",
            "the mission commander",
        ],
        "place": [
            "Boston",
            "London",
            "Washington",
            "Brussels",
            "Kyiv",
            "Chicago",
            "Leeds",
            "Austin",
        ],
        "org": ["the U.S. government", "NATO", "the U.N.", "Parliament", "the EU Commission"],
        "thing": [
            "the street protests",
            "the rise in energy prices",
            "the pension reform",
            "the infrastructure plan",
            "the gas crisis",
            "the regional elections",
        ],
        "when": ["on Monday", "last night", "last week", "in recent days", "this morning"],
    },
}

_SENTENCES = {
    "it": [
        "Secondo {org}, {thing} hanno coinvolto almeno {big} persone a {place}.",
        "{Person} ha dichiarato {when} che {thing} restano la priorità del Paese.",
        "A {place} la situazione è tornata lentamente alla normalità, con negozi e uffici aperti.",
        "Il bilancio ufficiale parla di {small} feriti, ma le stime non ufficiali sono più alte.",
        "Tra i temi sul tavolo ci sono {thing}, i trasporti, la sanità, ecc. Poi si vedrà.",
        "Non è la prima volta che {org} interviene in questo modo.",
        "Le opposizioni chiedono chiarezza su {thing} e sulle responsabilità del governo.",
        "Il costo complessivo è stimato in {big} milioni di euro, secondo i dati più recenti.",
        "Molti cittadini di {place} sono scesi in strada {when} per chiedere risposte.",
        "La decisione arriva dopo settimane di trattative tra {org} e i rappresentanti locali.",
    ],
    "en": [
        "According to {org}, {thing} involved at least {big} people in {place}.",
        "{Person} said {when} that {thing} remain the country's top priority.",
        "In {place} life slowly returned to normal, with shops and offices open again.",
        "The official toll is {small} injured, but unofficial estimates are higher.",
        "The agenda includes {thing}, transport, health care, etc. More talks will follow.",
        "It is not the first time {org} has stepped in like this.",
        "The opposition wants answers about {thing} and who is responsible.",
        "The total cost is put at {big} million dollars, according to the latest figures.",
        "Many residents of {place} took to the streets {when} to demand answers.",
        "The decision follows weeks of talks between {org} and local representatives.",
    ],
}

_HEADINGS = {
    "it": [
        "Le reazioni a {place}",
        "Cosa succede adesso?",
        "Il nodo di {thing}",
        "Addio ad un eroe",
        "{Org}: nuovi rapporti di forza?",
        "La ricostruzione",
    ],
    "en": [
        "Reactions in {place}",
        "What happens next?",
        "The question of {thing}",
        "A farewell to a hero",
        "{Org}: a new balance of power?",
        "Rebuilding",
    ],
}

_INTROS = {"it": "{Person}, parlando ai giornalisti:", "en": "{Person}, speaking to reporters:"}
_QUOTES = {
    "it": '"Abbiamo fatto tutto il possibile per garantire la sicurezza dei cittadini e lo faremo '
    'ancora nei prossimi giorni".',
    "en": '"We have done everything we can to keep people safe, and we will keep doing so in the '
    'days ahead."',
}
_CAPTIONS = {"it": "{Person} a {place}.", "en": "{Person} in {place}."}
_CREDITS = [
    "Screengrab by AFP video",
    "Foto: ANSA",
    "Photo: Reuters",
    "(AP Photo/Evan Vucci)",
    "© Getty Images",
    "Photo by John Doe",
]
_HEADLINES = {
    "it": "{Thing}: {person} interviene a {place}.",
    "en": "{Person} speaks out on {thing} in {place}",
}


def _fill(rng: random.Random, template: str, lang: str) -> str:
    words = _WORDS[lang]
    values = {key: rng.choice(options) for key, options in words.items()}
    values.update({key.capitalize(): value[0].upper() + value[1:] for key, value in values.items()})
    sep = "." if lang == "it" else ","
    values["big"] = f"{rng.randint(2, 99)}{sep}{rng.randint(0, 999):03d}"
    values["small"] = str(rng.randint(3, 400))
    return template.format(**values)


def _paragraph(rng: random.Random, lang: str) -> str:
    count = rng.choice((1, 2, 2, 3, 3, 4, 5))
    return " ".join(_fill(rng, rng.choice(_SENTENCES[lang]), lang) for _ in range(count))


def _section_blocks(rng: random.Random, lang: str, paragraphs: int) -> list[str]:
    blocks = [_paragraph(rng, lang) for _ in range(paragraphs)]
    if rng.random() < 0.3:
        at = rng.randint(1, len(blocks))
        blocks[at:at] = [_fill(rng, _INTROS[lang], lang), _QUOTES[lang]]
    if rng.random() < 0.35:
        caption = f"{_fill(rng, _CAPTIONS[lang], lang)} {rng.choice(_CREDITS)}"
        blocks.insert(rng.randint(1, len(blocks)), caption)
    return blocks


def _article(rng: random.Random, lang: str) -> str:
    year = rng.randint(2012, 2025)
    month = rng.randint(1, 12)
    date = (
        f"{year}-{month:02d}"
        if rng.random() < 0.4
        else f"{year}-{month:02d}-{rng.randint(1, 28):02d}"
    )
    lines = [f"date {date} {_fill(rng, _HEADLINES[lang], lang)}"]
    sections = rng.choice((0, 1, 2, 2, 3, 3, 4, 5))
    lines += _section_blocks(rng, lang, rng.randint(2, 4) if sections else rng.randint(5, 12))
    for _ in range(sections):
        lines.append(_fill(rng, rng.choice(_HEADINGS[lang]), lang))
        lines += _section_blocks(rng, lang, rng.randint(2, 5))
    return "\n\n".join(lines) + ("\n" if rng.random() < 0.8 else "")


def generate(n: int, *, seed: int = 0, start_seq: int = 0) -> Iterator[tuple[str, bytes]]:
    """``n`` articles as (file name, UTF-8 bytes); the same for the same arguments."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible corpus, not a secret
    for seq in range(start_seq, start_seq + n):
        lang = "it" if rng.random() < 0.6 else "en"
        name = f"{seq:06d}_{rng.getrandbits(64):016x}.txt"
        yield name, _article(rng, lang).encode("utf-8")


def write_corpus(folder: Path, n: int, *, seed: int = 0) -> list[Path]:
    """Write ``generate(n, seed=seed)`` into ``folder`` (created if missing); the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in generate(n, seed=seed):
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
    return paths
