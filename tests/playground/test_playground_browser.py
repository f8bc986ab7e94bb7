"""The playground in a real browser: Debian's chromium, headless, driven by Playwright.

`feedbot run` starts as a subprocess on a temporary index; the test chats with the
bot the way a newcomer would and saves screenshots (desktop and mobile, private
chat and settings menu) under ``test-artifacts/playground/`` (printed). Chromium
is installed with apt-get when missing (as the container test installs podman);
Playwright cannot download its own browser here, so it is pointed at
/usr/bin/chromium. Outside CI a machine that cannot run it skips with the reason;
in CI (``CI=true``) that is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT
from tests.daemonkit import Daemon
from tests.waiting import until

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts" / "playground"
USER, GROUP = 7001, -1001000000101
BOT = "feedbot_playground_bot"
ARTICLE = (
    "date 2026-11-24 Rivers rise after a week of rain\n\n"
    'Evil <img src=x onerror="window.__xss=1"> and <script>window.__xss=2</script> text '
    "stays text. The rivers rose all week.\n\nWhat next\n\nMore rain is expected.\n"
)


def _cannot(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"the browser test cannot run in CI: {reason}")
    pytest.skip(reason)


def _ensure_chromium() -> None:
    if os.path.exists(CHROMIUM):
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        _cannot(f"{CHROMIUM} is missing (apt-get install chromium as root)")
    for args in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
    ):
        done = subprocess.run(args, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            _cannot(f"{' '.join(args)} failed: {done.stderr[-500:]}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _ensure_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _cannot("playwright is not installed (make deps)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


class Feedbot:
    """`feedbot run` on a temporary index with the playground on (no token, loopback)."""

    def __init__(self, tmp: Path) -> None:
        self.index = tmp / "index"
        self.index.mkdir()
        env = {
            "FEEDBOT_INDEX__PATH": str(self.index),
            "FEEDBOT_STORAGE__PATH": str(tmp / "var" / "feedbot.sqlite3"),
            "FEEDBOT_HTTP__PORT": "0",
            "FEEDBOT_INDEX__SETTLE_MS": "100",
        }
        self.daemon = Daemon(tmp, env)
        found = self.daemon.wait_for(r"playground (http://\S+/playground/)", timeout=30)
        self.url = found.group(1)

    def drop(self, name: str, text: str) -> None:
        tmp = self.index / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.index / name)

    def stop(self) -> None:
        try:
            self.daemon.stop(timeout=15)
        finally:
            self.daemon.kill()


@pytest.fixture
def feedbot(tmp_path: Path) -> Iterator[Feedbot]:
    f = Feedbot(tmp_path)
    yield f
    f.stop()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def send(page: Any, text: str) -> None:
    page.fill("#text", text)
    page.press("#text", "Enter")


def test_chatting_with_the_bot_in_the_browser(browser: Any, feedbot: Feedbot) -> None:
    from playwright.sync_api import expect

    print(f"\nplayground screenshots: {ARTIFACTS}")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(15000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(feedbot.url)
    expect(page.locator("#chat-title")).to_have_text("feedbot")  # the private chat opens first
    send(page, "/start")
    expect(page.locator(".message.bot").last).to_contain_text("Welcome to feedbot!")

    feedbot.drop("001_0123456789abcdef.txt", ARTICLE)
    headline = page.locator(".message.bot b", has_text="Rivers rise after a week of rain")
    expect(headline).to_be_visible()
    post = page.locator(".message.bot").last
    link = post.locator('a[href$="/articles/001_0123456789abcdef.html"]')
    expect(link).to_be_visible()
    expect(post).to_contain_text('<img src=x onerror="window.__xss=1">')
    assert page.evaluate("window.__xss") is None
    assert page.locator("#messages img, #messages script").count() == 0
    shot(page, "private-desktop")

    page.click("#menu-button")  # the command menu, from getMyCommands
    page.click("#menu button:has-text('/settings')")
    menu = page.locator(".message.bot", has=page.locator(".keyboard"))
    expect(menu).to_contain_text("Settings of this chat")
    message_id = menu.get_attribute("data-id")
    shot(page, "settings-desktop")
    menu.locator(".keyboard button", has_text="Italiano").click()
    same = page.locator(f'.message.bot[data-id="{message_id}"]')
    expect(same).to_contain_text("Impostazioni di questa chat")
    expect(same.locator(".meta")).to_contain_text("edited")
    assert same.count() == 1 and same.locator(".keyboard").count() == 1  # the menu stays

    page.click(f'.chat[data-chat="{GROUP}"]')
    page.select_option("#role", "member")
    expect(page.locator(f'.chat[data-chat="{GROUP}"]')).to_have_class(re.compile("active"))
    page.wait_for_function("() => !document.querySelector('#role-box').hidden")
    send(page, "/start")
    expect(page.locator(".message.bot").last).to_contain_text(
        "Only the administrators of this group can do that."
    )
    assert errors == []

    mobile = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    mobile.set_default_timeout(15000)
    mobile.goto(feedbot.url)
    mobile.click(f'.chat[data-chat="{USER}"]')
    expect(mobile.locator("#messages .message").first).to_be_visible()
    shot(mobile, "private-mobile")
    send(mobile, "/settings")
    expect(mobile.locator(".message.bot .keyboard").last).to_be_visible()
    shot(mobile, "settings-mobile")


def test_inline_mode_in_the_composer(browser: Any, feedbot: Feedbot) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(15000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    asked: list[str] = []

    def on_request(request: Any) -> None:
        if request.url.endswith("/api/inline"):
            asked.append(request.post_data)

    page.on("request", on_request)
    feedbot.drop("001_0123456789abcdef.txt", ARTICLE)
    for n in range(2, 12):  # eleven about rivers: a page of ten and one more
        feedbot.drop(
            f"{n:03d}_0123456789ab{n:04d}.txt", f"date 2026-11-{n:02d} Rivers {n}\n\nRivers.\n"
        )
    feed = feedbot.url.removesuffix("playground/") + "feed.atom"
    until(lambda: httpx.get(feed, timeout=10).text.count("<entry>") == 11, what="11 entries")
    page.goto(feedbot.url)

    page.click(f'.chat[data-chat="{GROUP}"]')
    page.fill("#text", f"@{BOT} rivers")
    expect(page.locator("#inline .result")).to_have_count(10)
    page.click("#inline .more")  # the next page (the answer's next_offset)
    expect(page.locator("#inline .result")).to_have_count(11)
    expect(page.locator("#inline .more")).to_have_count(0)
    result = page.locator("#inline .result", has_text="Rivers rise after a week of rain")
    expect(result.locator(".title")).to_have_text("Rivers rise after a week of rain")
    expect(result.locator(".description")).to_contain_text('<img src=x onerror="window.__xss=1">')
    assert page.locator("#inline img, #inline script").count() == 0
    shot(page, "inline-results")
    result.click()
    expect(page.locator("#inline")).to_be_hidden()
    sent = page.locator(".message.user").last
    expect(sent.locator(".via")).to_have_text(f"via @{BOT}")
    expect(sent.locator("b")).to_have_text("Rivers rise after a week of rain")
    expect(sent.locator('a[href$="/articles/001_0123456789abcdef.html"]')).to_be_visible()
    assert page.locator("#text").input_value() == ""
    shot(page, "inline-sent")

    page.fill("#text", f"@{BOT} ")  # nothing typed after the name: the newest articles
    expect(page.locator("#inline .result").first).to_contain_text("Rivers rise after a week")
    expect(page.locator("#inline .result")).to_have_count(10)
    page.press("#text", "Escape")
    expect(page.locator("#inline")).to_be_hidden()
    before = len(asked)
    page.type("#text", "rivers")  # typing opens it again; up/down and Enter choose
    expect(page.locator("#inline .result")).to_have_count(10)
    assert len(asked) == before + 1 and '"query":"rivers"' in asked[-1]  # typed fast: one
    page.press("#text", "ArrowDown")
    expect(page.locator("#inline .result.active")).to_have_count(1)
    page.press("#text", "Enter")
    expect(page.locator(".message.user .via")).to_have_count(2)
    expect(page.locator("#inline")).to_be_hidden()

    send(page, f"@{BOT} plain words")  # Enter with nothing chosen sends the text
    expect(page.locator(".message.user").last).to_have_text(re.compile(f"^@{BOT} plain words"))
    assert page.evaluate("window.__xss") is None and errors == []
