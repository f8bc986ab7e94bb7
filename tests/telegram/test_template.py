"""``telegram.template``, the button and the link preview: the default template is today's
post, a template that errs stops the daemon at start-up (exit 2, one line), any template's
output is split into valid pieces, an article the template fails for (any exception, or a
message Telegram would refuse) gets the built-in post, and the button and preview reach
Telegram."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedbot.articles.corpus import generate
from feedbot.articles.parse import parse
from feedbot.config import FeedSettings
from feedbot.errors import ConfigError
from feedbot.fakegram import FakeBotAPI
from feedbot.publish.feeds import article_url
from feedbot.store import Store
from feedbot.telegram.render.messages import MAX_MESSAGE, render_post, utf16_len
from feedbot.telegram.render.parse_html import parse_telegram_html
from feedbot.telegram.render.template import DEFAULT_TEMPLATE, PostRenderer, split_html
from tests.botkit import TOKEN
from tests.conftest import ROOT, SEED
from tests.daemonkit import Daemon as FeedDaemon
from tests.storekit import deliveries_for, off_loop
from tests.telegram.test_editing import article_text, desk_for, fake  # noqa: F401 (fixtures)
from tests.waiting import until_async

FEED = FeedSettings(base_url="https://news.example.org/", title="Test News")


@pytest.mark.parametrize("language", ["en", "it"])
def test_the_default_template_is_todays_post_byte_for_byte(language: str) -> None:
    templated = PostRenderer(FEED, DEFAULT_TEMPLATE)
    articles = [parse(SEED.name, SEED.read_bytes())]
    articles += [parse(name, data) for name, data in generate(60, seed=11)]
    compared = 0
    for article in articles:
        url = article_url(FEED, article.id)
        today = render_post(article, url=url, language=language)
        if len(today) > 1:
            continue  # the built-in splitter and the generic one may cut elsewhere
        assert templated(article, language) == today, article.id
        compared += 1
    assert compared >= 40


def test_a_template_sees_escaped_values_and_the_button_can_replace_the_link() -> None:
    article = parse("001_x.txt", b"date 2026-11-20T08:00:00Z Tom & Jerry <live>\n\nBody. More.\n")
    renderer = PostRenderer(FEED, "{{ headline }} | {{ feed_title }} | {{ date_iso }} | {{ url }}")
    [post] = renderer(article, "en")
    assert post == (
        "Tom &amp; Jerry &lt;live&gt; | Test News | 2026-11-20T08:00:00Z | "
        "https://news.example.org/articles/001_x.html"
    )
    [no_link] = PostRenderer(FEED, None, link=False)(article, "it")
    assert no_link.startswith("<b>Tom &amp; Jerry &lt;live&gt;</b>\n20 novembre 2026")
    assert "<a " not in no_link


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{{ headline ", "telegram.template (line 1): unexpected end of template"),
        ("<p>{{ headline }}</p>", 'invalid Telegram HTML: Unsupported start tag "p"'),
        ("{{ headline.__class__.__mro__ }}", "SecurityError"),
        ("{% if false %}x{% endif %}", "makes an empty post"),
        ("<b> </b>\n<i>\n</i>", "makes an empty post"),
        ("{{ range(10**9)|list }}", "raised OverflowError: Range too big"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "raised RecursionError"),
        ("{{ 1 // (headline|length * 0) }}", "raised ZeroDivisionError"),
        ("{% for i in range(99999) %}{{ lead }}\n\n{% endfor %}", "longer than 10 messages"),
    ],
)
def test_a_bad_template_is_a_config_error_naming_the_problem(template: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        PostRenderer(FEED, template).check()
    assert problem in str(caught.value)
    assert "\n" not in str(caught.value)


# Fine on the sample article (three sections, a headline without "Boom"), not on every one.
ONLY_LONG = "{% if sections|length > 2 %}<b>{{ headline }}</b>{% endif %}"
BOOM = (
    '{% if "Boom" in headline %}{{ range(10**9)|list }}{% endif %}'
    "<b>{{ headline }}</b>{% for s in sections %}\n{{ s.summary }}{% endfor %}"
)


@pytest.mark.parametrize(
    ("template", "text", "why"),
    [
        (ONLY_LONG, b"date 2026-11-20 Only a lead\n\nThe lead. Nothing more.\n", "empty post"),
        (BOOM, b"date 2026-11-20 Boom in the port\n\nThe lead. Nothing more.\n", "Overflow"),
        (
            '{% if "Boom" not in headline %}<b>{% endif %}{{ headline }}</b>',
            b"date 2026-11-20 Boom in the port\n\nThe lead. Nothing more.\n",
            "invalid Telegram HTML",
        ),
        (
            '{% for i in range(99999 if "Boom" in headline else 1) %}{{ headline }} {% endfor %}',
            b"date 2026-11-20 Boom in the port\n\nThe lead. Nothing more.\n",
            "longer than 10 messages",
        ),
    ],
)
def test_an_article_the_template_fails_for_gets_the_built_in_post_logged_once(
    template: str, text: bytes, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    renderer = PostRenderer(FEED, template)
    renderer.check()  # the sample article passes
    article = parse("001_0000000000000001.txt", text)
    url = article_url(FEED, article.id)
    for _ in range(3):  # every language, again and again: one log line
        for language in ("en", "it"):
            assert renderer(article, language) == render_post(article, url=url, language=language)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    message = errors[0].getMessage()
    assert article.id in message and why in message and "built-in post" in message


def test_an_over_long_template_is_split_into_valid_pieces() -> None:
    article = parse(SEED.name, SEED.read_bytes())
    template = "{% for i in range(40) %}<b>{{ headline }}</b> <i>{{ lead }}</i>\n\n{% endfor %}"
    pieces = PostRenderer(FEED, template)(article, "it")
    assert len(pieces) > 2
    texts = [parse_telegram_html(p)[0] for p in pieces]
    assert all(0 < utf16_len(t) <= MAX_MESSAGE for t in texts)
    assert all(p.startswith("<b>") for p in pieces)  # cut between blocks, not inside one
    assert " ".join(" ".join(texts).split()).count(" ".join(article.headline.split())) == 40


_TAGGED = st.sampled_from(["b", "i", "u", "s", "code", "tg-spoiler", "blockquote"])
_WORDS = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=60
)


@st.composite
def telegram_html(draw: st.DrawFn) -> str:
    """Random valid Telegram HTML: text runs, some wrapped in a tag or a link."""
    out: list[str] = []
    for _ in range(draw(st.integers(1, 120))):
        words = draw(_WORDS).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        kind = draw(st.sampled_from(["plain", "tag", "link", "break"]))
        if kind == "tag":
            tag = draw(_TAGGED)
            out.append(f"<{tag}>{words}</{tag}>")
        elif kind == "link":
            out.append(f'<a href="https://x.example/{len(words)}">{words}</a>')
        elif kind == "break":
            out.append(draw(st.sampled_from(["\n", "\n\n", ". ", " "])))
        else:
            out.append(words)
    return "".join(out)


@settings(max_examples=200, deadline=None)
@given(telegram_html(), st.integers(min_value=20, max_value=600))
def test_split_html_keeps_every_piece_valid_and_within_the_limit(html: str, limit: int) -> None:
    text, _ = parse_telegram_html(html)
    if not text.strip():
        return
    pieces = split_html(html, limit)
    seen = []
    for piece in pieces:
        shown, _ = parse_telegram_html(piece)  # valid Telegram HTML
        assert utf16_len(shown) <= limit
        seen.append(shown)
    assert "".join("".join(seen).split()) == "".join(text.split())  # nothing lost


def test_a_daemon_with_a_bad_template_exits_2_with_one_line_before_sending(
    tmp_path: Path,
) -> None:
    index = tmp_path / "index"
    index.mkdir()
    api = FakeBotAPI(TOKEN).start_in_thread()
    try:
        env = {
            "FEEDBOT_INDEX__PATH": str(index),
            "FEEDBOT_STORAGE__PATH": str(tmp_path / "var" / "db.sqlite3"),
            "FEEDBOT_HTTP__PORT": "0",
            "FEEDBOT_TELEGRAM__TOKEN": TOKEN,
            "FEEDBOT_TELEGRAM__API_BASE_URL": api.base_url,
            "FEEDBOT_TELEGRAM__TEMPLATE": "<b>{{ headline }}",
        }
        d = FeedDaemon(tmp_path, env)
        try:
            assert d.proc.wait(timeout=30) == 2
            d.finish_log()
            lines = [line for line in d.log.splitlines() if line.strip()]
            assert len(lines) == 1, d.log
            assert lines[0].startswith("feedbot: error: telegram.template makes invalid Telegram")
            assert 'Can\'t find end tag corresponding to start tag "b"' in lines[0]
        finally:
            d.kill()
        assert api.requests == []  # nothing reached Telegram
    finally:
        api.stop_thread()


@pytest.mark.parametrize(
    "template",
    ["{{ range(10**9)|list }}", "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"],
    ids=["overflow", "recursion"],
)
def test_a_template_raising_any_error_stops_the_daemon_with_one_line(
    tmp_path: Path, template: str
) -> None:
    index = tmp_path / "index"
    index.mkdir()
    api = FakeBotAPI(TOKEN).start_in_thread()
    try:
        env = {
            "FEEDBOT_INDEX__PATH": str(index),
            "FEEDBOT_STORAGE__PATH": str(tmp_path / "var" / "db.sqlite3"),
            "FEEDBOT_HTTP__PORT": "0",
            "FEEDBOT_TELEGRAM__TOKEN": TOKEN,
            "FEEDBOT_TELEGRAM__API_BASE_URL": api.base_url,
            "FEEDBOT_TELEGRAM__TEMPLATE": template,
        }
        d = FeedDaemon(tmp_path, env)
        try:
            line = d.refused()
            assert line.startswith("feedbot: error: telegram.template raised "), d.log
            assert "Traceback" not in d.log and TOKEN.split(":")[1] not in d.log
        finally:
            d.kill()
        assert api.requests == []  # nothing reached Telegram
    finally:
        api.stop_thread()


def test_preview_with_a_template_raising_any_error_exits_2_with_one_line(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FEEDBOT_")},
        "PYTHONPATH": str(ROOT),
        "FEEDBOT_TELEGRAM__TEMPLATE": "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "feedbot", "preview", str(SEED)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("feedbot: error: telegram.template raised RecursionError: maximum")


async def test_articles_the_template_fails_for_are_sent_and_corrected_with_the_built_in_post(
    desk_for: Callable[..., Any],  # noqa: F811
    fake: FakeBotAPI,  # noqa: F811
    store: Store,
    caplog: pytest.LogCaptureFixture,
) -> None:
    template = (
        '{% if "Boom" in headline %}{{ range(10**9)|list }}{% endif %}'
        "{% if sections|length > 2 %}<b>{{ headline }}</b>"
        "{% for s in sections %}\n{{ s.summary }}{% endfor %}{% endif %}"
    )
    async with desk_for(chats=2, template=template) as desk:
        long, lead_only, boom = (
            article_text("Three sections", 2),  # the template's own post
            article_text("Only a lead"),  # the template renders nothing
            article_text("Boom in the port", 2),  # the template raises OverflowError
        )
        names = [await desk.publish(text) for text in (long, lead_only, boom)]

        def settled() -> bool:
            rows = [r for n in names for r in deliveries_for(store, n)]
            return len(rows) == 6 and all(r["status"] in ("sent", "failed") for r in rows)

        await until_async(settled, timeout=20)
        rows = [r for n in names for r in await off_loop(deliveries_for, store, n)]
        assert {r["status"] for r in rows} == {"sent"}, [(r["chat"], r["error"]) for r in rows]
        for chat in (1, 2):
            templated, *built_in = fake.texts(chat)
            assert templated.startswith("<b>Three sections</b>\nThe lead paragraph")
            assert "Read the article" not in templated
            assert built_in == [*desk.pieces(names[1], lead_only), *desk.pieces(names[2], boom)]

        await desk.save(names[0], article_text("Three sections, now only a lead"))
        await desk.corrected(names[0])
        shown = [p.text for p in fake.done("editmessagetext")]
        assert shown == desk.pieces(names[0], article_text("Three sections, now only a lead")) * 2
    failed = [r for r in caplog.records if "telegram.template failed" in r.getMessage()]
    assert {r.levelno for r in failed} == {logging.ERROR}
    logged = [r.getMessage().split()[4] for r in failed]  # once per article (version)
    assert len(logged) == 3 and set(logged[:2]) == set(names[1:]) and logged[2] == names[0]


async def test_the_button_and_the_preview_reach_telegram_and_survive_an_edit(
    desk_for: Callable[..., Any],  # noqa: F811
    fake: FakeBotAPI,  # noqa: F811
) -> None:
    async with desk_for(chats=1, button="beside", link_preview="large-above") as desk:
        name = await desk.publish(article_text("With a button"))
        await desk.sent(name)
        await desk.save(name, article_text("With a button, edited"))
        await desk.corrected(name)
    url = article_url(desk.settings.feed, name)
    [sent] = fake.sent
    assert sent.params["reply_markup"] == {
        "inline_keyboard": [[{"text": "Read the article", "url": url}]]
    }
    preview = sent.params["link_preview_options"]
    assert preview["url"] == url and preview["prefer_large_media"] is True
    assert preview["show_above_text"] is True
    [edit] = fake.done("editmessagetext")
    assert edit.params["reply_markup"] == sent.params["reply_markup"]
    assert "With a button, edited" in edit.text and f'href="{url}"' in edit.text


def test_the_readme_shows_the_default_template() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = readme.split("```jinja\n", 1)[1].split("```", 1)[0].rstrip()
    assert "\n".join(line.removeprefix("  ") for line in block.splitlines()) == DEFAULT_TEMPLATE
