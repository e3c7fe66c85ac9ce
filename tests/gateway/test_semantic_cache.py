"""The semantic cache on the real embedder and embedded Qdrant: never a shared answer between questions that
differ in an entity (the near-duplicate set, goal 0), paraphrases with the same entities share one, nothing
crosses tenants or scopes, and a paraphrase through the gateway is answered from it."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.cache import entities
from gateway.settings import CacheSettings
from retrieval import MiniLMEmbedder, open_store
from retrieval.semantic import SemanticCache
from tests.conftest import ModelEndpoint, TenantGateway, one_tenant_gateway
from tests.gateway.test_cache import ask
from tests.gateway.test_errors import netops_field

PAIRS = Path(__file__).resolve().parents[2] / "evals" / "data" / "semantic_cache.jsonl"
THRESHOLD = CacheSettings().semantic_threshold


@pytest.fixture(scope="module")
def memory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SemanticCache]:
    store = open_store(engine="edge", url=None, path=tmp_path_factory.mktemp("semantic"))
    yield SemanticCache(store, MiniLMEmbedder.load(threads=1), name="sem", ttl_s=600, max_entries=1000)
    store.close()


def test_no_false_hit_on_the_near_duplicate_set(memory: SemanticCache) -> None:
    cases = [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]
    false_hits, shared = [], 0
    for n, case in enumerate(cases):
        scope = f"scope-{n}"  # one scope per pair: each pair is judged alone
        memory.remember("t", scope, case["first"], entities(case["first"]), {"answer": case["first"]})
        found = memory.recall("t", scope, case["second"], entities(case["second"]), threshold=THRESHOLD)
        if found is not None and not case["share"]:
            false_hits.append(case)
        shared += found is not None and case["share"]
    assert false_hits == []
    paraphrases = sum(c["share"] for c in cases)
    assert paraphrases >= 10 and shared >= paraphrases * 0.6, f"{shared} of {paraphrases} paraphrases hit"


def test_a_recall_never_crosses_tenants_or_scopes(memory: SemanticCache) -> None:
    question = "BGP neighbor down on r7. What do I check first?"
    memory.remember("acme", "s1", question, entities(question), {"answer": 1})
    assert memory.recall("acme", "s1", question, entities(question), threshold=THRESHOLD) is not None
    assert memory.recall("other", "s1", question, entities(question), threshold=THRESHOLD) is None
    assert memory.recall("global", "s1", question, entities(question), threshold=THRESHOLD) is None
    assert memory.recall("acme", "s2", question, entities(question), threshold=THRESHOLD) is None


def test_entities_keep_order_protocols_and_names() -> None:
    assert entities("Packet loss from r1 to 10.0.0.1") == ("r1", "10.0.0.1")
    assert entities("bgp down on edge", ["edge"]) == ("bgp", "edge")
    assert entities("What is wrong with Gi0/1 on core-sw-01?") == ("gi0/1", "core-sw-01")
    assert entities("Why is the link to Paris down? I checked.") == ("paris",)


@pytest.fixture(scope="module")
def gw(model: ModelEndpoint, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TenantGateway]:
    root = tmp_path_factory.mktemp("semantic-gw")
    with one_tenant_gateway(root / "data", model.url, cache=CacheSettings()) as gw:
        yield gw


def test_a_paraphrase_is_answered_from_the_semantic_cache(gw: TenantGateway) -> None:
    device = f"r{uuid.uuid4().int % 900 + 100}"
    first = ask(gw, f"BGP neighbor down on {device}. What do I check first?", model="smollm2")
    assert netops_field(first).get("cache") is None
    paraphrase = f"BGP neighbor is down on {device} - what should I check first?"
    other = f"BGP neighbor down on {device}0. What do I check first?"
    stored = {"cache": "semantic"}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not gw.svc.metrics.registry.get_sample_value(
        "netops_cache_stores_total", stored
    ):  # remembered in the background, after the answer
        time.sleep(0.2)
    report = netops_field(ask(gw, paraphrase, model="smollm2"))
    assert report["cache"]["kind"] == "semantic" and report["cache"]["similarity"] >= THRESHOLD
    assert report["cache"]["source_request_id"] == first.headers["x-request-id"]
    assert netops_field(ask(gw, other, model="smollm2")).get("cache") is None  # another device: never shared
