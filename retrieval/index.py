"""The runbook index: build from folders, search for a tenant, report status.

Example:
    index = RunbookIndex(store, embedder, collection="runbooks")
    index.build(load_chunks(sources, max_chars=1200))
    hits = index.search("acme", "BGP neighbor stuck in Active", top_k=3)
    hits[0].path, hits[0].heading, hits[0].index_version
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from retrieval.documents import Chunk
from retrieval.embedder import Embedder
from retrieval.errors import IndexUnavailable
from retrieval.store import QdrantStore

__all__ = ["Hit", "IndexStatus", "Retriever", "RunbookIndex"]


@dataclass(frozen=True, slots=True)
class Hit:
    """A retrieved chunk with what a citation needs."""

    path: str
    heading: str
    text: str
    score: float
    index_version: str

    def citation(self) -> dict[str, object]:
        return {
            "path": self.path,
            "heading": self.heading,
            "index_version": self.index_version,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True, slots=True)
class IndexStatus:
    """Whether the index can answer, and what it holds."""

    ready: bool
    version: str
    chunks: int
    detail: str = ""


class Retriever(Protocol):
    """Tenant-scoped search over runbooks."""

    def search(self, tenant: str, query: str, top_k: int) -> list[Hit]: ...

    def status(self) -> IndexStatus: ...


class RunbookIndex:
    """Dense retrieval over one Qdrant collection; its version is a digest of its chunks."""

    def __init__(self, store: QdrantStore, embedder: Embedder, *, collection: str, manifest: Path) -> None:
        self._store = store
        self._embedder = embedder
        self._collection = collection
        self._manifest = manifest

    def build(self, chunks: Iterable[Chunk]) -> IndexStatus:
        """Embed and store every chunk, replacing the collection; write the manifest."""
        items = list(chunks)
        vectors = self._embedder.embed([f"{c.heading}\n{c.text}" for c in items])
        self._store.replace(self._collection, items, vectors, self._embedder.dim)
        digest = hashlib.sha256("".join(sorted(c.checksum for c in items)).encode()).hexdigest()[:12]
        manifest = {
            "version": digest,
            "chunks": len(items),
            "embedder": self._embedder.name,
            "documents": sorted({c.path for c in items}),
        }
        self._manifest.parent.mkdir(parents=True, exist_ok=True)
        self._manifest.write_text(json.dumps(manifest, indent=2))
        return self.status()

    def status(self) -> IndexStatus:
        if not self._manifest.is_file() or not self._store.exists(self._collection):
            return IndexStatus(False, "", 0, "no index built; run `netops index build`")
        version = str(json.loads(self._manifest.read_text())["version"])
        return IndexStatus(True, version, self._store.count(self._collection))

    def search(self, tenant: str, query: str, top_k: int) -> list[Hit]:
        status = self.status()
        if not status.ready:
            raise IndexUnavailable(status.detail)
        vector = self._embedder.embed([query])[0]
        found = self._store.search(self._collection, vector, tenant=tenant, top_k=top_k)
        return [Hit(str(p["path"]), str(p["heading"]), str(p["text"]), score, status.version) for score, p in found]
