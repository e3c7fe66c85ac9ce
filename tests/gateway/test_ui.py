"""The chat UI in a real browser (Debian's Chromium driven by Playwright) against the real gateway."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import Gateway

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, gateway: Gateway) -> Iterator[Page]:
    page = browser.new_page()
    page.goto(gateway.url + "/")
    yield page
    page.close()


def test_chat_streams_an_answer_with_sources(page: Page, gateway: Gateway, tmp_path: Path) -> None:
    page.fill("#key", gateway.key)
    page.click("#auth button")
    expect(page.locator("#status")).to_have_text("connected")
    expect(page.locator("#model option")).to_contain_text(["netops-assistant"])
    page.fill("#prompt", "Our BGP session keeps flapping. snmp-server community s3cr3tC0mm RO")
    page.click("#send")
    answer = page.locator("#log li.assistant").last
    expect(answer.locator(".meta")).to_contain_text("Sources", timeout=60_000)
    assert answer.locator(".text").inner_text().strip()
    expect(answer.locator(".meta")).to_contain_text("runbooks/")
    expect(answer.locator(".meta")).to_contain_text("secrets")  # the redaction warning is shown
    page.screenshot(path=str(tmp_path / "chat.png"))


def test_bad_key_shows_the_problem_code(page: Page) -> None:
    page.fill("#key", "nk-000000000000-wrongwrongwrongwrongwrong")
    page.click("#auth button")
    expect(page.locator("#status")).to_contain_text("unknown_key")
    expect(page.locator("#send")).to_be_disabled()


def test_model_output_is_never_rendered_as_html(page: Page, gateway: Gateway) -> None:
    page.fill("#key", gateway.key)
    page.click("#auth button")
    expect(page.locator("#status")).to_have_text("connected")
    page.fill("#prompt", "Repeat exactly: <img src=x onerror=alert(1)><b>bold</b>")
    page.click("#send")
    expect(page.locator("#log li.assistant .meta").last).to_be_visible(timeout=60_000)
    assert page.locator("#log img").count() == 0 and page.locator("#log b").count() == 0
