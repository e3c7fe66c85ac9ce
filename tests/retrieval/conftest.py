"""Retrieval fixtures: the real MiniLM embedder (loaded once) and small runbook folders on disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval import ENGINES, MiniLMEmbedder, RunbookIndex, VectorStore, open_store

RUNBOOKS = {
    "bgp.md": "# BGP session down\n\n## Diagnosis\n\nRun bgp_summary and bgp_neighbor; hold timer expired.\n",
    "ospf.md": "# OSPF adjacency stuck\n\n## Diagnosis\n\nRun ospf_neighbors; ExStart means an MTU mismatch.\n",
    "dns.md": "# DNS resolution failure\n\n## Diagnosis\n\nRun dns_lookup for an internal and an external name.\n",
    "cpu.md": "# Router high CPU\n\n## Diagnosis\n\nControl plane CPU at 100 percent; check route churn.\n",
    "loss.md": "# Packet loss\n\n## Diagnosis\n\nRun ping with count 100 and traceroute to find the lossy hop.\n",
    "iface.md": "# Interface errors\n\n## Diagnosis\n\nCRC errors increasing: run interface_status twice.\n",
}
CASES = [
    ("BGP neighbor went down, hold timer expired", "runbooks/bgp.md"),
    ("OSPF neighbor stuck in ExStart", "runbooks/ospf.md"),
    ("cannot resolve names with DNS", "runbooks/dns.md"),
    ("router CPU is at 100 percent", "runbooks/cpu.md"),
    ("pings lose packets across the WAN", "runbooks/loss.md"),
    ("CRC errors on an interface", "runbooks/iface.md"),
]


@pytest.fixture(scope="session")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder.load()


def write_runbooks(folder: Path, docs: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    """Each embedded backend in turn: Qdrant Edge and qdrant-client local mode."""
    opened = open_store(engine=request.param, url=None, path=tmp_path)
    yield opened
    opened.close()


@pytest.fixture
def index(store: VectorStore, embedder: MiniLMEmbedder) -> RunbookIndex:
    return RunbookIndex(store, embedder, name="runbooks")
