"""The semantic cache's memory: questions as vectors in the same Qdrant engine as the runbook index, so that a
question phrased differently can reuse an answer, and only when its entities are exactly the same.

    memory = SemanticCache(store, embedder, name="semcache", ttl_s=600, max_entries=5000)
    memory.remember("acme", scope, "BGP down on r1, what do I check?", ("r1",), {"text": ...})
    memory.recall("acme", scope, "r1 BGP session is down - what should I check?", ("r1",), threshold=0.9)
    -> Recall(score=0.93, value={...}, age_s=4.2)
    memory.recall("acme", scope, "BGP down on r2, what do I check?", ("r2",), threshold=0.9) -> None

A point keeps the tenant, the scope (a digest of everything but the question that decides an answer: route,
prompt and policy versions, index version, grants), the question's entities and the value (JSON). A recall
takes the nearest points of the tenant and accepts one only if its tenant, scope and entities are equal and it
is younger than `ttl_s`: similarity alone never answers "r2" with "r1"'s answer. Entries live in generations of
`ttl_s` seconds (one collection each); older generations are dropped whole, which bounds the store without
deleting points one by one, and `max_entries` bounds a generation.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from retrieval.backend import Query, Scope, StoredChunk, VectorStore
from retrieval.documents import Chunk
from retrieval.embedder import Embedder
from retrieval.lexical import SparseVector

__all__ = ["Recall", "SemanticCache", "SemanticMemory"]

_DEPTH = 8  # nearest points looked at per recall


@dataclass(frozen=True, slots=True)
class Recall:
    """A remembered value, how similar its question was, and how old it is."""

    score: float
    value: dict[str, Any]
    age_s: float


class SemanticMemory(Protocol):
    def recall(
        self, tenant: str, scope: str, question: str, entities: tuple[str, ...], *, threshold: float
    ) -> Recall | None: ...

    def remember(
        self, tenant: str, scope: str, question: str, entities: tuple[str, ...], value: dict[str, Any]
    ) -> None: ...


class SemanticCache:
    """Questions and their values in `<name>-g<generation>` collections of `store` (see the module docstring)."""

    def __init__(self, store: VectorStore, embedder: Embedder, *, name: str, ttl_s: float, max_entries: int) -> None:
        self._store = store
        self._embedder = embedder
        self.name = name
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._lock = threading.Lock()

    def recall(
        self, tenant: str, scope: str, question: str, entities: tuple[str, ...], *, threshold: float
    ) -> Recall | None:
        if self.ttl_s <= 0:
            return None
        now = time.time()
        dense = self._embedder.embed([question])[0]
        wanted = _entities(entities)
        best: Recall | None = None
        for collection in self._live(now):
            found = self._store.search(
                collection, Query("dense", dense, None), Scope(tenant, ("internal",)), top_k=_DEPTH
            )
            for score, payload in found:
                if score < threshold or payload.get("tenant") != tenant:  # "global" is never a cache tenant
                    continue
                if payload.get("path") != scope or payload.get("heading") != wanted:
                    continue
                stored = json.loads(str(payload.get("text")))
                age = now - float(stored["at"])
                if age < self.ttl_s and (best is None or score > best.score):
                    best = Recall(score, dict(stored["value"]), age)
        return best

    def remember(
        self, tenant: str, scope: str, question: str, entities: tuple[str, ...], value: dict[str, Any]
    ) -> None:
        if self.ttl_s <= 0:
            return
        now = time.time()
        collection = self._generation(now)
        with self._lock:
            if not self._store.exists(collection):
                self._store.create(collection, dim=self._embedder.dim, metadata={"kind": "semantic-cache"})
                self._drop_old(now)
            if self._store.count(collection) >= self.max_entries:
                return
            chunk = Chunk(
                path=scope,
                heading=_entities(entities),
                text=json.dumps({"at": now, "value": value}, separators=(",", ":")),
                tenant=tenant,
                sensitivity="internal",
            )
            dense = self._embedder.embed([question])[0]
            self._store.upsert(collection, [StoredChunk(chunk, dense, SparseVector([], []))])

    def _generation(self, now: float) -> str:
        return f"{self.name}-g{int(now // self.ttl_s)}"

    def _live(self, now: float) -> list[str]:
        """This generation and the one before (an entry lives `ttl_s` at most, so it is in one of them)."""
        names = [self._generation(now), self._generation(now - self.ttl_s)]
        return [n for n in names if self._store.exists(n)]

    def _drop_old(self, now: float) -> None:
        keep = set(self._live(now)) | {self._generation(now)}
        for collection in self._store.collections(f"{self.name}-g"):
            if collection not in keep:
                self._store.delete(collection)


def _entities(entities: tuple[str, ...]) -> str:
    return "\x1f".join(e.lower() for e in entities)  # order kept: "from r1 to r2" is not "from r2 to r1"
