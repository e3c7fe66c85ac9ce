"""`POST /v1/retrieval/search` on the real gateway: the caller's tenant from the key, citations with the version."""

from __future__ import annotations

import httpx

from tests.conftest import Gateway


def _search(gateway: Gateway, body: dict[str, object], key: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {key or gateway.key}"}
    return httpx.post(f"{gateway.v1}/retrieval/search", json=body, headers=headers, timeout=60)


def test_search_returns_ranked_chunks_with_path_heading_and_version(gateway: Gateway) -> None:
    reply = _search(gateway, {"query": "OSPF neighbor stuck in ExStart", "top_k": 3})
    assert reply.status_code == 200, reply.text
    results = reply.json()["results"]
    live = gateway.svc.retriever.status().version
    assert results[0]["path"] == "runbooks/network/ospf-adjacency-stuck.md"
    assert all(r["index_version"] == live and r["heading"] and "score" in r for r in results)


def test_the_tenant_cannot_be_chosen_in_the_body(gateway: Gateway) -> None:
    reply = _search(gateway, {"query": "BGP", "tenant": "other"})
    assert reply.status_code == 422


def test_a_blank_query_is_a_clean_client_error(gateway: Gateway) -> None:
    reply = _search(gateway, {"query": "   "})
    assert reply.status_code == 422 and reply.headers["content-type"].startswith("application/problem+json")


def test_sensitive_runbooks_need_a_key_with_the_clearance(gateway: Gateway) -> None:
    tenants = gateway.svc.tenants
    if not tenants.exists("clearance"):
        tenants.create("clearance", models=["*"], tools=[], rpm=600)
    user = tenants.create_key("clearance", label="user", role="user").plaintext
    admin = tenants.create_key("clearance", label="admin", role="admin").plaintext
    body = {"query": "break-glass emergency access to a core router console", "top_k": 10}
    as_user = {r["path"] for r in _search(gateway, body, user).json()["results"]}
    as_admin = {r["path"] for r in _search(gateway, body, admin).json()["results"]}
    runbook = "runbooks/network/core-router-break-glass.md"
    assert runbook in as_admin and runbook not in as_user
