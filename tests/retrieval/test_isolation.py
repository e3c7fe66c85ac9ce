"""Tenant isolation and sensitivity labels, as a property over random tenants, clearances and queries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retrieval import ENGINES, SENSITIVITY, MiniLMEmbedder, RunbookIndex, open_store, scan
from tests.retrieval.conftest import write_runbooks

TENANTS = ("acme", "globex", "initech", "umbrella")
TOPICS = ("BGP session down", "OSPF adjacency stuck", "DNS failure", "packet loss", "high CPU", "MTU mismatch")
WORDS = ("bgp", "ospf", "dns", "loss", "cpu", "mtu", "neighbor", "router", "interface", "flap", "timeout", "secret")


def _doc(owner: str, level: str, topic: str) -> str:
    meta = f"tenant: {owner}\nsensitivity: {level}\n" if owner != "global" else f"sensitivity: {level}\n"
    return f"---\n{meta}---\n# {topic} for {owner}\n\n## Diagnosis\n\n{topic}: run the tools, secret {owner}.\n"


@pytest.fixture(scope="module", params=ENGINES)
def shared_index(
    request: pytest.FixtureRequest, embedder: MiniLMEmbedder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunbookIndex]:
    root = tmp_path_factory.mktemp("isolation")
    docs = {
        f"{owner}/{level}/{n}.md": _doc(owner, level, topic)
        for owner in (*TENANTS, "global")
        for level in SENSITIVITY
        for n, topic in enumerate(TOPICS[:3] if owner != "global" else TOPICS)
    }
    folder = write_runbooks(root / "runbooks", docs)
    store = open_store(engine=request.param, url=None, path=root)
    index = RunbookIndex(store, embedder, name="runbooks")
    index.promote(index.build(scan([folder], max_chars=1200)).version, gate=None)
    yield index
    store.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tenant=st.sampled_from((*TENANTS, "nobody")),
    clearance=st.sampled_from(SENSITIVITY),
    words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=5),
    mode=st.sampled_from(("hybrid", "dense", "lexical")),
    top_k=st.integers(min_value=1, max_value=50),
)
def test_a_tenant_never_retrieves_another_tenants_chunk(
    shared_index: RunbookIndex, tenant: str, clearance: str, words: list[str], mode: str, top_k: int
) -> None:
    hits = shared_index.search(tenant, " ".join(words), top_k, clearance=clearance, mode=mode)
    allowed = SENSITIVITY[: SENSITIVITY.index(clearance) + 1]
    for hit in hits:
        owner, level, _ = hit.path.removeprefix("runbooks/").split("/")
        assert owner in {tenant, "global"}, (tenant, hit.path)
        assert level in allowed, (clearance, hit.path)
        assert not any(other in hit.text for other in TENANTS if other != tenant)


def test_a_tenant_sees_its_own_and_global_documents(shared_index: RunbookIndex) -> None:
    hits = shared_index.search("acme", "BGP session down", 50, clearance="restricted", mode="lexical")
    owners = {h.path.split("/")[1] for h in hits}
    assert owners == {"acme", "global"}


def test_sensitive_documents_need_the_clearance(shared_index: RunbookIndex) -> None:
    public = shared_index.search("acme", "BGP session down", 50, clearance="public", mode="lexical")
    assert {h.path.split("/")[2] for h in public} == {"public"}
