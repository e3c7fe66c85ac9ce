"""Index staleness: a build records the files it read; the sources on disk are compared with that record (added,
changed, removed, a `touch` is not a change), the comparison is cached per version, and `judge` says stale on
drift or age. Real files and, for the index, the real embedder and both embedded stores."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from retrieval import IndexStatus, Manifest, RunbookIndex, SourceRecord, SourceWatch, judge, scan
from retrieval.freshness import compare
from tests.retrieval.conftest import RUNBOOKS, write_runbooks

BUILT = "2026-12-01T10:00:00+00:00"
T0 = dt.datetime.fromisoformat(BUILT).timestamp()


def _record(folder: Path) -> SourceRecord:
    record = scan([folder], max_chars=1200).sources
    assert record is not None
    return record


def _status(record: SourceRecord | None, built_at: str = BUILT) -> IndexStatus:
    return IndexStatus(True, "runbooks-v1", 6, built_at=built_at, sources=record)


def test_a_scan_stamps_every_file_it_read_and_the_record_round_trips(tmp_path: Path) -> None:
    folder = write_runbooks(tmp_path / "runbooks", RUNBOOKS)
    (folder / "cpu.md.meta.yaml").write_text("sensitivity: internal\n")
    record = _record(folder)
    assert record.roots == (str(folder.resolve()),)
    assert set(record.files) == {f"runbooks/{n}" for n in RUNBOOKS} | {"runbooks/cpu.md.meta.yaml"}
    stamp = record.files["runbooks/bgp.md"]
    assert stamp.size == len(RUNBOOKS["bgp.md"].encode()) and len(stamp.sha256) == 64
    assert SourceRecord.from_dict(record.to_dict()) == record
    assert SourceRecord.from_dict({}) is None  # a version built before sources were recorded


def test_no_drift_until_a_file_is_added_changed_or_removed(tmp_path: Path) -> None:
    folder = write_runbooks(tmp_path / "runbooks", RUNBOOKS)
    record = _record(folder)
    assert not compare([folder], record).drifted
    later = (folder / "dns.md").stat().st_mtime + 5
    os.utime(folder / "dns.md", (later, later))  # touched, same bytes: read and hashed, not drift
    assert not compare([folder], record).drifted
    (folder / "bgp.md").write_text(RUNBOOKS["bgp.md"] + "\n## Mitigation\n\nClear the session softly.\n")
    (folder / "ntp.md").write_text("# NTP drift\n\nCheck the clock sources.\n")
    (folder / "loss.md").unlink()
    (folder / "cpu.md.meta.yaml").write_text("owner: noc\n")  # a new sidecar changes what cpu.md indexes as
    (folder / "notes.bin").write_bytes(b"\x00")  # not a runbook format: not watched
    drift = compare([folder], record)
    assert drift.added == ("runbooks/cpu.md.meta.yaml", "runbooks/ntp.md")
    assert drift.changed == ("runbooks/bgp.md",) and drift.removed == ("runbooks/loss.md",)
    assert drift.counts() == {"added": 2, "changed": 1, "removed": 1}
    assert not compare([folder], _record(folder)).drifted  # a rebuild takes it all in


def test_configured_sources_other_than_the_built_ones_are_drift(tmp_path: Path) -> None:
    built = write_runbooks(tmp_path / "a" / "runbooks", {"bgp.md": RUNBOOKS["bgp.md"]})
    other = write_runbooks(tmp_path / "b" / "playbooks", {"dns.md": RUNBOOKS["dns.md"]})
    drift = compare([other, tmp_path / "missing"], _record(built))
    assert drift.added == ("playbooks/dns.md",) and drift.removed == ("runbooks/bgp.md",)


def test_the_watch_answers_from_its_cache_for_ttl_s_per_version(tmp_path: Path) -> None:
    folder = write_runbooks(tmp_path / "runbooks", RUNBOOKS)
    record = _record(folder)
    clock = [100.0]
    watch = SourceWatch([folder], ttl_s=5.0, clock=lambda: clock[0])
    assert not watch.drift(record, key="v1").drifted
    (folder / "ntp.md").write_text("# NTP drift\n\nCheck the clock sources.\n")
    clock[0] += 4.0
    assert not watch.drift(record, key="v1").drifted  # still the cached answer
    assert watch.drift(record, key="v2").added == ("runbooks/ntp.md",)  # another version: compared at once
    clock[0] += 5.0
    assert watch.drift(record, key="v1").added == ("runbooks/ntp.md",)


def test_judge_says_stale_on_drift_or_age_and_shows_counts_not_paths(tmp_path: Path) -> None:
    folder = write_runbooks(tmp_path / "runbooks", RUNBOOKS)
    record = _record(folder)
    watch = SourceWatch([folder], ttl_s=0.0)
    fresh = judge(_status(record), watch, max_age_s=None, now=T0 + 90)
    assert (fresh.stale, fresh.age_s, fresh.reason) == (False, 90.0, "")
    assert fresh.as_dict() == {
        "built_at": BUILT,
        "age_s": 90.0,
        "stale": False,
        "drift": {"added": 0, "changed": 0, "removed": 0},
    }
    old = judge(_status(record), watch, max_age_s=3600, now=T0 + 7200)
    assert old.stale and "over the 3600 s allowed" in old.reason and old.drift is not None and not old.drift.drifted
    (folder / "dns.md").unlink()
    drifted = judge(_status(record), watch, max_age_s=3600, now=T0 + 60)
    assert drifted.stale and drifted.as_dict()["drift"] == {"added": 0, "changed": 0, "removed": 1}
    assert "1 removed" in drifted.reason and "netops index build --promote" in drifted.reason
    assert "dns.md" not in str(drifted.as_dict())  # /readyz is unauthenticated: counts only
    untracked = judge(_status(None), watch, max_age_s=None, now=T0 + 60)
    assert not untracked.stale and untracked.drift is None and "before sources were recorded" in untracked.reason
    down = judge(IndexStatus(False, "", 0, "no index"), watch, max_age_s=1, now=T0)
    assert not down.stale and down.age_s is None


def test_the_live_version_reports_its_build_and_is_fresh_again_after_a_rebuild(
    index: RunbookIndex, tmp_path: Path
) -> None:
    folder = write_runbooks(tmp_path / "runbooks", RUNBOOKS)
    first = index.build(scan([folder], max_chars=1200))
    index.promote(first.version, gate=None)
    status = index.status()
    assert status.built_at == first.created_at and status.sources == _record(folder)
    watch = SourceWatch([folder], ttl_s=60.0)
    now = dt.datetime.fromisoformat(first.created_at).timestamp() + 1
    assert not judge(status, watch, max_age_s=None, now=now).stale
    (folder / "dns.md").write_text(RUNBOOKS["dns.md"] + "\n## Mitigation\n\nFail over to the second resolver.\n")
    stale = judge(index.status(), watch, max_age_s=None, now=now)
    assert not stale.stale  # within the watch's TTL for this version: the cached answer
    stale = judge(index.status(), SourceWatch([folder], ttl_s=0.0), max_age_s=None, now=now)
    assert stale.stale and stale.drift is not None and stale.drift.changed == ("runbooks/dns.md",)
    second = index.build(scan([folder], max_chars=1200))
    index.promote(second.version, gate=None)
    again = judge(index.status(), watch, max_age_s=None, now=now)  # a new version is compared at once
    assert index.status().version == "runbooks-v2" and not again.stale and again.drift is not None
    assert Manifest.from_dict({k: v for k, v in second.to_dict().items() if k != "sources"}).sources == {}
