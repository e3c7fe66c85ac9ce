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
