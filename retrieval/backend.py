"""The vector store contract, shared by every backend, and the choice of backend.

Backends (each the only importer of its library):
- `edge` (default, embedded): Qdrant Edge in-process (`retrieval.edge_store`), one shard folder per version,
  the alias in a JSON file replaced atomically. Measured fastest here (see docs/retrieval.md).
- `local`: qdrant-client local mode (`retrieval.store`), pure Python; fine for small corpora and tests.
- a Qdrant server or cluster by URL (`retrieval.store`), for production: real aliases, payload indexes.

Example:
    store = open_store(engine="edge", url=None, path=Path("var/edge"))
    store.create("runbooks-v1", dim=384, metadata={...}); store.upsert("runbooks-v1", items)
    store.point_alias("runbooks", "runbooks-v1")
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from retrieval.documents import Chunk
from retrieval.lexical import SparseVector

__all__ = ["ENGINES", "Query", "Scope", "StoredChunk", "StoredHit", "VectorStore", "open_store"]

ENGINES = ("edge", "local")
StoredHit = tuple[float, dict[str, Any]]
DENSE = "dense"
LEXICAL = "lexical"


@dataclass(frozen=True, slots=True)
class StoredChunk:
    """A chunk with its two vectors."""

    chunk: Chunk
    dense: list[float]
    sparse: SparseVector


@dataclass(frozen=True, slots=True)
class Query:
    """A query in one retrieval mode, `dense` or `lexical` (hybrid fuses the two by document: `RunbookIndex`)."""

    mode: str
    dense: list[float] | None
    sparse: SparseVector | None


@dataclass(frozen=True, slots=True)
class Scope:
    """Who may see what: the tenant (plus `global`) and the sensitivity levels allowed."""

    tenant: str
    levels: tuple[str, ...]


class VectorStore(Protocol):
    """Versioned collections of runbook chunks, an alias per index name, a promote/rollback history.

    A collection is written once (`create`, `upsert`, `set_metadata`) and then only read. `point_alias`
    is atomic: a reader resolving the alias sees the old or the new collection, never neither.
    Every `search` filters server-side by tenant (own + `global`) and sensitivity.
    """

    def close(self) -> None: ...
    def exists(self, collection: str) -> bool: ...
    def count(self, collection: str) -> int: ...
    def collections(self, prefix: str) -> list[str]: ...
    def metadata(self, collection: str) -> dict[str, Any]: ...
    def create(self, collection: str, *, dim: int, metadata: dict[str, Any]) -> None: ...
    def set_metadata(self, collection: str, metadata: dict[str, Any]) -> None: ...
    def delete(self, collection: str) -> None: ...
    def upsert(self, collection: str, items: Sequence[StoredChunk], batch: int = 256) -> None: ...
    def dense_vectors(self, collection: str) -> dict[str, list[float]]: ...
    def alias_target(self, alias: str) -> str | None: ...
    def point_alias(self, alias: str, collection: str) -> None: ...
    def history(self, name: str) -> list[dict[str, Any]]: ...
    def record(self, name: str, entry: dict[str, Any]) -> None: ...
    def search(self, collection: str, query: Query, scope: Scope, *, top_k: int) -> list[StoredHit]: ...


def open_store(*, engine: str, url: str | None, path: Path, api_key: str | None = None) -> VectorStore:
    """A Qdrant server when `url` is set; otherwise the embedded `engine` in `path`."""
    if url or engine == "local":
        from retrieval.store import QdrantStore  # noqa: PLC0415 - imports qdrant_client only when used

        return QdrantStore.open(url=url, path=path / "qdrant", api_key=api_key)
    from retrieval.edge_store import EdgeStore  # noqa: PLC0415 - imports qdrant_edge only when used

    return EdgeStore.open(path / "edge")


def payload_of(chunk: Chunk) -> dict[str, Any]:
    """The stored payload of a chunk (JSON types only)."""
    return {
        "path": chunk.path,
        "heading": chunk.heading,
        "text": chunk.text,
        "tenant": chunk.tenant,
        "sensitivity": chunk.sensitivity,
        "tags": list(chunk.tags),
        "owner": chunk.owner,
        "content_key": chunk.content_key,
    }


def point_uuid(chunk_id: str) -> str:
    h = chunk_id.ljust(32, "0")[:32]
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
