"""Sentence splitting, stop words, language detection and summary rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedbot.articles.summarize import (
    DETECT_CHARS,
    DETECTABLE,
    detect_language,
    split_sentences,
    stop_words,
    summarize,
)

SPLITS_IT = [
    (
        "2.000 soldati sono arrivati. Poi sono partiti.",
        ["2.000 soldati sono arrivati.", "Poi sono partiti."],
    ),
    ("Lo ha detto il dott. Rossi ieri. Fine.", ["Lo ha detto il dott. Rossi ieri.", "Fine."]),
    ("Frutta, verdura ecc. Poi il resto.", ["Frutta, verdura ecc.", "Poi il resto."]),
    ('Ha detto: "Basta così." Poi è uscito.', ['Ha detto: "Basta così."', "Poi è uscito."]),
    ("«Non cambia nulla.» Il ministro tace.", ["«Non cambia nulla.»", "Il ministro tace."]),
    ("Parla il prof. Bianchi con la sig.ra Neri.", ["Parla il prof. Bianchi con la sig.ra Neri."]),
    ("Vedi art. 3 del decreto. Poi il resto.", ["Vedi art. 3 del decreto.", "Poi il resto."]),
    (
        "Nel 44 a.C. Cesare morì. Il resto è storia.",
        ["Nel 44 a.C. Cesare morì.", "Il resto è storia."],
    ),
    ("Davvero? Sì! Certo...", ["Davvero?", "Sì!", "Certo..."]),
    ("Sono le 10.30 di sera. e poi basta.", ["Sono le 10.30 di sera. e poi basta."]),
    (
        "Almeno 164 (secondo un calcolo). Altri no.",
        ["Almeno 164 (secondo un calcolo).", "Altri no."],
    ),
]

SPLITS_EN = [
    ("The U.S. said so. It was late.", ["The U.S. said so.", "It was late."]),
    ("He moved to the U.S. The move was hard.", ["He moved to the U.S.", "The move was hard."]),
    ("U.S. officials met. Talks ended.", ["U.S. officials met.", "Talks ended."]),
    (
        "Dr. Smith met Mr. Jones at 5 p.m. on Monday.",
        ["Dr. Smith met Mr. Jones at 5 p.m. on Monday."],
    ),
    ("J. R. Smith spoke. Then he left.", ["J. R. Smith spoke.", "Then he left."]),
    ('She said "no." Then she left.', ['She said "no."', "Then she left."]),
    ("It cost $2,000.50 in total. Fine.", ["It cost $2,000.50 in total.", "Fine."]),
    ("Apples, pears, etc. Then more.", ["Apples, pears, etc.", "Then more."]),
    ("See No. 5 in the list.", ["See No. 5 in the list."]),
    ("Why? Because. (And then.) Done.", ["Why?", "Because.", "(And then.)", "Done."]),
]


@pytest.mark.parametrize(("text", "expected"), SPLITS_IT)
def test_split_italian(text: str, expected: list[str]) -> None:
    assert split_sentences(text, "it") == expected


@pytest.mark.parametrize(("text", "expected"), SPLITS_EN)
def test_split_english(text: str, expected: list[str]) -> None:
    assert split_sentences(text, "en") == expected


def test_split_empty_and_unknown_language() -> None:
    assert split_sentences("", "it") == []
    assert split_sentences("Une phrase. Une autre.", "fr") == ["Une phrase.", "Une autre."]


def test_stop_words() -> None:
    assert {"il", "della", "che"} <= stop_words("it")
    assert {"the", "and", "of"} <= stop_words("en")
    assert stop_words("xx") == frozenset()


@pytest.mark.parametrize(
    ("text", "language"),
    [
        (
            "Il governo ha detto che la riforma delle pensioni è una priorità per il Paese "
            "e che i lavori riprenderanno nei prossimi giorni con le parti sociali.",
            "it",
        ),
        (
            "The government said that the pension reform is a priority for the country and "
            "that the work will resume in the coming days with the unions.",
            "en",
        ),
        (
            "Le gouvernement a déclaré que la réforme des retraites est une priorité pour le pays "
            "et que les travaux reprendront dans les prochains jours.",
            "fr",
        ),
        (
            "Die Regierung sagte, dass die Rentenreform eine Priorität für das Land sei und die "
            "Arbeit in den kommenden Tagen mit den Gewerkschaften fortgesetzt werde.",
            "de",
        ),
        (
            "O governo disse que a reforma da previdência é uma prioridade para o país e que os "
            "trabalhos serão retomados nos próximos dias com os sindicatos.",
            "pt",
        ),
        (
            "De regering zei dat de hervorming van de pensioenen een prioriteit is voor het land "
            "en dat het werk in de komende dagen met de vakbonden wordt hervat.",
            "nl",
        ),
        (
            "Правительство заявило, что пенсионная реформа является приоритетом для страны и что "
            "работа возобновится в ближайшие дни вместе с профсоюзами.",
            "ru",
        ),
        (
            "Уряд заявив, що пенсійна реформа є пріоритетом для країни і що робота відновиться "
            "найближчими днями разом із профспілками.",
            "uk",
        ),
        ("Η κυβέρνηση δήλωσε ότι η μεταρρύθμιση των συντάξεων αποτελεί προτεραιότητα.", "el"),
        (
            "政府は年金改革が国の優先課題であり、数日以内に労働組合との作業を再開すると述べた。",
            "ja",
        ),
        ("政府表示，养老金改革是国家的优先事项，工作将在未来几天与工会一起恢复。", "zh"),
        (
            "정부는 연금 개혁이 국가의 우선 과제이며 며칠 안에 작업을 재개한다고 밝혔다.",
            "ko",
        ),
        ("قالت الحكومة إن إصلاح نظام التقاعد يمثل أولوية للبلاد.", "ar"),
        ("הממשלה אמרה כי הרפורמה בפנסיות היא בעדיפות עליונה למדינה.", "he"),
        ("सरकार ने कहा कि पेंशन सुधार देश की प्राथमिकता है।", "hi"),
        ("รัฐบาลกล่าวว่าการปฏิรูปบำนาญเป็นลำดับความสำคัญของประเทศ", "th"),
        # Languages without a profile are "und", not a guess (Polish, Swedish):
        (
            "Rząd powiedział, że reforma emerytalna jest priorytetem dla kraju i że prace zostaną "
            "wznowione w najbliższych dniach ze związkami zawodowymi.",
            "und",
        ),
        (
            "Regeringen sade att pensionsreformen är en prioritet för landet och att arbetet "
            "kommer att återupptas under de kommande dagarna med facken.",
            "und",
        ),
        ("Storm hits the coast", "und"),  # too few words to tell
        ("", "und"),
        ("  ... 123 !!", "und"),
    ],
)
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_detection_reads_a_bounded_prefix() -> None:
    english = "The storm reached the coast and it was the worst in years. " * 12
    italian = "Il governo ha detto che la riforma è una priorità per il Paese. " * 40
    assert len(english) > DETECT_CHARS
    assert detect_language(english + italian) == "en"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=800))
def test_detection_always_names_a_known_code(text: str) -> None:
    assert detect_language(text) in DETECTABLE


LONG = [
    "Il governo ha approvato la riforma delle pensioni dopo un lungo dibattito.",
    "La riforma delle pensioni entrerà in vigore il prossimo anno.",
    "Le opposizioni criticano la riforma.",
    "Il tempo era bello.",
]


def test_summary_takes_at_most_two_sentences_in_order() -> None:
    summary = summarize([" ".join(LONG)], "it")
    assert summary == f"{LONG[0]} {LONG[1]}"


def test_summary_respects_the_character_budget() -> None:
    summary = summarize([" ".join(LONG)], "it", max_chars=100)
    assert len(summary) <= 100
    assert summary == f"{LONG[0]} {LONG[3]}"  # LONG[1] does not fit beside LONG[0]
    assert summarize([" ".join(LONG)], "it", max_chars=60) == f"{LONG[2]} {LONG[3]}"


def test_summary_position_breaks_ties() -> None:
    text = "Alfa beta. Gamma delta. Epsilon zeta."
    assert summarize([text], "it", max_sentences=1) == "Alfa beta."


def test_summary_prefers_sentences_with_frequent_words() -> None:
    units = [
        "Weather was fine.",
        "Nothing happened at all there.",
        "Pensions pensions reform reform budget.",
        "The pension reform and the budget passed; pensions rise.",
    ]
    summary = summarize(units, "en", max_sentences=2)
    assert "Pensions pensions reform reform budget." in summary
    assert summary.startswith("Weather was fine.")


def test_overlong_sentence_is_shortened_at_a_word_boundary() -> None:
    sentence = "parola " * 80 + "fine."
    summary = summarize([sentence], "it")
    assert len(summary) <= 300
    assert summary.endswith("parola…")


def test_empty_summary() -> None:
    assert summarize([], "it") == ""
    assert summarize(["   "], "en") == ""


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=400), max_size=6), st.sampled_from(["it", "en", "fr", ""]))
def test_summary_is_made_of_the_text(units: list[str], language: str) -> None:
    summary = summarize(units, language)
    assert len(summary) <= 300
    sentences = [s for unit in units for s in split_sentences(unit, language)]
    if summary and not summary.endswith("…"):
        pairs = {f"{a} {b}" for i, a in enumerate(sentences) for b in sentences[i + 1 :]}
        assert summary in set(sentences) | pairs
    assert summarize(units, language) == summary  # deterministic
