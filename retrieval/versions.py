"""Index versions: naming, the manifest each version carries, and the difference between two versions.

A version of index `runbooks` is the collection `runbooks-v<N>`; its manifest (stored as the collection's
metadata, so it travels with it to a Qdrant server) records the documents and their checksums, the
embedder and chunker settings, the build time and the counts, and the source folders with every file read there,
stamped (`sources`: `retrieval.sources.SourceRecord`; empty for versions built before it was recorded).
Versions are never modified once complete.

Example:
    manifest = Manifest.from_dict(store.metadata("runbooks-v3"))
    diff_manifests(old, new).changed
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Manifest", "VersionDiff", "collection_name", "diff_manifests", "version_number"]

_VERSION = re.compile(r"^(?P<name>.+)-v(?P<n>[0-9]+)$")


def collection_name(name: str, number: int) -> str:
    return f"{name}-v{number}"


def version_number(name: str, collection: str) -> int | None:
    """`3` for `runbooks-v3` when `name` is `runbooks`; None for anything else."""
    match = _VERSION.match(collection)
    return int(match.group("n")) if match and match.group("name") == name else None


@dataclass(frozen=True, slots=True)
class Manifest:
    """What one index version holds and how it was built."""

    version: str
    name: str
    created_at: str
    embedder: str
    dim: int
    chunker: dict[str, Any]
    lexical: dict[str, Any]
    documents: dict[str, str]
    chunks: int
    embedded: int
    reused: int
    parent: str | None = None
    rejected: list[dict[str, str]] = field(default_factory=list)
    complete: bool = False
    sources: dict[str, Any] = field(default_factory=dict)  # SourceRecord.to_dict(): roots and file stamps

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True, slots=True)
class VersionDiff:
    """Documents added, removed and changed from `old` to `new`."""

    old: str
    new: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]
    unchanged: int
    chunks: tuple[int, int]
    settings_changed: tuple[str, ...]


def diff_manifests(old: Manifest, new: Manifest) -> VersionDiff:
    a, b = old.documents, new.documents
    settings = [key for key in ("embedder", "dim", "chunker") if getattr(old, key) != getattr(new, key)]
    return VersionDiff(
        old=old.version,
        new=new.version,
        added=tuple(sorted(set(b) - set(a))),
        removed=tuple(sorted(set(a) - set(b))),
        changed=tuple(sorted(p for p in set(a) & set(b) if a[p] != b[p])),
        unchanged=sum(1 for p in set(a) & set(b) if a[p] == b[p]),
        chunks=(old.chunks, new.chunks),
        settings_changed=tuple(settings),
    )
