"""`netops bench retrieval`: build throughput, incremental rebuild time, query latency at 20k chunks.

Everything runs in a scratch folder, never in the live index:
1. full build of the demo corpus (every chunk embedded): chunks/s;
2. incremental rebuild after one changed file: seconds (only that file's chunks re-embedded);
3. query latency, p50/p95 over `queries` searches including the query embedding, with the tenant and
   sensitivity filter, per mode, on `target` chunks: the corpus is replicated over 20 tenants with its
   dense vectors jittered (so 20k chunks need not be embedded; the lexical vectors come from the text).

Example:
    report = run_bench(embedder, sources, scratch=Path("/tmp/bench"), target=20_000)
    print(format_table(report))
"""

from __future__ import annotations

import random
import shutil
import statistics
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from evals.retrieval import machine
from retrieval import Embedder, RunbookIndex, VectorStore, open_store, scan
from retrieval.backend import StoredChunk
from retrieval.lexical import bm25_vector, tokens

__all__ = ["format_table", "run_bench"]

QUERIES = (
    "BGP neighbor stuck in Active after a maintenance window",
    "OSPF adjacency stuck in EXSTART",
    "interface input errors and CRC increasing on uplink",
    "packet loss between two sites",
    "jumbo frames dropped MTU mismatch",
    "DNS resolution fails for internal names",
    "router CPU at 100 percent",
    "Prometheus target down",
    "Kubernetes pod crash looping",
    "etcd high fsync durations",
)


def run_bench(
    embedder: Embedder,
    sources: Sequence[Path],
    *,
    scratch: Path,
    engine: str = "edge",
    target: int = 20_000,
    queries: int = 100,
) -> dict[str, Any]:
    """Measure and return the report (see the module docstring)."""
    if scratch.exists():
        shutil.rmtree(scratch)
    corpus_dir = _copy_sources(sources, scratch / "corpus")
    store = open_store(engine=engine, url=None, path=scratch / "store")
    try:
        report: dict[str, Any] = {"machine": machine(), "engine": engine}
        report["build"] = _build(store, embedder, corpus_dir)
        report["latency"] = _latency(store, embedder, corpus_dir, target=target, queries=queries)
    finally:
        store.close()
    return report


def _copy_sources(sources: Sequence[Path], into: Path) -> list[Path]:
    copies: list[Path] = []
    for source in sources:
        if source.is_dir():
            copy = into / str(len(copies)) / source.name
            shutil.copytree(source, copy)
            copies.append(copy)
    return copies


def _build(store: VectorStore, embedder: Embedder, folders: list[Path]) -> dict[str, Any]:
    index = RunbookIndex(store, embedder, name="bench")
    started = time.perf_counter()
    first = index.build(scan(folders, max_chars=1200), incremental=False)
    full = time.perf_counter() - started
    index.promote(first.version, gate=None)
    changed = sorted(p for p in folders[0].rglob("*.md"))[0]
    changed.write_text(changed.read_text(encoding="utf-8") + "\n\n## Note\n\nChecked during the benchmark.\n")
    started = time.perf_counter()
    second = index.build(scan(folders, max_chars=1200))
    incremental = time.perf_counter() - started
    return {
        "documents": len(first.documents),
        "chunks": first.chunks,
        "full_build_s": round(full, 2),
        "chunks_per_s": round(first.chunks / full, 1),
        "incremental_rebuild_s": round(incremental, 2),
        "incremental_embedded": second.embedded,
        "incremental_reused": second.reused,
    }


def _latency(
    store: VectorStore, embedder: Embedder, folders: list[Path], *, target: int, queries: int
) -> dict[str, Any]:
    chunks = list(scan(folders, max_chars=1200).chunks)
    vectors = store.dense_vectors("bench-v2")  # the demo corpus, embedded by the build benchmark
    rng = random.Random(7)  # noqa: S311 - reproducible jitter, not security
    items: list[StoredChunk] = []
    avg_len = sum(len(tokens(c.embed_text)) for c in chunks) / len(chunks)
    for n in range(target):
        base = chunks[n % len(chunks)]
        variant = n // len(chunks)
        tenant = "global" if variant == 0 else f"tenant{variant % 20:02d}"
        chunk = replace(base, path=f"v{variant}/{base.path}", tenant=tenant, text=f"{base.text}\n(copy {variant})")
        items.append(
            StoredChunk(chunk, _jitter(vectors[base.content_key], rng), bm25_vector(chunk.embed_text, avg_len=avg_len))
        )
    index = RunbookIndex(store, embedder, name="bench20k")
    started = time.perf_counter()
    collection = "bench20k-v1"
    store.create(collection, dim=embedder.dim, metadata={"version": collection, "complete": True})
    store.upsert(collection, items)
    load_s = time.perf_counter() - started
    result: dict[str, Any] = {"chunks": store.count(collection), "load_s": round(load_s, 1), "modes": {}}
    for mode in ("dense", "lexical", "hybrid"):
        samples = []
        for q in range(queries):
            started = time.perf_counter()
            index.search("tenant03", QUERIES[q % len(QUERIES)], 5, mode=mode, version=collection)
            samples.append(1000 * (time.perf_counter() - started))
        result["modes"][mode] = _percentiles(samples)
    started = time.perf_counter()
    for q in range(queries):
        embedder.embed([QUERIES[q % len(QUERIES)]])
    result["embed_only_ms_mean"] = round(1000 * (time.perf_counter() - started) / queries, 1)
    return result


def _jitter(vector: list[float], rng: random.Random) -> list[float]:
    noisy = [x + rng.gauss(0.0, 0.01) for x in vector]
    norm = sum(x * x for x in noisy) ** 0.5
    return [x / norm for x in noisy]


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
        "mean_ms": round(statistics.fmean(ordered), 1),
    }


def format_table(report: dict[str, Any]) -> str:
    """Markdown tables of the report."""
    b, lat, m = report["build"], report["latency"], report["machine"]
    lines = [
        "| build (demo corpus) | value |",
        "|---|---|",
        f"| documents / chunks | {b['documents']} / {b['chunks']} |",
        f"| full build | {b['full_build_s']} s ({b['chunks_per_s']} chunks/s) |",
        f"| incremental rebuild, one file changed | {b['incremental_rebuild_s']} s "
        f"({b['incremental_embedded']} embedded, {b['incremental_reused']} reused) |",
        "",
        f"query latency, {lat['chunks']} chunks, tenant + sensitivity filter, top 5, incl. query embedding "
        f"(embedding alone: {lat['embed_only_ms_mean']} ms)",
        "",
        "| mode | p50 ms | p95 ms | mean ms |",
        "|---|---|---|---|",
    ]
    lines += [f"| {k} | {v['p50_ms']} | {v['p95_ms']} | {v['mean_ms']} |" for k, v in lat["modes"].items()]
    lines += ["", f"store: {report['engine']}; machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}"]
    return "\n".join(lines)
