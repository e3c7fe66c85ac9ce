"""Versioned index: build, incremental rebuild, diff, gated promote, rollback, promote under load."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from retrieval import (
    EvalCase,
    EvalGate,
    EvalSetMismatch,
    IndexUnavailable,
    MiniLMEmbedder,
    NothingToRollBack,
    PromoteRefused,
    RunbookIndex,
    UnknownVersion,
    VectorCache,
    open_store,
    scan,
)
from tests.retrieval.conftest import CASES, RUNBOOKS, write_runbooks

GATE = EvalGate([EvalCase(q, p) for q, p in CASES], tolerance=0.02)


def _build(index: RunbookIndex, folder: Path) -> str:
    return index.build(scan([folder], max_chars=1200)).version


def test_nothing_is_live_before_the_first_promote(index: RunbookIndex, tmp_path: Path) -> None:
    _build(index, write_runbooks(tmp_path / "runbooks", RUNBOOKS))
    assert not index.status().ready
    with pytest.raises(IndexUnavailable):
        index.search("acme", "bgp", 3)
    with pytest.raises(NothingToRollBack):
        index.rollback()
    with pytest.raises(UnknownVersion):
        index.promote("v9", gate=None)


def test_build_is_incremental_and_diff_names_the_changed_document(index: RunbookIndex, tmp_path: Path) -> None:
    folder = write_runbooks(tmp_path / "runbooks", RUNBOOKS)
    first = index.build(scan([folder], max_chars=1200))
    index.promote(first.version, gate=GATE)
    (folder / "dns.md").write_text(RUNBOOKS["dns.md"] + "\n## Mitigation\n\nFail over to the second resolver.\n")
    (folder / "new.md").write_text("# New\n\nA new runbook about NTP drift.\n")
    second = index.build(scan([folder], max_chars=1200))
    assert (first.version, second.version) == ("runbooks-v1", "runbooks-v2")
    assert second.embedded == 2 and second.reused == second.chunks - 2 and second.parent == first.version
    diff = index.diff("v1", "v2")
    assert diff.changed == ("runbooks/dns.md",) and diff.added == ("runbooks/new.md",) and diff.removed == ()
    assert [v.live for v in index.versions()] == [True, False]


def test_answers_cite_path_heading_and_version(index: RunbookIndex, tmp_path: Path) -> None:
    version = _build(index, write_runbooks(tmp_path / "runbooks", RUNBOOKS))
    index.promote(version, gate=GATE)
    hit = index.search("acme", "OSPF neighbor stuck in ExStart", 1)[0]
    assert (hit.path, hit.heading, hit.index_version) == (
        "runbooks/ospf.md",
        "OSPF adjacency stuck > Diagnosis",
        version,
    )


def test_a_failing_eval_gate_refuses_promote(index: RunbookIndex, tmp_path: Path) -> None:
    good = _build(index, write_runbooks(tmp_path / "good" / "runbooks", RUNBOOKS))
    index.promote(good, gate=GATE)
    gutted = "# Notes\n\n## Misc\n\nNothing here yet.\n"
    broken = {k: gutted if k in {"bgp.md", "ospf.md"} else v for k, v in RUNBOOKS.items()}
    worse = _build(index, write_runbooks(tmp_path / "bad" / "runbooks", broken))
    with pytest.raises(PromoteRefused, match=r"recall_at_5|mrr_at_10"):
        index.promote(worse, gate=GATE)
    assert index.live() == good
    assert index.search("acme", "BGP hold timer expired", 1)[0].path == "runbooks/bgp.md"


def test_the_gate_refuses_an_eval_set_about_another_corpus(index: RunbookIndex, tmp_path: Path) -> None:
    version = _build(index, write_runbooks(tmp_path / "runbooks", RUNBOOKS))
    foreign = EvalGate([EvalCase("pod crash looping", "runbooks/kubernetes/KubePodCrashLooping.md")])
    with pytest.raises(EvalSetMismatch, match="does not belong"):
        index.promote(version, gate=foreign)
    assert index.live() is None


def test_a_first_version_must_reach_the_floor(index: RunbookIndex, tmp_path: Path) -> None:
    unrelated = {name: f"# Page {i}\n\n## Text\n\nLorem ipsum {i}.\n" for i, name in enumerate(RUNBOOKS)}
    version = _build(index, write_runbooks(tmp_path / "runbooks", unrelated))
    with pytest.raises(PromoteRefused, match="floor"):
        index.promote(version, gate=EvalGate(GATE.cases, mode="lexical", floor=0.5))
    assert index.live() is None


def test_rollback_restores_the_previous_answers(index: RunbookIndex, tmp_path: Path) -> None:
    first = _build(index, write_runbooks(tmp_path / "a" / "runbooks", RUNBOOKS))
    index.promote(first, gate=None)
    before = [(h.path, h.heading, h.text) for h in index.search("acme", "DNS names do not resolve", 3)]
    changed = {**RUNBOOKS, "dns.md": "# Name service\n\n## Steps\n\nResolvers time out: run dns_lookup twice.\n"}
    second = _build(index, write_runbooks(tmp_path / "b" / "runbooks", changed))
    index.promote(second, gate=None)
    assert [(h.path, h.heading, h.text) for h in index.search("acme", "DNS names do not resolve", 3)] != before
    assert index.rollback() == first
    after = index.search("acme", "DNS names do not resolve", 3)
    assert [(h.path, h.heading, h.text) for h in after] == before and {h.index_version for h in after} == {first}
    with pytest.raises(NothingToRollBack):
        index.rollback()


def test_prune_keeps_the_live_version_and_the_rollback_target(index: RunbookIndex, tmp_path: Path) -> None:
    folder = write_runbooks(tmp_path / "runbooks", RUNBOOKS)
    versions = [_build(index, folder) for _ in range(4)]
    index.promote(versions[0], gate=None)
    index.promote(versions[1], gate=None)
    assert index.prune(keep=1) == [versions[2]]
    assert [v.manifest.version for v in index.versions()] == [versions[0], versions[1], versions[3]]
    assert index.rollback() == versions[0]


def test_promote_during_concurrent_queries_loses_none_and_never_mixes(index: RunbookIndex, tmp_path: Path) -> None:
    one = _build(index, write_runbooks(tmp_path / "a" / "runbooks", RUNBOOKS))
    two = _build(index, write_runbooks(tmp_path / "b" / "runbooks", {**RUNBOOKS, "ntp.md": "# NTP\n\nClock drift.\n"}))
    index.promote(one, gate=None)
    expected = {v: [h.path for h in index.search("acme", "BGP hold timer", 3, version=v)] for v in (one, two)}
    stop = threading.Event()
    failures: list[BaseException] = []
    seen: list[str] = []

    def query() -> None:
        while not stop.is_set():
            try:
                hits = index.search("acme", "BGP hold timer", 3)
                versions = {h.index_version for h in hits}
                assert len(versions) == 1 and [h.path for h in hits] == expected[versions.pop()]
                seen.append(hits[0].index_version)
            except BaseException as exc:  # collected and asserted below
                failures.append(exc)

    workers = [threading.Thread(target=query) for _ in range(3)]
    for worker in workers:
        worker.start()
    for _ in range(6):
        answered = len(seen) + len(failures)
        index.promote(two if index.live() == one else one, gate=None)
        while len(seen) + len(failures) < answered + 3:  # let queries run against each newly live version
            stop.wait(0.01)
    stop.set()
    for worker in workers:
        worker.join()
    assert failures == [] and set(seen) == {one, two}


def test_a_promote_in_another_process_is_seen_by_a_running_reader(embedder: MiniLMEmbedder, tmp_path: Path) -> None:
    """The embedded default (Qdrant Edge) lets `netops index promote` run while the gateway serves."""
    store = open_store(engine="edge", url=None, path=tmp_path)
    index = RunbookIndex(store, embedder, name="runbooks")
    one = _build(index, write_runbooks(tmp_path / "a" / "runbooks", RUNBOOKS))
    two = _build(index, write_runbooks(tmp_path / "b" / "runbooks", {**RUNBOOKS, "ntp.md": "# NTP\n\nDrift.\n"}))
    index.promote(one, gate=None)
    assert index.search("acme", "BGP hold timer", 1)[0].index_version == one
    code = (
        "import sys; from pathlib import Path; from retrieval import open_store; "
        "s = open_store(engine='edge', url=None, path=Path(sys.argv[1])); "
        "s.point_alias('runbooks', sys.argv[2]); s.close()"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path), two], check=True, timeout=120)
    assert index.search("acme", "BGP hold timer", 1)[0].index_version == two
    store.close()


def _promote_long_bgp(index: RunbookIndex, tmp_path: Path, step: str) -> None:
    """The runbooks with six more sections in bgp.md, each `step` (ending `, part <i>.`), built and promoted."""
    long_bgp = RUNBOOKS["bgp.md"] + "".join(f"\n## BGP step {i}\n\n{step}, part {i}.\n" for i in range(6))
    version = _build(index, write_runbooks(tmp_path / "runbooks", {**RUNBOOKS, "bgp.md": long_bgp}))
    index.promote(version, gate=None)


def test_hits_are_distinct_documents_each_by_its_best_chunk(index: RunbookIndex, tmp_path: Path) -> None:
    _promote_long_bgp(index, tmp_path, "Check the BGP neighbor hold timer and BGP session state")
    for mode in ("dense", "lexical", "hybrid"):
        hits = index.search("acme", "BGP neighbor hold timer session", 4, mode=mode)
        assert hits[0].path == "runbooks/bgp.md"
        assert len({h.path for h in hits}) == len(hits) >= 2


def test_hybrid_fuses_the_two_modes_rankings_of_documents(index: RunbookIndex, tmp_path: Path) -> None:
    # bgp.md has seven sections that match "session" and "timer": fused chunk by chunk they would crowd the
    # ranking; fused by document, each runbook counts once per mode, with RRF (k = 60) over its two ranks
    _promote_long_bgp(index, tmp_path, "Check the session state and the hold timer")
    for query in ("session timer expired on the DNS resolver", "CRC errors and packet loss", "router CPU churn"):
        ranks: dict[str, list[int]] = {}
        for mode in ("dense", "lexical"):
            for rank, hit in enumerate(index.search("acme", query, 10, mode=mode), start=1):
                ranks.setdefault(hit.path, []).append(rank)
        fused = {path: sum(1 / (60 + r) for r in found) for path, found in ranks.items()}
        hits = index.search("acme", query, 3, mode="hybrid")
        assert [h.path for h in hits] == sorted(fused, key=lambda path: (-fused[path], path))[:3], query
        assert [h.score for h in hits] == pytest.approx([fused[h.path] for h in hits])


def test_a_build_in_a_fresh_folder_embeds_only_what_the_vector_cache_lacks(
    embedder: MiniLMEmbedder, tmp_path: Path
) -> None:
    cache = VectorCache(tmp_path / "vectors.db", embedder=embedder.name, dim=embedder.dim)
    folder = write_runbooks(tmp_path / "runbooks", RUNBOOKS)
    indexes = []
    for name in ("first", "second"):
        store = open_store(engine="edge", url=None, path=tmp_path / name)  # a fresh folder each: nothing to reuse
        indexes.append((store, RunbookIndex(store, embedder, name="runbooks", vectors=cache)))
    first = indexes[0][1].build(scan([folder], max_chars=1200))
    assert first.embedded == first.chunks and first.reused == 0
    (folder / "dns.md").write_text(RUNBOOKS["dns.md"] + "\n## Mitigation\n\nFail over to the second resolver.\n")
    second = indexes[1][1].build(scan([folder], max_chars=1200))
    assert second.embedded == 1 and second.reused == second.chunks - 1  # the new section alone
    for (_, index), version in zip(indexes, (first.version, second.version), strict=True):
        index.promote(version, gate=None)
    for _, index in indexes:  # the cached vectors are the embedder's: the same runbook answers in both
        assert index.search("acme", "BGP neighbor hold timer expired", 1, mode="dense")[0].path == "runbooks/bgp.md"
    chunk = scan([folder], max_chars=1200).chunks[0]
    assert cache.get([chunk.content_key])[chunk.content_key] == pytest.approx(
        embedder.embed([chunk.embed_text])[0], abs=1e-5
    )
    other = VectorCache(tmp_path / "vectors.db", embedder="another-model", dim=embedder.dim)
    assert other.get([chunk.content_key]) == {}  # keyed by embedder too
    for store, _ in indexes:
        store.close()
