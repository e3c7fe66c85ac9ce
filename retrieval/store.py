"""The vector store edge: the only module that imports qdrant_client.

Embedded (local mode, a folder) by default; a Qdrant server by URL in production, same calls.
Every search is filtered server-side to the caller's tenant plus `global`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from qdrant_client import QdrantClient, models

from retrieval.documents import Chunk

__all__ = ["QdrantStore", "StoredHit"]

StoredHit = tuple[float, dict[str, Any]]


class QdrantStore:
    """A Qdrant collection of runbook chunks with a tenant payload index."""

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

    def replace(self, collection: str, chunks: Sequence[Chunk], vectors: Sequence[list[float]], dim: int) -> None:
        """Write `chunks` as the whole content of `collection` (recreated)."""
        if self.exists(collection):
            self._client.delete_collection(collection)
        self._client.create_collection(
            collection, vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE)
        )
        self._client.create_payload_index(collection, "tenant", models.PayloadSchemaType.KEYWORD)
        points = [
            models.PointStruct(id=_uuid(c.chunk_id), vector=v, payload=asdict(c))
            for c, v in zip(chunks, vectors, strict=True)
        ]
        for start in range(0, len(points), 256):
            self._client.upsert(collection, points[start : start + 256])

    def search(self, collection: str, vector: list[float], *, tenant: str, top_k: int) -> list[StoredHit]:
        """The `top_k` nearest chunks visible to `tenant` (its own and `global`)."""
        tenant_filter = models.Filter(
            must=[models.FieldCondition(key="tenant", match=models.MatchAny(any=[tenant, "global"]))]
        )
        result = self._client.query_points(
            collection, query=vector, query_filter=tenant_filter, limit=top_k, with_payload=True
        )
        return [(float(p.score), dict(p.payload or {})) for p in result.points]


def _uuid(chunk_id: str) -> str:
    h = chunk_id.ljust(32, "0")[:32]
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
