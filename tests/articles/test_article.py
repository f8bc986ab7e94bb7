"""The article parser: the seed golden file, robustness, bad input, and properties."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import PurePosixPath

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from feedbot.articles.model import (
    Article,
    BlockKind,
    DatePrecision,
    article_from_dict,
    article_to_dict,
)
from feedbot.articles.names import is_article_name
from feedbot.articles.parse import CAPTION_CREDITS, file_stem, parse
from feedbot.errors import ArticleError, FeedbotError
from tests.conftest import ROOT, SEED

GOLDEN = ROOT / "tests" / "data" / "seed.json"
NAME = "seeds/000_52a7b11c330feae9.txt"


def _seed() -> Article:
    return parse(NAME, SEED.read_bytes())


# --- the seed ------------------------------------------------------------------------------


def test_seed_matches_golden_file() -> None:
    """After a deliberate change, write `article_to_dict(_seed())` to the golden file."""
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert article_to_dict(_seed()) == expected


def test_seed_as_the_issue_lists_it() -> None:
    """The shipped seed parses, field by field, to what a reader sees in the file: its id,
    month-precision date, headline, language, and each section's heading and blocks."""
    a = _seed()
    assert a.id == "000_52a7b11c330feae9"
    assert a.seq == 0
    assert a.date.isoformat() == "2022-01"
    assert a.date.precision is DatePrecision.MONTH
    assert a.date.value == datetime(2022, 1, 1, tzinfo=UTC)
    assert a.headline == "È iniziato il ritiro dei militari russi dal Kazakhstan."
    assert a.language == "it"
    assert [s.heading for s in a.sections] == [
        None,
        "CSTO: nuovi rapporti di forza?",
        "Addio ad un eroe",
        "Almaty, alla ricerca della normalità",
    ]
    lead, csto, addio, almaty = a.sections
    assert [b.kind for b in lead.blocks] == [BlockKind.PARAGRAPH] * 2
    assert lead.blocks[0].text.startswith("Il ministero della Difesa russo")
    assert lead.blocks[1].text.startswith("2.000 soldati del Cremlino")
    assert [(b.kind, b.text[:20]) for b in csto.blocks] == [
        (BlockKind.PARAGRAPH, "La decisione di invi"),
        (BlockKind.QUOTE_INTRO, "Il colonnello genera"),
        (BlockKind.QUOTE, '"In un breve lasso d'),
        (BlockKind.CAPTION, "Il comandante della "),
        (BlockKind.PARAGRAPH, "Spesso propagandata "),
        (BlockKind.PARAGRAPH, "In Kazakhstan, nei g"),
        (BlockKind.PARAGRAPH, "Putin sembra non vol"),
        (BlockKind.PARAGRAPH, "Ma i dubbi restano."),
        (BlockKind.PARAGRAPH, "Il Segretario di Sta"),
    ]
    assert csto.blocks[0].text.endswith("Tagikistan)")
    assert (
        csto.blocks[1].text
        == "Il colonnello generale Andrey Serdyukov, comandante della missione CSTO:"
    )
    assert csto.blocks[3].text == "Il comandante della missione russa. Screengrab by AFP video"
    assert [b.kind for b in addio.blocks] == [BlockKind.PARAGRAPH] * 3 + [BlockKind.CAPTION]
    assert addio.blocks[3].text == "Addio al tenente colonnello Khairov. Screengrab by AFP video"
    assert [b.kind for b in almaty.blocks] == [BlockKind.PARAGRAPH] * 5
    assert [b.line for b in lead.blocks] == [3, 5]


def test_seed_summaries_follow_the_rules() -> None:
    for section in _seed().sections:
        assert 0 < len(section.summary) <= 300
        captions = [b.text for b in section.blocks if b.kind is BlockKind.CAPTION]
        assert not any(c in section.summary for c in captions)
        if section.heading:
            assert section.heading not in section.summary
        body = " ".join(b.text for b in section.blocks)
        assert section.summary.split(" ")[0] in body


def test_dict_round_trip_is_exact() -> None:
    a = _seed()
    data = json.loads(json.dumps(article_to_dict(a)))
    assert article_from_dict(data) == a


def test_dict_round_trip_of_an_instant() -> None:
    a = parse("5_x.txt", b"date 2022-01-14T09:30:00.250+01:00 Hello\n\nBody.\n")
    assert a.date.precision is DatePrecision.INSTANT
    assert a.date.isoformat() == "2022-01-14T08:30:00.250000Z"
    assert article_from_dict(article_to_dict(a)) == a
    assert a.seq == 5


# --- robustness ----------------------------------------------------------------------------

BODY = b"date 2022-01-14 Headline here\n\nFirst paragraph. It has two sentences.\n"


def test_day_precision() -> None:
    a = parse("a.txt", BODY)
    assert a.date.precision is DatePrecision.DAY
    assert a.date.isoformat() == "2022-01-14"


def test_utf8_bom() -> None:
    assert parse("a.txt", b"\xef\xbb\xbf" + BODY) == parse("a.txt", BODY)


def test_crlf_line_ends() -> None:
    assert parse("a.txt", BODY.replace(b"\n", b"\r\n")) == parse("a.txt", BODY)


def test_leading_and_trailing_whitespace() -> None:
    padded = b"\n  \n " + BODY.replace(b"\n", b"   \n") + b"\n\n \t\n"
    a = parse("a.txt", padded)
    assert a.headline == "Headline here"
    assert a.sections[0].blocks[0].text == "First paragraph. It has two sentences."


def test_no_trailing_newline() -> None:
    assert parse("a.txt", BODY.rstrip(b"\n")) == parse("a.txt", BODY)


def test_hard_wrapped_paragraph_is_joined() -> None:
    a = parse("a.txt", b"date 2022-01 H\n\nOne line\ncontinued here.\n")
    assert a.sections[0].blocks[0].text == "One line continued here."


# --- bad input -----------------------------------------------------------------------------


def _error(data: bytes, *, max_bytes: int = 1024 * 1024) -> ArticleError:
    with pytest.raises(ArticleError) as info:
        parse("dir/bad.txt", data, max_bytes=max_bytes)
    assert isinstance(info.value, FeedbotError)
    assert str(info.value).startswith(f"dir/bad.txt:{info.value.line}: ")
    return info.value


def test_empty_file() -> None:
    assert "empty" in _error(b"").message
    assert "empty" in _error(b" \n\r\n\t\n").message


def test_no_date_line() -> None:
    e = _error(b"\n\nJust a headline\n\nBody.\n")
    assert e.line == 3
    assert "date line" in e.message


def test_impossible_date() -> None:
    e = _error(b"date 2022-13-45 Headline\n\nBody.\n")
    assert e.line == 1
    assert "2022-13-45" in e.message


def test_bad_date_text() -> None:
    e = _error(b"date yesterday Headline\n")
    assert e.line == 1
    assert "YYYY-MM" in e.message


def test_timestamp_without_zone() -> None:
    assert "time zone" in _error(b"date 2022-01-14T09:30:00 Headline\n").message


def test_missing_headline() -> None:
    e = _error(b"date 2022-01-14   \n\nBody.\n")
    assert (e.line, e.message) == (1, "missing headline after the date")


def test_invalid_utf8_names_the_byte() -> None:
    e = _error(b"date 2022-01 Headline\n\nCaff\xe8 latte.\n")
    assert e.line == 3
    assert "byte offset 27" in e.message


def test_invalid_utf8_after_bom_counts_the_bom() -> None:
    assert "byte offset 3" in _error(b"\xef\xbb\xbf\xff").message


def test_nul_byte_is_binary() -> None:
    e = _error(b"date 2022-01 Headline\n\nBo\x00dy\n")
    assert e.line == 3
    assert "binary" in e.message


def test_control_characters_are_binary() -> None:
    assert "binary" in _error(b"date 2022-01 Headline\n\n\x01\x02\x03\n").message


def test_over_the_size_limit() -> None:
    e = _error(BODY, max_bytes=10)
    assert e.line == 0
    assert "limit" in e.message


# --- block kinds ---------------------------------------------------------------------------

CAPTIONS = {
    "screengrab": "Il comandante. Screengrab by AFP video",
    "labelled credit": "Il presidente a Roma. Foto: ANSA",
    "agency photo": "The president in Boston. (AP Photo/Evan Vucci)",
    "copyright": "A view of the city © Reuters",
    "photo by": "The harbour at dawn. Photo by Jane Doe",
    "getty images": "Fans in the stadium. Getty Images",
    "agency after a stop": "Protesters in the square. Reuters",
}


def test_every_credit_pattern_has_a_case() -> None:
    assert set(CAPTIONS) == {name for name, _ in CAPTION_CREDITS}


@pytest.mark.parametrize("caption", CAPTIONS.values(), ids=CAPTIONS.keys())
def test_caption_credits(caption: str) -> None:
    a = parse("a.txt", f"date 2022-01 H\n\nA paragraph.\n\n{caption}\n\nMore text.\n".encode())
    kinds = [(b.kind, b.text) for s in a.sections for b in s.blocks]
    assert kinds[1] == (BlockKind.CAPTION, caption)


@pytest.mark.parametrize(
    "text",
    [
        "He spoke to Reuters about the plan.",
        "Il video: la folla in piazza.",
        "She said the AP story was wrong.",
    ],
)
def test_paragraphs_that_mention_credits_are_not_captions(text: str) -> None:
    a = parse("a.txt", f"date 2022-01 H\n\n{text}\n".encode())
    assert a.sections[0].blocks[0].kind is BlockKind.PARAGRAPH


def test_heading_needs_a_following_paragraph() -> None:
    a = parse("a.txt", b"date 2022-01 H\n\nIntro text.\n\nShort line\n")
    assert len(a.sections) == 1
    assert a.sections[0].blocks[-1].text == "Short line"


def test_heading_rules() -> None:
    data = (
        b"date 2022-01 H\n\nIntro.\n\nA question?\n\nText.\n\nNot a heading;\n\nText.\n\n"
        b"Twelve words is the limit for a heading line so this is long\n\nText.\n"
    )
    a = parse("a.txt", data)
    assert [s.heading for s in a.sections] == [None, "A question?"]


def test_article_can_start_with_a_heading() -> None:
    a = parse("a.txt", b"date 2022-01 H\n\nOpening heading\n\nText.\n")
    assert [s.heading for s in a.sections] == ["Opening heading"]


def test_quote_intro_keeps_its_quote_in_the_section() -> None:
    a = parse("a.txt", b"date 2022-01 H\n\nThe minister said:\n\nShort quote\n\nMore.\n")
    kinds = [b.kind for b in a.sections[0].blocks]
    assert kinds == [BlockKind.QUOTE_INTRO, BlockKind.QUOTE, BlockKind.PARAGRAPH]
    assert len(a.sections) == 1  # "Short quote" is the quote, not a heading


def test_english_article_is_detected() -> None:
    data = (
        b"date 2023-05-02 Storm hits the coast\n\nThe storm reached the coast on Monday and "
        b"the authorities said that thousands of homes were without power for most of the day. "
        b"Schools in the area will stay closed until the roads have been cleared.\n"
    )
    assert parse("a.txt", data).language == "en"


def test_other_language_is_detected_offline() -> None:
    data = (
        "date 2023-05-02 La tormenta llega a la costa\n\nLa tormenta llegó a la costa el lunes y "
        "las autoridades dijeron que miles de hogares se quedaron sin electricidad durante casi "
        "todo el día.\n"
    ).encode()
    a = parse("a.txt", data)
    assert a.language == "es"
    assert a.sections[0].summary


def test_undecided_language_is_und_and_still_summarised() -> None:
    data = "date 2023-05-02 Burza\n\nBurza dotarła do wybrzeża w poniedziałek. Szkoły zamknięto.\n"
    a = parse("a.txt", data.encode())
    assert a.language == "und"
    assert a.sections[0].summary == "Burza dotarła do wybrzeża w poniedziałek. Szkoły zamknięto."


# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("000_52a7b11c330feae9.txt", True),
        ("a.txt", True),
        (".hidden.txt", False),
        ("a.txt.tmp", False),
        ("a.tmp", False),
        ("a.txt.part", False),
        ("a.txt~", False),
        ("a.txt.swp", False),
        ("a.md", False),
        ("txt", False),
    ],
)
def test_is_article_name(name: str, ok: bool) -> None:
    assert is_article_name(name) is ok


# --- properties ----------------------------------------------------------------------------


def _parse_or_error(data: bytes) -> Article | ArticleError:
    """Parse ``data``; the only exception allowed is a well-formed ArticleError."""
    try:
        article = parse("p.txt", data)
    except ArticleError as e:
        assert e.line >= 0
        assert e.message
        assert str(e) == f"p.txt:{e.line}: {e.message}"
        return e
    assert article.headline
    assert article_from_dict(article_to_dict(article)) == article
    return article


_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(st.binary(max_size=2000))
def test_any_bytes_parse_or_raise_article_error(data: bytes) -> None:
    _parse_or_error(data)


@_SETTINGS
@given(st.text(max_size=2000))
def test_any_text_parse_or_raise_article_error(text: str) -> None:
    _parse_or_error(text.encode("utf-8", "surrogatepass"))


@_SETTINGS
@given(st.text(max_size=1500))
def test_any_body_after_a_date_line_parses(text: str) -> None:
    data = ("date 2024-02-29 Leap day\n\n" + text).encode("utf-8", "surrogatepass")
    result = _parse_or_error(data)
    if isinstance(result, Article):
        assert result.headline == "Leap day"


_LINE = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=80
).filter(lambda s: s.strip() != "")


@_SETTINGS
@given(st.lists(_LINE, max_size=12))
def test_every_block_lands_in_one_section_in_order(blocks: list[str]) -> None:
    body = "\n\n".join(blocks)
    a = parse("p.txt", f"date 2022-01 Headline\n\n{body}".encode())
    seen = []
    for section in a.sections:
        if section.heading is not None:
            seen.append(section.heading)
        seen += [b.text for b in section.blocks]
        assert len(section.summary) <= 300
    assert seen == [b.strip() for b in blocks]


@pytest.mark.parametrize(
    ("token", "iso"),
    [
        ("0999-01", "0999-01"),
        ("2024-02-29", "2024-02-29"),
        ("2022-01-14T23:30:00-02:00", "2022-01-15T01:30:00Z"),
        ("2022-01-14t09:30:00Z", "2022-01-14T09:30:00Z"),
    ],
)
def test_date_forms_round_trip(token: str, iso: str) -> None:
    a = parse("a.txt", f"date {token} H".encode())
    assert a.date.isoformat() == iso
    assert article_from_dict(article_to_dict(a)) == a


@pytest.mark.parametrize(
    "token", ["2023-02-29", "2022-00", "0001-01-01T00:30:00+01:00", "2022-01-14T25:00:00Z"]
)
def test_impossible_dates(token: str) -> None:
    e = _error(f"date {token} H".encode())
    assert (e.line, e.message.startswith("impossible date")) == (1, True)


def test_generated_corpus_parses_with_every_block_kind() -> None:
    from feedbot.articles.corpus import generate

    corpus = list(generate(200, seed=1))
    assert corpus == list(generate(200, seed=1))  # deterministic
    articles = [parse(name, data) for name, data in corpus]
    kinds = {b.kind for a in articles for s in a.sections for b in s.blocks}
    assert kinds == set(BlockKind)
    assert {a.language for a in articles} == {"it", "en"}
    assert {len(a.sections) for a in articles} >= {1, 2, 6}
    assert all(
        b.text.split()[-1] in {"video", "ANSA", "Reuters", "Vucci)", "Images", "Doe"}
        for a in articles
        for s in a.sections
        for b in s.blocks
        if b.kind is BlockKind.CAPTION
    )


_CREDIT_WORDS = st.sampled_from(
    [
        "Foto",
        "PHOTO",
        "photos",
        "video",
        "Video",
        "Screengrab",
        "screen",
        "grab",
        "by",
        "di",
        "da",
        "via",
        "courtesy",
        "of",
        "picture",
        "credit",
        "image",
        "immagine",
        "©",
        "Getty",
        "Images",
        "AFP",
        "AP",
        "ap",
        "ansa",
        "EPA",
        "Reuters",
        "Xinhua",
        "Shutterstock",
        "LaPresse",
        ":",
        ".",
        "/",
        ")",
        "(",
        "–",
        "ı",
        "ſ",
        "İ",
        "K",
        "città",
        "x",
        "Almaty",
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(_CREDIT_WORDS, _CREDIT_WORDS, st.text(max_size=6)), min_size=1))
@example(["Il sindaco. Screen grab from Bloomberg"])  # each needs exactly one hint
@example(["Il sindaco. Immagine: Mario Rossi"])
@example(["Il sindaco video di Mario Rossi"])
@example(["Il sindaco, picture courtesy of Mario"])
@example(["Il sindaco, foto di Mario"])
@example(["Il sindaco (Photo by Mario)"])
@example(["Il sindaco. © Mario"])
@example(["Il sindaco. Getty Images"])
@example(["Il sindaco. EPA"])
@example(["Il sindaco (AP)"])
@example(["Il sindaco / AFP"])
@example(["Il sindaco - ANSA"])
@example(["Il sindaco. Reuters"])
@example(["Il sindaco. Xinhua"])
@example(["Il sindaco. Shutterstock"])
@example(["Il sindaco. ſcreen grab by Mario", "Il sindaco pİcture by Mario"])
def test_caption_shortcut_agrees_with_the_credit_patterns(words: list[str]) -> None:
    """The keyword pre-check only skips texts the credit regex would reject anyway."""
    from feedbot.articles.parse import _CAPTION, _CAPTION_TAIL, _CREDIT_HINTS, _is_caption

    assert set(_CREDIT_HINTS) == {name for name, _ in CAPTION_CREDITS}

    text = " ".join(words).replace("( ", "(").strip()
    assume(text and text[-1] not in '.!?:;…"”»' and text.count(" ") < 60)
    expected = _CAPTION.search(text, max(0, len(text) - _CAPTION_TAIL)) is not None
    assert _is_caption(text) is expected


@pytest.mark.parametrize(
    "name",
    ["001_a.txt", "dir/002_b.md", "a\\b\\003_c.txt", "004", ".005", "006.", "007.x.y", "a/..",
     "./008.txt", "a//009.txt", "010.txt/", "/", ".", "", "..x"],
)  # fmt: skip
def test_file_stem_is_the_stem_of_the_path(name: str) -> None:
    assert file_stem(name) == PurePosixPath(name.replace("\\", "/")).stem
