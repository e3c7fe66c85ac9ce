"""Authorization at the edges: reserved tenant names, the platform operator, clearance in chat and search,
context guardrails on search results, refusals that name what is missing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.demo import build_index
from gateway.errors import InvalidRequest
from gateway.settings import RetrievalSettings
from routing import Deployment, ModelRequest, StreamEnd, TextDelta
from routing.backend import ModelEvent
from tests.conftest import TenantGateway, one_tenant_gateway

PASSWORD_LINE = " neighbor 192.0.2.2 password 7 0822455D0A16"
RUNBOOKS = {
    "bgp-auth.md": f"---\ntenant: t\n---\n# BGP authentication\n\nThe session to the core:\n{PASSWORD_LINE}\n",
    "break-glass.md": (
        "---\ntenant: t\nsensitivity: confidential\n---\n# Core break-glass access\n\n"
        "Use the break-glass console account for the core routers when TACACS is down.\n"
    ),
}


class Echo:
    """A model backend (our own protocol) that answers 'ok'."""

    async def stream(self, deployment: Deployment, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        yield TextDelta("ok")
        yield StreamEnd("stop", 1, 1)


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TenantGateway]:
    root = tmp_path_factory.mktemp("authz")
    runbooks = root / "runbooks"
    runbooks.mkdir()
    for name, text in RUNBOOKS.items():
        (runbooks / name).write_text(text)
    retrieval = RetrievalSettings(sources=[runbooks], eval_set=None)
    tools = ("bgp_summary", "interface_shutdown")
    with one_tenant_gateway(root / "data", "http://127.0.0.1:9/v1", Echo(), tools=tools, retrieval=retrieval) as gw:
        build_index(gw.svc, lambda _: None)
        yield gw


def _auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def _search(gw: TenantGateway, key: str, query: str) -> dict[str, Any]:
    response = httpx.post(f"{gw.url}/v1/retrieval/search", json={"query": query}, headers=_auth(key), timeout=60)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_reserved_tenant_names_are_refused(gw: TenantGateway) -> None:
    for name in ("global", "platform"):
        with pytest.raises(InvalidRequest, match="reserved"):
            gw.svc.tenants.create(name, models=["*"], tools=[], rpm=1)
    with pytest.raises(InvalidRequest, match="operator"):
        gw.svc.tenants.create_key("t", role="operator")


def test_search_results_pass_the_tenants_context_guardrails(gw: TenantGateway) -> None:
    body = _search(gw, gw.key, "BGP authentication password for the core session")
    texts = [r["text"] for r in body["results"] if r["path"].endswith("bgp-auth.md")]
    assert texts and "0822455D0A16" not in texts[0] and "<SECRET:" in texts[0]


def test_chat_and_search_use_the_keys_own_clearance(gw: TenantGateway) -> None:
    approver = gw.svc.tenants.create_key("t", role="approver").plaintext
    question = "break-glass console account for the core routers"
    for key, sees in ((gw.key, False), (approver, True)):
        paths = {r["path"] for r in _search(gw, key, question)["results"]}
        assert any(p.endswith("break-glass.md") for p in paths) is sees
        ask = {"model": "netops-assistant", "messages": [{"role": "user", "content": question}]}
        answer = httpx.post(f"{gw.url}/v1/chat/completions", json=ask, headers=_auth(key), timeout=60).json()
        cited = {c["path"] for c in answer["netops"]["citations"]}
        assert any(p.endswith("break-glass.md") for p in cited) is sees


def test_a_refused_tool_names_what_is_missing(gw: TenantGateway) -> None:
    args = {"arguments": {"device": "r1", "interface": "eth0"}}
    by_role = httpx.post(f"{gw.url}/v1/tools/interface_shutdown/invoke", json=args, headers=_auth(gw.key))
    assert by_role.status_code == 403 and "role 'user'" in by_role.json()["detail"]
    not_granted = httpx.post(f"{gw.url}/v1/tools/ping/invoke", json=args, headers=_auth(gw.key))
    assert not_granted.status_code == 403 and "not granted to tenant 't'" in not_granted.json()["detail"]


def test_platform_endpoints_need_the_operator_not_a_tenant_admin(gw: TenantGateway) -> None:
    admin = gw.svc.tenants.create_key("t", role="admin").plaintext
    operator = gw.svc.tenants.create_key("platform", role="operator").plaintext
    for path in ("/v1/routing/status", "/metrics"):
        assert httpx.get(f"{gw.url}{path}", headers=_auth(admin)).status_code == 403
        assert httpx.get(f"{gw.url}{path}", headers=_auth(operator)).status_code == 200
    assert httpx.get(f"{gw.url}/metrics").status_code == 401
    chat = {"model": "smollm2", "messages": [{"role": "user", "content": "hi"}]}
    refused = httpx.post(f"{gw.url}/v1/chat/completions", json=chat, headers=_auth(operator))
    assert refused.status_code == 403, "the platform tenant has no models"


def test_the_scrape_token_reads_metrics(tmp_path: Path) -> None:
    with one_tenant_gateway(tmp_path, "http://127.0.0.1:9/v1", Echo(), server={"metrics_token": "scrape-me"}) as gw:
        assert httpx.get(f"{gw.url}/metrics", headers=_auth("scrape-me")).status_code == 200
        assert httpx.get(f"{gw.url}/metrics", headers=_auth("scrape-you")).status_code == 401
