"""The chat UI's thumbs up / down in a real browser: a vote reaches `POST /v1/feedback`, is booked against the
prompt version that answered, and is shown again when the conversation is reopened. The model backend is
scripted through our own `ModelBackend` protocol (the vote, not the answer, is under test)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from gateway.rollout_model import Counters
from routing import Deployment, ModelRequest, StreamEnd, TextDelta
from tests.conftest import TenantGateway, one_tenant_gateway
from tests.gateway.ui_support import ask, connect, shot


class EchoModel:
    """Answers every request with the last message (our own backend protocol)."""

    async def stream(self, deployment: Deployment, request: ModelRequest) -> AsyncIterator[TextDelta | StreamEnd]:
        yield TextDelta(f"You said: {request.messages[-1]['content']}")
        yield StreamEnd("stop", 5, 5)


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TenantGateway]:
    with one_tenant_gateway(tmp_path_factory.mktemp("ui-feedback"), "http://127.0.0.1:9/v1", EchoModel()) as gw:
        yield gw


@pytest.fixture
def echo_page(browser: Browser, echo: TenantGateway) -> Iterator[Page]:
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    page.goto(echo.url + "/")
    connect(page, echo.key)
    yield page
    page.close()


def test_a_thumbs_up_is_booked_for_the_answer_and_kept_with_the_conversation(
    echo_page: Page, echo: TenantGateway
) -> None:
    page = echo_page
    version = echo.svc.rollouts.in_force("t")
    before = echo.svc.rollouts.counters("").get(("t", version), Counters())
    ask(page, "is r1 up?")
    answer = page.locator("#log li.assistant").last
    up = answer.get_by_role("button", name="Helpful answer", exact=True)
    down = answer.get_by_role("button", name="Unhelpful answer", exact=True)
    expect(up).to_have_attribute("aria-pressed", "false", timeout=30_000)
    down.click()
    expect(down).to_have_attribute("aria-pressed", "true")
    up.click()
    expect(up).to_have_attribute("aria-pressed", "true")
    expect(down).to_have_attribute("aria-pressed", "false")
    after = echo.svc.rollouts.counters("")[("t", version)]
    assert (after.thumbs_up - before.thumbs_up, after.thumbs_down - before.thumbs_down) == (1, 0)
    shot(page, "feedback")
    page.reload()
    connect(page, echo.key)
    kept = page.locator("#log li.assistant").last.get_by_role("button", name="Helpful answer", exact=True)
    expect(kept).to_have_attribute("aria-pressed", "true")
