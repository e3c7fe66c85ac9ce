"""Browser fixtures for the chat UI tests: Debian's Chromium through Playwright, one per module, and a page on
the session gateway."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from tests.conftest import Gateway
from tests.gateway.ui_support import chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser: Browser, gateway: Gateway) -> Iterator[Page]:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(gateway.url + "/")
    yield page
    page.close()
