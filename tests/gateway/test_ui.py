"""The chat UI in a real browser (Debian's Chromium driven by Playwright) against the real gateway.

Two gateways: the session one (real llama.cpp model, the demo tenant, its runbook index and inventory) and a
module one whose model backend is scripted through our own `ModelBackend` protocol, for what a 135M model
cannot be made to do on cue (emit `<data>` fences, stream slowly enough to be stopped).
Screenshots of each main state go to `var/test-artifacts/ui/` (git-ignored).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from routing import Deployment, ModelRequest, StreamEnd, TextDelta
from tests.conftest import Gateway, TenantGateway, one_tenant_gateway
from tests.gateway.ui_support import ask, connect, shot

ANSWER_TIMEOUT = 60_000
FENCED = ["Check the ", "<da", 'ta source="r1">BGP state', "</da", "ta> first.\n<DATA>", "Then</data > the logs."]


class ScriptedModel:
    """A model backend (our own protocol) answering by the last message: fences, a slow stream, or an echo."""

    async def stream(self, deployment: Deployment, request: ModelRequest) -> AsyncIterator[TextDelta | StreamEnd]:
        last = str(request.messages[-1]["content"])
        if "fences" in last:
            for piece in FENCED:
                yield TextDelta(piece)
        elif "in detail" in last:
            for step in range(300):
                yield TextDelta(f"step {step} ")
                await asyncio.sleep(0.1)
        else:
            yield TextDelta(f"You said: {last}")
        yield StreamEnd("stop", 10, 10)


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TenantGateway]:
    with one_tenant_gateway(tmp_path_factory.mktemp("ui"), "http://127.0.0.1:9/v1", ScriptedModel()) as gw:
        yield gw


@pytest.fixture
def scripted_page(browser: Browser, scripted: TenantGateway) -> Iterator[Page]:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(scripted.url + "/")
    connect(page, scripted.key)
    yield page
    page.close()


# -- the real model ---------------------------------------------------------------------------------------------


def test_chat_streams_an_answer_with_sources_that_open_the_section(page: Page, gateway: Gateway) -> None:
    connect(page, gateway.key)
    expect(page.locator("#model option")).to_contain_text(["netops-assistant"])
    ask(page, "Our BGP session keeps flapping. snmp-server community s3cr3tC0mm RO")
    answer = page.locator("#log li.assistant").last
    expect(answer.locator(".meta")).to_contain_text("Sources", timeout=ANSWER_TIMEOUT)
    assert answer.locator(".text").inner_text().strip()
    expect(answer.locator(".meta")).to_contain_text("runbooks/")
    expect(answer.locator(".meta")).to_contain_text("secrets")  # the redaction warning is shown
    expect(page.locator("#log li.user")).to_contain_text("<SECRET:")  # kept as the gateway redacted it
    assert "s3cr3tC0mm" not in page.evaluate("JSON.stringify(Object.assign({}, localStorage))")
    shot(page, "chat")

    source = answer.locator("button.source").first
    cited = source.inner_text()
    source.click()
    expect(page.locator("#source")).to_be_visible()
    expect(page.locator("#source-where")).to_contain_text("index runbooks-v")
    assert page.locator("#source-where").inner_text().split(" (index")[0] in cited
    expect(page.locator("#source-text")).not_to_have_text("Loading...")
    assert len(page.locator("#source-text").inner_text()) > 40
    expect(page.locator("#source")).to_be_focused()
    shot(page, "source")
    page.keyboard.press("Escape")  # closes the panel and returns to the source button
    expect(page.locator("#source")).to_be_hidden()
    expect(source).to_be_focused()


def test_bad_key_shows_the_problem_code(page: Page) -> None:
    page.fill("#key", "nk-000000000000-wrongwrongwrongwrongwrong")
    page.click("#auth button")
    expect(page.locator("#status")).to_contain_text("unknown_key")
    expect(page.locator("#send")).to_be_disabled()


def test_model_output_is_never_rendered_as_html(page: Page, gateway: Gateway) -> None:
    connect(page, gateway.key)
    ask(page, "Repeat exactly: <img src=x onerror=alert(1)><b>bold</b>")
    expect(page.locator("#log li.assistant .meta").last).to_be_visible(timeout=ANSWER_TIMEOUT)
    assert page.locator("#log img").count() == 0 and page.locator("#log b").count() == 0


# -- the scripted model -----------------------------------------------------------------------------------------


def test_data_fences_are_never_shown(scripted_page: Page) -> None:
    page = scripted_page
    ask(page, "show me the fences")
    answer = page.locator("#log li.assistant").last
    expect(answer.locator(".meta")).to_be_visible(timeout=ANSWER_TIMEOUT)
    text = answer.locator(".text").inner_text()
    assert "Check the BGP state first." in text and "Then the logs." in text
    assert "<" not in text and "data" not in text.lower()


def test_a_conversation_survives_a_reload_and_is_listed(scripted_page: Page) -> None:
    page = scripted_page
    ask(page, "r1 lost its BGP session to r3")
    expect(page.locator("#log li.assistant .text")).to_contain_text("You said", timeout=ANSWER_TIMEOUT)
    # kept once the answer has ended (the sidebar lists it then): only then reload
    expect(page.locator("#conversations .open")).to_have_text(["r1 lost its BGP session to r3"], timeout=15_000)
    page.reload()
    expect(page.locator("#status")).to_have_text("connected")  # the key is still in this tab's sessionStorage
    expect(page.locator("#conversations .open")).to_have_text(["r1 lost its BGP session to r3"])
    expect(page.locator("#log li.user")).to_have_text(["r1 lost its BGP session to r3"])
    expect(page.locator("#log li.assistant .text")).to_contain_text("You said")
    stored = page.evaluate("JSON.stringify(Object.assign({}, localStorage))")
    assert scripted_key_fragment(page) not in stored  # conversations are kept under a fingerprint, not the key

    page.click("#new-chat")
    expect(page.locator("#log li")).to_have_count(0)
    expect(page.locator("#prompt")).to_be_focused()
    ask(page, "a second incident")
    expect(page.locator("#log li.assistant .meta")).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(page.locator("#conversations .open")).to_have_text(["a second incident", "r1 lost its BGP session to r3"])
    shot(page, "conversations")
    page.click("#conversations .open >> text=r1 lost")
    expect(page.locator("#log li.user")).to_have_text(["r1 lost its BGP session to r3"])
    page.click("[aria-label='Delete conversation: a second incident']")
    expect(page.locator("#conversations .open")).to_have_text(["r1 lost its BGP session to r3"])


def scripted_key_fragment(page: Page) -> str:
    return str(page.evaluate("sessionStorage.getItem('netops-key')"))[3:20]


def test_enter_sends_and_shift_enter_adds_a_line(scripted_page: Page) -> None:
    page = scripted_page
    page.focus("#prompt")
    page.keyboard.type("line one")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("line two")
    assert page.input_value("#prompt") == "line one\nline two"
    expect(page.locator("#log li")).to_have_count(0)
    page.keyboard.press("Enter")
    expect(page.locator("#log li.user .text")).to_have_text("line one\nline two")
    expect(page.locator("#log li.assistant .text")).to_contain_text("You said", timeout=ANSWER_TIMEOUT)
    assert page.input_value("#prompt") == ""


def test_stop_cancels_the_stream(scripted_page: Page, scripted: TenantGateway) -> None:
    page = scripted_page
    ask(page, "Explain the OSPF adjacency checks in detail")
    answer = page.locator("#log li.assistant").last
    expect(answer.locator(".text")).to_contain_text("step 3", timeout=ANSWER_TIMEOUT)
    expect(page.locator("#stop")).to_be_enabled()
    page.click("#stop")
    expect(answer).to_have_class("assistant stopped")
    expect(page.locator("#send")).to_be_enabled()
    expect(page.locator("#stop")).to_be_disabled()
    shown = answer.locator(".text").inner_text()
    page.wait_for_timeout(500)
    assert answer.locator(".text").inner_text() == shown and "step 299" not in shown
    shot(page, "stopped")
    assert wait_for(lambda: aborted(scripted)), "the gateway did not record the stream as aborted"

    ask(page, "Explain the BGP timers in detail")  # Escape in the message box stops too
    second = page.locator("#log li.assistant").last
    expect(second.locator(".text")).to_contain_text("step 1", timeout=ANSWER_TIMEOUT)
    page.press("#prompt", "Escape")
    expect(second).to_have_class("assistant stopped")


def aborted(gw: TenantGateway) -> bool:
    return any(r["kind"] == "request.aborted" for r in gw.svc.audit.records(tenant="t", limit=20))


def wait_for(condition: Callable[[], bool], seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_checks_and_findings_render_from_the_progress_events(scripted_page: Page) -> None:
    """The progress-event contract (`check.start`, `check.end`, `findings`), served as the gateway streams it."""
    page = scripted_page
    page.route("**/v1/chat/completions", lambda route: route.fulfill(status=200, headers=SSE, body=progress_stream()))
    ask(page, "why is r1 not talking to r3?")
    answer = page.locator("#log li.assistant").last
    expect(answer.locator(".meta")).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(answer.locator(".check")).to_have_count(1)
    expect(answer.locator(".check")).to_have_class("check done")
    expect(answer.locator(".check-state")).to_have_text("done in 41 ms")
    problem = answer.locator(".finding.problem")
    expect(problem).to_contain_text("BGP neighbor 10.0.13.2")
    expect(problem.locator("mark")).to_have_text("Idle (Admin)")
    assert answer.locator(".finding").first.get_attribute("class") == "finding problem"  # problems first
    expect(answer.locator("pre.output mark.line.problem")).to_contain_text("10.0.13.2")  # the quoted lines
    expect(answer.locator("pre.output mark.line.ok")).to_contain_text("10.0.12.2")
    expect(answer.locator("pre.output mark.bad")).to_have_text(["Connect"])  # state words elsewhere
    order = answer.evaluate("li => [...li.children].map(c => c.className)")
    assert order.index("findings") < order.index("text")  # findings before the prose
    expect(answer.locator(".text")).to_have_text("r1 shut its session to r3 [1].")
    expect(answer.locator(".meta")).to_contain_text("Not supported by any check")
    expect(answer.locator(".meta")).to_contain_text("the link is down")
    shot(page, "findings")


def test_a_cached_and_degraded_answer_says_so(scripted_page: Page) -> None:
    """An answer from the response cache (no progress events: its checks come with the final chunk, with their
    age) that a fallback deployment had computed."""
    page = scripted_page
    page.route("**/v1/chat/completions", lambda route: route.fulfill(status=200, headers=SSE, body=cached_stream()))
    ask(page, "why is r1 not talking to r3?")
    answer = page.locator("#log li.assistant").last
    expect(answer.locator(".meta")).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(answer.locator(".check-state")).to_have_text("done in 41 ms, from 12 s ago")
    expect(answer.locator(".finding.problem .from")).to_have_text(" (bgp_summary, from 12 s ago)")
    meta = answer.locator(".meta")
    expect(meta).to_contain_text("answered by gpu-b instead of gpu-a (HTTP 503)")
    expect(meta).to_contain_text("answered from the response cache, computed 12 s ago by request 4f2a")
    shot(page, "cached-degraded")


def cached_stream() -> str:
    check = {"name": "bgp_summary", "arguments": {"device": "r1"}, "duration_ms": 41.2, "output": BGP_OUTPUT}
    finding = {
        "severity": "problem",
        "device": "r1",
        "subject": "BGP neighbor 10.0.13.2",
        "fact": "Idle (Admin)",
        "tool": "bgp_summary",
        "evidence": BGP_OUTPUT.splitlines()[2],
        "age_s": 12.3,
    }
    final = {
        "route": "netops-assistant",
        "deployment": "gpu-b",
        "citations": [],
        "tools": [],
        "warnings": [],
        "checks": [{**check, "cached_age_s": 12.3}],
        "findings": [finding],
        "degraded": {"from": "gpu-a", "to": "gpu-b", "reason": "HTTP 503"},
        "cache": {"kind": "response", "age_s": 12.3, "source_request_id": "4f2a", "saved_usd": 0.002},
    }
    chunks: list[dict[str, object]] = [
        {"choices": [{"index": 0, "delta": {"content": "r1 shut its session to r3."}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "netops": final},
    ]
    return "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"


SSE = {"content-type": "text/event-stream", "cache-control": "no-cache"}
BGP_OUTPUT = (
    "Neighbor        V   AS  MsgRcvd MsgSent Up/Down  State/PfxRcd\n"
    "10.0.12.2       4 65002      120     118 01:02:03 Established\n"
    "10.0.13.2       4 65003        0       0 never    Idle (Admin)\n"
    "10.0.14.2       4 65004        0       0 never    Connect"
)


def progress_stream() -> str:
    check = {"id": "c1", "tool": "bgp_summary", "arguments": {"device": "r1"}, "reason": "the question names r1"}
    finding = {
        "severity": "problem",
        "device": "r1",
        "subject": "BGP neighbor 10.0.13.2",
        "fact": "Idle (Admin)",
        "tool": "bgp_summary",
        "evidence": BGP_OUTPUT.splitlines()[2],
    }
    ok = {**finding, "severity": "ok", "subject": "BGP neighbor 10.0.12.2", "fact": "Established"}
    ok["evidence"] = BGP_OUTPUT.splitlines()[1]
    final = {
        "route": "netops-assistant",
        "deployment": "local",
        "citations": [],
        "tools": [],
        "warnings": [],
        "findings": [ok, finding],
        "unsupported": [{"claim": "the link is down", "reason": "no check read the link state"}],
    }
    chunks: list[dict[str, object]] = [
        {"choices": [], "netops": {"event": "check.start", "check": check}},
        {
            "choices": [],
            "netops": {"event": "check.end", "check": {**check, "ok": True, "duration_ms": 41.2, "output": BGP_OUTPUT}},
        },
        {"choices": [], "netops": {"event": "findings", "findings": [ok, finding]}},
        {"choices": [{"index": 0, "delta": {"content": "r1 shut its session <data>to r3</data> [1]."}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "netops": final},
    ]
    return "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"


# -- theme and keyboard -------------------------------------------------------------------------------------------


def test_dark_mode_follows_the_system_and_the_toggle(browser: Browser, scripted: TenantGateway) -> None:
    page = browser.new_page(color_scheme="dark", viewport={"width": 1400, "height": 900})
    page.goto(scripted.url + "/")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert background(page) == "rgb(13, 17, 23)"
    connect(page, scripted.key)
    ask(page, "dark mode check")
    expect(page.locator("#log li.assistant .meta")).to_be_visible(timeout=ANSWER_TIMEOUT)
    shot(page, "dark")
    page.click("#theme")
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    expect(page.locator("#theme")).to_have_attribute("aria-pressed", "false")
    assert background(page) == "rgb(246, 248, 250)"
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")  # the choice is kept
    page.click("#theme")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.close()


def background(page: Page) -> str:
    return str(page.evaluate("getComputedStyle(document.body).backgroundColor"))


def test_everything_is_reachable_by_keyboard(scripted_page: Page) -> None:
    page = scripted_page
    ask(page, "keyboard check")
    expect(page.locator("#log li.assistant .meta")).to_be_visible(timeout=ANSWER_TIMEOUT)
    page.focus("a.skip")  # the first stop on the page
    reached: list[str] = ["skip"]
    for _ in range(40):
        page.keyboard.press("Tab")
        name, outline = page.evaluate(
            "(() => { const e = document.activeElement; if (e === document.body) return ['BODY', ''];"
            " return [e.id || e.className || e.tagName, getComputedStyle(e).outlineStyle]; })()"
        )
        if name == "BODY" or (reached and name == reached[0]):
            break  # out of the page, or round again
        reached.append(name)
        assert outline not in ("", "none"), f"{name} has no visible focus"
    for control in ("key", "model", "theme", "new-chat", "open", "delete", "prompt", "refresh-actions", "approver-key"):
        assert control in reached, f"{control} is not reachable with Tab: {reached}"
