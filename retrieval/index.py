"""The versioned runbook index: build versions, promote and roll back atomically, search for a tenant.

Each build writes a new immutable collection (`<name>-v<N>`, see `retrieval.versions`); the alias `<name>`
names the live one. A search resolves the alias ONCE and answers from that one collection, so a promote
running at the same time never fails a query nor mixes versions; each hit carries the version it came from.
An incremental build reuses the dense vectors of unchanged chunks (by content digest) from the live version.

Example:
    index = RunbookIndex(store, embedder, name="runbooks")
    manifest = index.build(scan(sources, max_chars=1200))
    index.promote(manifest.version, gate=EvalGate(cases))
    hits = index.search("acme", "BGP neighbor stuck in Active", 3, clearance="internal")
    hits[0].path, hits[0].heading, hits[0].index_version
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from retrieval.backend import Query, Scope, StoredChunk, StoredHit, VectorStore
from retrieval.documents import SENSITIVITY, Corpus
from retrieval.embedder import Embedder
from retrieval.errors import IndexUnavailable, InvalidQuery, NothingToRollBack, PromoteRefused, UnknownVersion
from retrieval.lexical import bm25_vector, query_vector, tokens
from retrieval.sources import SourceRecord
from retrieval.vector_cache import VectorCache
from retrieval.versions import Manifest, VersionDiff, collection_name, diff_manifests, version_number

if TYPE_CHECKING:
    from retrieval.evaluation import EvalGate, GateReport

__all__ = ["MODES", "Hit", "IndexStatus", "Retriever", "RunbookIndex", "VersionInfo"]

MODES = ("hybrid", "dense", "lexical")
GROUP_DEPTH = 4  # chunks fetched per document wanted; a runbook rarely has more than a few matching sections
RRF_K = 60  # the usual reciprocal-rank-fusion constant (hybrid: dense and lexical, fused by document)
Progress = Callable[[str, int, int], None]


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
    """Whether the index can answer, what it holds, when the live version was built (`built_at`, ISO 8601 UTC)
    and what it read from its sources (None: built before sources were recorded). Whether that is stale is for
    `retrieval.freshness` to judge against the configured sources."""

    ready: bool
    version: str
    chunks: int
    detail: str = ""
    built_at: str = ""
    sources: SourceRecord | None = None


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """One version in `RunbookIndex.versions()`."""

    manifest: Manifest
    live: bool


class Retriever(Protocol):
    """Tenant-scoped search over runbooks; `clearance` is the highest sensitivity the caller may read."""

    def search(self, tenant: str, query: str, top_k: int, *, clearance: str = "internal") -> list[Hit]: ...

    def status(self) -> IndexStatus: ...

    def version(self) -> str:
        """The live version alone ("" when none is promoted): what a request keys its caches by, without the
        status's count and source record."""
        ...


def _by_document(found: list[StoredHit], collection: str) -> dict[str, Hit]:
    """Chunks grouped by document in rank order, each document's best chunk standing for it."""
    found.sort(key=lambda f: (-f[0], str(f[1]["path"]), str(f[1]["heading"]), str(f[1]["text"])))  # stable ties
    best: dict[str, Hit] = {}
    for score, p in found:
        path = str(p["path"])
        if path not in best:
            best[path] = Hit(path, str(p["heading"]), str(p["text"]), score, collection)
    return best


class RunbookIndex:
    """Versions of one named runbook index in a Qdrant store."""

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        *,
        name: str,
        mode: str = "hybrid",
        max_chars: int = 1200,
        vectors: VectorCache | None = None,
    ) -> None:
        if mode not in MODES:
            raise InvalidQuery(f"unknown retrieval mode {mode!r}; use one of {', '.join(MODES)}")
        self._store = store
        self._embedder = embedder
        self._vectors = vectors  # vectors kept across folders: a build embeds only what none of them has
        self.name = name
        self.mode = mode
        self._max_chars = max_chars

    @property
    def embedder(self) -> Embedder:
        """The embedder of this index (the semantic cache embeds questions with it)."""
        return self._embedder

    # -- reading -------------------------------------------------------------------------------------------

    def live(self) -> str | None:
        """The live version (collection name), or None before the first promote."""
        return self._store.alias_target(self.name)

    def manifest(self, version: str) -> Manifest:
        collection = self._resolve(version)
        return Manifest.from_dict(self._store.metadata(collection))

    def versions(self) -> list[VersionInfo]:
        live = self.live()
        found = [c for c in self._store.collections(f"{self.name}-v") if version_number(self.name, c) is not None]
        found.sort(key=lambda c: version_number(self.name, c) or 0)
        return [VersionInfo(Manifest.from_dict(self._store.metadata(c)), c == live) for c in found]

    def diff(self, old: str, new: str) -> VersionDiff:
        return diff_manifests(self.manifest(old), self.manifest(new))

    def history(self) -> list[dict[str, object]]:
        return self._store.history(self.name)

    def version(self) -> str:
        live = self.live()
        return live if live is not None and self._store.exists(live) else ""

    def status(self) -> IndexStatus:
        live = self.live()
        if live is None or not self._store.exists(live):
            return IndexStatus(False, "", 0, "no index promoted; run `netops index build` then `netops index promote`")
        manifest = Manifest.from_dict(self._store.metadata(live))
        record = SourceRecord.from_dict(manifest.sources)
        return IndexStatus(True, live, self._store.count(live), built_at=manifest.created_at, sources=record)

    def search(
        self,
        tenant: str,
        query: str,
        top_k: int,
        *,
        clearance: str = "internal",
        mode: str | None = None,
        version: str | None = None,
    ) -> list[Hit]:
        """The `top_k` best documents `tenant` may see, from the live version (or `version`), each as its best
        chunk: five hits are five runbooks, not five sections of one."""
        if clearance not in SENSITIVITY:
            raise InvalidQuery(f"unknown sensitivity clearance {clearance!r}")
        if not query.strip():
            raise InvalidQuery("the query is empty")
        collection = self._resolve(version) if version else self.live()  # the alias is resolved once, here
        if collection is None:
            raise IndexUnavailable(self.status().detail)
        mode = mode or self.mode
        if mode not in MODES:
            raise InvalidQuery(f"unknown retrieval mode {mode!r}; use one of {', '.join(MODES)}")
        sparse = query_vector(query) if mode != "dense" else None
        if sparse is not None and not sparse.indices:
            if mode == "lexical":
                return []
            mode, sparse = "dense", None
        dense = self._embedder.embed([query])[0] if mode != "lexical" else None
        scope = Scope(tenant, SENSITIVITY[: SENSITIVITY.index(clearance) + 1])
        wanted = max(30, top_k * GROUP_DEPTH)  # chunks fetched to fill `top_k` distinct documents
        ranked = [  # each mode's documents in rank order; hybrid fuses them by document (a runbook counts once)
            list(
                _by_document(
                    self._store.search(collection, Query(m, dense, sparse), scope, top_k=wanted), collection
                ).values()
            )
            for m in (("dense", "lexical") if mode == "hybrid" else (mode,))
        ]
        if len(ranked) == 1:
            return ranked[0][:top_k]
        fused: dict[str, float] = {}
        chosen: dict[str, tuple[int, Hit]] = {}  # the document's best chunk, from the mode ranking it higher
        for documents in ranked:
            for rank, hit in enumerate(documents, start=1):
                fused[hit.path] = fused.get(hit.path, 0.0) + 1.0 / (RRF_K + rank)
                if hit.path not in chosen or rank < chosen[hit.path][0]:
                    chosen[hit.path] = (rank, hit)
        order = sorted(fused, key=lambda path: (-fused[path], path))[:top_k]
        return [replace(chosen[path][1], score=fused[path]) for path in order]

    # -- writing -------------------------------------------------------------------------------------------

    def build(self, corpus: Corpus, *, incremental: bool = True, progress: Progress | None = None) -> Manifest:
        """Write `corpus` as a new, complete version (not live until promoted)."""
        parent = self.live() or self._latest()
        reuse = self._reusable(parent) if incremental and parent else {}
        chunks = corpus.chunks
        if incremental and self._vectors is not None:
            reuse.update(self._vectors.get(sorted({c.content_key for c in chunks if c.content_key not in reuse})))
        todo = sorted({c.content_key: c.embed_text for c in chunks if c.content_key not in reuse}.items())
        for start in range(0, len(todo), 64):
            batch = todo[start : start + 64]
            computed = dict(zip([k for k, _ in batch], self._embedder.embed([t for _, t in batch]), strict=True))
            reuse.update(computed)
            if self._vectors is not None:
                self._vectors.put(computed)
            if progress is not None:
                progress("embedding", min(start + 64, len(todo)), len(todo))
        avg_len = sum(len(tokens(c.embed_text)) for c in chunks) / max(len(chunks), 1)
        items = [StoredChunk(c, reuse[c.content_key], bm25_vector(c.embed_text, avg_len=avg_len)) for c in chunks]
        number = max((version_number(self.name, c) or 0 for c in self._store.collections(f"{self.name}-v")), default=0)
        collection = collection_name(self.name, number + 1)
        fresh = {k for k, _ in todo}
        reused = sum(1 for c in chunks if c.content_key not in fresh)
        manifest = self._manifest(collection, corpus, avg_len, embedded=len(todo), reused=reused, parent=parent)
        self._store.create(collection, dim=self._embedder.dim, metadata=manifest.to_dict())
        self._store.upsert(collection, items)
        done = Manifest.from_dict({**manifest.to_dict(), "complete": True})
        self._store.set_metadata(collection, done.to_dict())
        return done

    def promote(self, version: str, *, gate: EvalGate | None) -> GateReport | None:
        """Point the alias at `version` atomically, if it passes `gate` against the live version."""
        target = self._resolve(version)
        current = self.live()
        if current == target:
            raise PromoteRefused(f"{target} is already live")
        report = gate.check(self, candidate=target, baseline=current) if gate is not None else None
        if report is not None and not report.passed:
            raise PromoteRefused(f"{target} failed the retrieval eval gate: {report.summary()}")
        self._store.point_alias(self.name, target)
        gate_info = report.summary() if report is not None else "no gate"
        self._store.record(self.name, {"action": "promote", "version": target, "from": current, "gate": gate_info})
        return report

    def rollback(self) -> str:
        """Return the alias to the version that was live before the current one; returns that version."""
        stack = self._promoted_stack()
        if len(stack) < 2:
            raise NothingToRollBack(f"index {self.name!r} has no earlier promoted version")
        target = stack[-2]
        if not self._store.exists(target):
            raise NothingToRollBack(f"the earlier version {target} no longer exists")
        self._store.point_alias(self.name, target)
        self._store.record(self.name, {"action": "rollback", "version": target, "from": stack[-1]})
        return target

    def prune(self, *, keep: int) -> list[str]:
        """Delete all but the newest `keep` versions; never the live one nor the rollback target."""
        stack = self._promoted_stack()
        protected = {self.live(), *stack[-2:]}
        versions = [v.manifest for v in self.versions()]
        newest_complete = max((version_number(self.name, m.version) or 0 for m in versions if m.complete), default=0)
        complete = [m.version for m in versions if m.complete]
        doomed = [v for v in complete[: max(len(complete) - keep, 0)] if v not in protected]
        doomed += [
            m.version
            for m in versions
            if not m.complete and (version_number(self.name, m.version) or 0) < newest_complete
        ]
        for version in doomed:
            self._store.delete(version)
        return sorted(doomed, key=lambda v: version_number(self.name, v) or 0)

    # -- helpers -------------------------------------------------------------------------------------------

    def _resolve(self, version: str) -> str:
        """`runbooks-v3`, `v3` or `3` to the collection name, if that version exists and is complete."""
        bare = version.removeprefix(f"{self.name}-").removeprefix("v")
        collection = collection_name(self.name, int(bare)) if bare.isdigit() else version
        if not bare.isdigit() or not self._store.exists(collection):
            raise UnknownVersion(f"index {self.name!r} has no version {version!r}")
        if not self._store.metadata(collection).get("complete"):
            raise UnknownVersion(f"{collection} is an incomplete build")
        return collection

    def _latest(self) -> str | None:
        done = [v.manifest.version for v in self.versions() if v.manifest.complete]
        return done[-1] if done else None

    def _reusable(self, parent: str) -> dict[str, list[float]]:
        meta = Manifest.from_dict(self._store.metadata(parent))
        if meta.embedder != self._embedder.name or meta.dim != self._embedder.dim:
            return {}
        return self._store.dense_vectors(parent)

    def _promoted_stack(self) -> list[str]:
        stack: list[str] = []
        for entry in self._store.history(self.name):
            if entry.get("action") == "promote":
                stack.append(str(entry["version"]))
            elif entry.get("action") == "rollback" and stack:
                stack.pop()
        return stack

    def _manifest(
        self, collection: str, corpus: Corpus, avg_len: float, *, embedded: int, reused: int, parent: str | None
    ) -> Manifest:
        return Manifest(
            version=collection,
            name=self.name,
            created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            embedder=self._embedder.name,
            dim=self._embedder.dim,
            chunker={"max_chars": self._max_chars, "split": "headings, then paragraphs"},
            lexical={"scheme": "bm25", "k1": 1.2, "b": 0.75, "avg_len": round(avg_len, 2)},
            documents=dict(corpus.documents),
            chunks=len(corpus.chunks),
            embedded=embedded,
            reused=reused,
            parent=parent,
            rejected=[{"path": r.path, "reason": r.reason} for r in corpus.rejected],
            sources=corpus.sources.to_dict() if corpus.sources is not None else {},
        )
