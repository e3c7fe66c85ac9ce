"""Is the live index version stale? Its age, and whether the configured sources drifted from what it read.

Every version records the files its build read (`retrieval.sources.SourceRecord`: cited path, size, mtime,
SHA-256). `SourceWatch` lists the configured source folders now (one walk and one `stat` per file) and compares:
a file with its recorded size and mtime is unchanged without being read; a file whose stat moved is read and
hashed, so a `touch` or a checkout that rewrites the same bytes is not drift. The answer is cached for `ttl_s`
per version (a promote is seen at once), so a readiness probe stays cheap. `judge` turns an `IndexStatus` into a
`Freshness`: stale when the sources drifted, or when the version is older than `max_age_s` (if set).

Deliberately left out: an edit that keeps both size and mtime (nanoseconds) is not seen; a version built before
sources were recorded has no drift to report (`drift` None) until the next build; the drifted paths are kept
for callers but `Freshness.as_dict` (what /readyz shows, unauthenticated) gives counts only.

Example:
    watch = SourceWatch(settings.retrieval.sources, ttl_s=5.0)
    fresh = judge(index.status(), watch, max_age_s=None, now=time.time())
    fresh.stale, fresh.drift.counts()    # True, {"added": 1, "changed": 1, "removed": 0}
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.index import IndexStatus
from retrieval.sources import FileStamp, SourceRecord, runbook_files, stat_of

__all__ = ["Drift", "Freshness", "SourceWatch", "compare", "judge"]

_DIGESTS_KEPT = 4096  # digests of files whose stat moved, so an unchanged `touch`ed file is read once


@dataclass(frozen=True, slots=True)
class Drift:
    """Files under the configured sources added, changed and removed since a version was built (cited paths)."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    @property
    def drifted(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def counts(self) -> dict[str, int]:
        return {"added": len(self.added), "changed": len(self.changed), "removed": len(self.removed)}

    def describe(self) -> str:
        return ", ".join(f"{n} {kind}" for kind, n in self.counts().items())


@dataclass(frozen=True, slots=True)
class Freshness:
    """How old the live version is and whether it is stale; `reason` says why (empty when fresh)."""

    built_at: str
    age_s: float | None
    stale: bool
    drift: Drift | None  # None: nothing to compare (no live version, or built before sources were recorded)
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        """For /readyz: counts, never paths (the probe is unauthenticated)."""
        return {
            "built_at": self.built_at,
            "age_s": None if self.age_s is None else round(self.age_s, 1),
            "stale": self.stale,
            "drift": None if self.drift is None else self.drift.counts(),
        }


def compare(
    sources: Iterable[Path], record: SourceRecord, digests: dict[tuple[str, int, int], str] | None = None
) -> Drift:
    """The drift of the files under `sources` now from `record`; `digests` caches the hashes of files whose
    stat moved (by path, size and mtime)."""
    now = runbook_files(sources)
    added: list[str] = []
    changed: list[str] = []
    gone = set(record.files) - set(now)
    for key, path in sorted(now.items()):
        was = record.files.get(key)
        if was is None:
            added.append(key)
            continue
        try:
            current = stat_of(path)
        except OSError:  # deleted between the walk and the stat
            gone.add(key)
            continue
        if not current.same_stat(was) and _digest(path, current, digests) != was.sha256:
            changed.append(key)
    return Drift(tuple(added), tuple(changed), tuple(sorted(gone)))


def _digest(path: Path, current: FileStamp, digests: dict[tuple[str, int, int], str] | None) -> str:
    key = (str(path), current.size, current.mtime_ns)
    if digests is not None and key in digests:
        return digests[key]
    try:
        found = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        found = ""  # unreadable, as a build would have recorded it
    if digests is not None:
        if len(digests) >= _DIGESTS_KEPT:
            digests.clear()
        digests[key] = found
    return found


class SourceWatch:
    """The configured source folders, compared with a version's record at most once per `ttl_s` per version.
    Thread-safe: concurrent probes wait for one comparison instead of each walking the folders."""

    def __init__(
        self, sources: Sequence[Path], *, ttl_s: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.sources = tuple(sources)
        self._ttl = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, str, Drift] | None = None  # (when, version key, drift)
        self._digests: dict[tuple[str, int, int], str] = {}

    def drift(self, record: SourceRecord, *, key: str) -> Drift:
        """The drift from `record`, the record of the version `key` names (a new key is compared at once)."""
        with self._lock:
            now = self._clock()
            cached = self._cached
            if cached is not None and cached[1] == key and now - cached[0] < self._ttl:
                return cached[2]
            found = compare(self.sources, record, self._digests)
            self._cached = (now, key, found)
            return found


def judge(status: IndexStatus, watch: SourceWatch | None, *, max_age_s: float | None, now: float) -> Freshness:
    """Whether the live version in `status` is stale at wall time `now`: its sources drifted (`watch`), or it is
    older than `max_age_s`. A version that cannot answer is not judged (not stale: it is down, which is worse)."""
    if not status.ready:
        return Freshness("", None, False, None)
    age = _age(status.built_at, now)
    drift = None
    if status.sources is not None and watch is not None:
        drift = watch.drift(status.sources, key=f"{status.version}@{status.built_at}")
    reasons = []
    if drift is not None and drift.drifted:
        reasons.append(f"the sources changed since {status.version} was built ({drift.describe()})")
    if max_age_s is not None and age is not None and age > max_age_s:
        reasons.append(f"{status.version} was built {age:.0f} s ago, over the {max_age_s:.0f} s allowed")
    if reasons:
        reason = "; ".join(reasons) + ": run `netops index build --promote`"
    elif status.sources is None:
        reason = f"{status.version} was built before sources were recorded: no drift to report until the next build"
    else:
        reason = ""
    return Freshness(status.built_at, age, bool(reasons), drift, reason)


def _age(built_at: str, now: float) -> float | None:
    try:
        built = dt.datetime.fromisoformat(built_at)
    except ValueError:
        return None
    if built.tzinfo is None:
        built = built.replace(tzinfo=dt.UTC)
    return max(now - built.timestamp(), 0.0)
