"""Qdrant Edge backend (the embedded default): the only module that imports qdrant_edge.

Qdrant's own engine in-process (Rust, HNSW, payload indexes), one shard folder per index version under
`<root>/collections/<version>/`, the version's manifest beside it as `<version>.json`. Aliases live in
`<root>/aliases.json`, replaced with an atomic `os.replace`: a reader sees the old or the new target.
The promote/rollback history is an append-only `<root>/history/<name>.jsonl`. Shards open lazily and
stay open; a search resolves the alias file once. Shards are created without a write-ahead log (a version
is flushed before it is marked complete), so several processes can open the same folder: `netops index
promote` in one process is seen by a running gateway on its next query.

Example:
    store = EdgeStore.open(Path("var/edge"))
    store.create("runbooks-v1", dim=384, metadata=manifest); store.upsert("runbooks-v1", items)
    store.point_alias("runbooks", "runbooks-v1")
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from retrieval.backend import DENSE, LEXICAL, Query, Scope, StoredChunk, StoredHit, payload_of, point_uuid

__all__ = ["EdgeStore"]


class EdgeStore:
    """Implements `retrieval.backend.VectorStore` on Qdrant Edge shards in a folder."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._shards: dict[str, qe.EdgeShard] = {}
        self._lock = threading.Lock()

    @classmethod
    def open(cls, root: Path) -> EdgeStore:
        (root / "collections").mkdir(parents=True, exist_ok=True)
        (root / "history").mkdir(exist_ok=True)
        return cls(root)

    def close(self) -> None:
        with self._lock:
            for shard in self._shards.values():
                shard.close()
            self._shards.clear()

    def _dir(self, collection: str) -> Path:
        return self._root / "collections" / collection

    def _shard(self, collection: str) -> qe.EdgeShard:
        with self._lock:
            shard = self._shards.get(collection)
            if shard is None:
                shard = self._shards[collection] = qe.EdgeShard.load(str(self._dir(collection)))
            return shard

    def exists(self, collection: str) -> bool:
        return (self._dir(collection).with_suffix(".json")).is_file() and self._dir(collection).is_dir()

    def count(self, collection: str) -> int:
        return int(self._shard(collection).count(qe.CountRequest(exact=True)))

    def collections(self, prefix: str) -> list[str]:
        return sorted(p.stem for p in (self._root / "collections").glob(f"{prefix}*.json") if self.exists(p.stem))

    def metadata(self, collection: str) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self._dir(collection).with_suffix(".json").read_text(encoding="utf-8"))
        return loaded

    def create(self, collection: str, *, dim: int, metadata: dict[str, Any]) -> None:
        config = qe.EdgeConfig(
            vectors={DENSE: qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine)},
            sparse_vectors={LEXICAL: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
            wal_enabled=False,  # versions are written once and flushed; without a WAL lock other processes can read
        )
        shard = qe.EdgeShard.create(str(self._dir(collection)), config)
        for field in ("tenant", "sensitivity"):
            shard.update(qe.UpdateOperation.create_field_index(field, qe.PayloadSchemaType.Keyword))
        with self._lock:
            self._shards[collection] = shard
        self.set_metadata(collection, metadata)

    def set_metadata(self, collection: str, metadata: dict[str, Any]) -> None:
        _write_atomic(self._dir(collection).with_suffix(".json"), json.dumps(metadata, indent=2))

    def delete(self, collection: str) -> None:
        with self._lock:
            shard = self._shards.pop(collection, None)
        if shard is not None:
            shard.close()
        self._dir(collection).with_suffix(".json").unlink(missing_ok=True)
        shutil.rmtree(self._dir(collection), ignore_errors=True)

    def upsert(self, collection: str, items: Sequence[StoredChunk], batch: int = 256) -> None:
        """Write the points, then flush and build the shard's indexes (HNSW) before returning."""
        shard = self._shard(collection)
        for start in range(0, len(items), batch):
            points = [
                qe.Point(
                    point_uuid(item.chunk.chunk_id),
                    {DENSE: item.dense, LEXICAL: qe.SparseVector(item.sparse.indices, item.sparse.values)},
                    payload_of(item.chunk),
                )
                for item in items[start : start + batch]
            ]
            shard.update(qe.UpdateOperation.upsert_points(points))
        shard.flush()
        shard.optimize()

    def dense_vectors(self, collection: str) -> dict[str, list[float]]:
        shard = self._shard(collection)
        found: dict[str, list[float]] = {}
        offset: Any = None
        while True:
            request = qe.ScrollRequest(offset=offset, limit=512, with_payload=["content_key"], with_vector=[DENSE])
            records, offset = shard.scroll(request)
            for record in records:
                vectors = record.vector
                if isinstance(vectors, dict) and record.payload:
                    found[str(record.payload["content_key"])] = [float(x) for x in vectors[DENSE]]  # type: ignore[union-attr,arg-type]
            if offset is None:
                return found

    def alias_target(self, alias: str) -> str | None:
        return self._aliases().get(alias)

    def point_alias(self, alias: str, collection: str) -> None:
        with self._lock:
            aliases = {**self._aliases(), alias: collection}
            _write_atomic(self._root / "aliases.json", json.dumps(aliases, indent=2))

    def history(self, name: str) -> list[dict[str, Any]]:
        path = self._root / "history" / f"{name}.jsonl"
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def record(self, name: str, entry: dict[str, Any]) -> None:
        with self._lock:
            seq = len(self.history(name)) + 1
            with (self._root / "history" / f"{name}.jsonl").open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({**entry, "seq": seq, "at": time.time()}) + "\n")

    def search(self, collection: str, query: Query, scope: Scope, *, top_k: int) -> list[StoredHit]:
        where = qe.Filter(
            must=[
                qe.FieldCondition("tenant", match=qe.MatchAny([scope.tenant, "global"])),
                qe.FieldCondition("sensitivity", match=qe.MatchAny(list(scope.levels))),
            ]
        )
        if query.mode == "dense" and query.dense is not None:
            chosen = qe.Query.Nearest(query.dense, using=DENSE)
        elif query.mode == "lexical" and query.sparse is not None:
            chosen = qe.Query.Nearest(qe.SparseVector(query.sparse.indices, query.sparse.values), using=LEXICAL)
        else:
            raise ValueError(f"a {query.mode!r} query without its vector")
        request = qe.QueryRequest(limit=top_k, query=chosen, filter=where, with_payload=True)
        return [(float(p.score), dict(p.payload or {})) for p in self._shard(collection).query(request)]

    def _aliases(self) -> dict[str, str]:
        path = self._root / "aliases.json"
        if not path.is_file():
            return {}
        loaded: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        return loaded


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
