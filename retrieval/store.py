"""qdrant-client backend: the only module that imports qdrant_client.

A Qdrant server or cluster by URL (production), or qdrant-client's local mode in a folder (pure Python,
small corpora and tests); the embedded default is `retrieval.edge_store`.
Each index version is its own collection with a dense (`dense`, cosine) and a sparse (`lexical`, IDF
modifier) named vector and the version's manifest as collection metadata; an alias names the live one.
Every search is filtered server-side to the caller's tenant plus `global` and the allowed sensitivity
levels, on payload indexes. Local mode locks its folder: one process at a time.

Example:
    store = QdrantStore.open(url=None, path=Path("var/qdrant"))
    store.create("runbooks-v1", dim=384, metadata=manifest)
    store.upsert("runbooks-v1", [StoredChunk(chunk, dense, sparse)])
    store.point_alias("runbooks", "runbooks-v1")          # atomic
    store.search("runbooks-v1", Query("lexical", None, sparse), Scope("acme", ("public",)), top_k=5)

Implements `retrieval.backend.VectorStore`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qdrant_client import QdrantClient, models

from retrieval.backend import DENSE, LEXICAL, Query, Scope, StoredChunk, StoredHit, payload_of, point_uuid

__all__ = ["QdrantStore"]


class QdrantStore:
    """Versioned Qdrant collections of runbook chunks, an alias per index, a history collection."""

    def __init__(self, client: QdrantClient) -> None:
        self._client = client

    @classmethod
    def open(cls, *, url: str | None, path: Path, api_key: str | None = None) -> QdrantStore:
        if url:
            return cls(QdrantClient(url=url, api_key=api_key))
        path.mkdir(parents=True, exist_ok=True)
        return cls(QdrantClient(path=str(path)))

    def close(self) -> None:
        self._client.close()

    def exists(self, collection: str) -> bool:
        return bool(self._client.collection_exists(collection))

    def count(self, collection: str) -> int:
        return int(self._client.count(collection, exact=True).count)

    def collections(self, prefix: str) -> list[str]:
        names = [c.name for c in self._client.get_collections().collections]
        return sorted(n for n in names if n.startswith(prefix))

    def metadata(self, collection: str) -> dict[str, Any]:
        return dict(self._client.get_collection(collection).config.metadata or {})

    def create(self, collection: str, *, dim: int, metadata: dict[str, Any]) -> None:
        """A new, empty version collection with its payload indexes."""
        self._client.create_collection(
            collection,
            vectors_config={DENSE: models.VectorParams(size=dim, distance=models.Distance.COSINE)},
            sparse_vectors_config={LEXICAL: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            metadata=metadata,
        )
        with warnings.catch_warnings():  # local mode warns that it does not use payload indexes; servers do
            warnings.simplefilter("ignore", UserWarning)
            for field in ("tenant", "sensitivity"):
                self._client.create_payload_index(collection, field, models.PayloadSchemaType.KEYWORD)

    def set_metadata(self, collection: str, metadata: dict[str, Any]) -> None:
        self._client.update_collection(collection, metadata=metadata)

    def delete(self, collection: str) -> None:
        self._client.delete_collection(collection)

    def upsert(self, collection: str, items: Sequence[StoredChunk], batch: int = 256) -> None:
        points = [
            models.PointStruct(
                id=point_uuid(item.chunk.chunk_id),
                vector={
                    DENSE: item.dense,
                    LEXICAL: models.SparseVector(indices=item.sparse.indices, values=item.sparse.values),
                },
                payload=payload_of(item.chunk),
            )
            for item in items
        ]
        for start in range(0, len(points), batch):
            self._client.upsert(collection, points[start : start + batch])

    def dense_vectors(self, collection: str) -> dict[str, list[float]]:
        """Dense vectors by chunk `content_key`, for reuse by an incremental build."""
        found: dict[str, list[float]] = {}
        offset: Any = None
        while True:
            records, offset = self._client.scroll(
                collection, limit=512, offset=offset, with_payload=["content_key"], with_vectors=[DENSE]
            )
            for record in records:
                vector = (record.vector or {}).get(DENSE) if isinstance(record.vector, dict) else None
                if record.payload and isinstance(vector, list):
                    found[str(record.payload["content_key"])] = [float(x) for x in vector]  # type: ignore[arg-type]
            if offset is None:
                return found

    def alias_target(self, alias: str) -> str | None:
        """The collection `alias` points at, resolved once."""
        for item in self._client.get_aliases().aliases:
            if item.alias_name == alias:
                return str(item.collection_name)
        return None

    def point_alias(self, alias: str, collection: str) -> None:
        """Point `alias` at `collection` in one atomic alias operation."""
        ops: list[Any] = []
        if self.alias_target(alias) is not None:
            ops.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias)))
        ops.append(
            models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=collection, alias_name=alias))
        )
        self._client.update_collection_aliases(ops)

    def history(self, name: str) -> list[dict[str, Any]]:
        """Promotions and rollbacks of index `name`, oldest first."""
        collection = f"{name}--history"
        if not self.exists(collection):
            return []
        records, _ = self._client.scroll(collection, limit=10_000, with_payload=True)
        return sorted((dict(r.payload or {}) for r in records), key=lambda e: int(e["seq"]))

    def record(self, name: str, entry: dict[str, Any]) -> None:
        collection = f"{name}--history"
        if not self.exists(collection):
            self._client.create_collection(collection, vectors_config={})
        seq = len(self.history(name)) + 1
        payload = {**entry, "seq": seq, "at": time.time()}
        self._client.upsert(collection, [models.PointStruct(id=seq, vector={}, payload=payload)])

    def search(self, collection: str, query: Query, scope: Scope, *, top_k: int) -> list[StoredHit]:
        """The `top_k` best chunks visible in `scope`, by `query.mode`."""
        where = models.Filter(
            must=[
                models.FieldCondition(key="tenant", match=models.MatchAny(any=[scope.tenant, "global"])),
                models.FieldCondition(key="sensitivity", match=models.MatchAny(any=list(scope.levels))),
            ]
        )
        sparse = models.SparseVector(indices=query.sparse.indices, values=query.sparse.values) if query.sparse else None
        using, vector = (DENSE, query.dense) if query.mode == "dense" else (LEXICAL, sparse)
        result = self._client.query_points(
            collection, query=vector, using=using, query_filter=where, limit=top_k, with_payload=True
        )
        return [(float(p.score), dict(p.payload or {})) for p in result.points]
