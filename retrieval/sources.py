"""Which files of a source folder are runbooks, and the record of them a version keeps.

A build stamps every file it reads (the runbook and its `<file>.meta.yaml` sidecar): size and mtime taken
BEFORE the read, and the SHA-256 of the bytes actually read. The stamps, keyed by the file's cited path
(relative to the source folder's parent, as in `retrieval.documents`), go into the version's manifest as a
`SourceRecord`; `retrieval.freshness` compares them with the files on disk later. Because the stat comes first
and the digest is of what was read, a file edited during the build shows as changed afterwards, never as
silently indexed.

Example:
    files = runbook_files([Path("infra/demo/runbooks")])   # {"runbooks/network/bgp.md": Path(...), ...}
    record = SourceRecord(("infra/demo/runbooks",), {key: stamp(path) for key, path in files.items()})
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.formats import SUFFIXES

__all__ = ["SIDECAR", "FileStamp", "SourceRecord", "documents_in", "runbook_files", "stamp", "stat_of"]

SIDECAR = ".meta.yaml"


@dataclass(frozen=True, slots=True)
class FileStamp:
    """One file as a build saw it: size and mtime (ns) before reading, and the digest of the bytes read
    (empty when the read failed)."""

    size: int
    mtime_ns: int
    sha256: str = ""

    def same_stat(self, other: FileStamp) -> bool:
        return (self.size, self.mtime_ns) == (other.size, other.mtime_ns)


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """The source folders a version was built from and every file it read there, by cited path."""

    roots: tuple[str, ...]
    files: Mapping[str, FileStamp]

    def to_dict(self) -> dict[str, Any]:
        files = {k: [s.size, s.mtime_ns, s.sha256] for k, s in sorted(self.files.items())}
        return {"roots": list(self.roots), "files": files}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SourceRecord | None:
        """The record in a manifest, or None for a version built before sources were recorded."""
        files = data.get("files")
        if not isinstance(files, Mapping):
            return None
        stamps = {str(k): FileStamp(int(v[0]), int(v[1]), str(v[2])) for k, v in files.items()}
        return cls(tuple(str(r) for r in data.get("roots", ())), stamps)


def documents_in(source: Path) -> list[Path]:
    """The runbook files under one source folder (not their sidecars), in a stable order."""
    return sorted(
        p for p in source.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file() and not p.name.endswith(SIDECAR)
    )


def runbook_files(sources: Iterable[Path]) -> dict[str, Path]:
    """Every runbook file and existing sidecar under `sources`, by cited path; missing folders are skipped."""
    found: dict[str, Path] = {}
    for source in sources:
        if not source.is_dir():
            continue
        for file in documents_in(source):
            for path in (file, file.with_name(file.name + SIDECAR)):
                if path is file or path.is_file():
                    found[path.relative_to(source.parent).as_posix()] = path
    return found


def stat_of(path: Path) -> FileStamp:
    """Size and mtime, no digest (raises OSError when the file is gone)."""
    st = os.stat(path)
    return FileStamp(st.st_size, st.st_mtime_ns)


def stamp(before: FileStamp, data: bytes | None) -> FileStamp:
    """`before` (the stat taken before reading) with the digest of the bytes read (`None`: the read failed)."""
    return FileStamp(before.size, before.mtime_ns, hashlib.sha256(data).hexdigest() if data is not None else "")
