"""Runbook loading and chunking: Markdown split by headings, the heading path kept.

Metadata comes from YAML front matter (`tenant`, `sensitivity`, `tags`, `owner`); a runbook without
it is `global` and `public`. A chunk's `path` is relative to the parent of the source folder,
so `shared/data/runbooks/x/y.md` is cited as `runbooks/x/y.md`.

Example:
    chunks = list(load_chunks([Path("infra/demo/runbooks")], max_chars=1200))
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

__all__ = ["Chunk", "chunk_markdown", "load_chunks"]

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
SUFFIXES = frozenset({".md", ".markdown", ".txt"})


@dataclass(frozen=True, slots=True)
class Chunk:
    """One retrievable piece of a runbook."""

    path: str
    heading: str
    text: str
    tenant: str = "global"
    sensitivity: str = "public"
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def checksum(self) -> str:
        return hashlib.sha256(f"{self.path}\x00{self.heading}\x00{self.text}".encode()).hexdigest()

    @property
    def chunk_id(self) -> str:
        """A stable identifier: the same chunk gets the same id in every build."""
        return self.checksum[:32]


def load_chunks(sources: Iterable[Path], *, max_chars: int) -> Iterator[Chunk]:
    """Every chunk of every runbook under `sources`, in a stable order; missing folders are skipped."""
    for source in sources:
        if not source.is_dir():
            continue
        for file in sorted(p for p in source.rglob("*") if p.suffix in SUFFIXES and p.is_file()):
            relative = file.relative_to(source.parent).as_posix()
            yield from chunk_markdown(file.read_text(encoding="utf-8"), relative, max_chars=max_chars)


def chunk_markdown(text: str, path: str, *, max_chars: int) -> Iterator[Chunk]:
    """Split one Markdown document at its headings; long sections are split at paragraphs."""
    meta, body = _front_matter(text)
    if meta.get("bookHidden") or not body.strip():
        return
    tenant = str(meta.get("tenant", "global"))
    sensitivity = str(meta.get("sensitivity", "public"))
    raw_tags = meta.get("tags") or []
    tags = tuple(str(t) for t in raw_tags) if isinstance(raw_tags, list) else (str(raw_tags),)
    for heading, section in _sections(body, str(meta.get("title", Path(path).stem))):
        for piece in _split(section, max_chars):
            yield Chunk(path, heading, piece, tenant, sensitivity, tags)


def _front_matter(text: str) -> tuple[dict[str, object], str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    loaded = yaml.safe_load(match.group(1))
    return (loaded if isinstance(loaded, dict) else {}), text[match.end() :]


def _sections(body: str, title: str) -> Iterator[tuple[str, str]]:
    path: list[str] = []
    lines: list[str] = []
    heading = title
    for line in body.splitlines():
        match = _HEADING.match(line)
        if match:
            if "".join(lines).strip():
                yield heading, "\n".join(lines).strip()
            level = len(match.group(1))
            path = [*path[: level - 1], match.group(2)]
            heading = " > ".join(path)
            lines = [line]
        else:
            lines.append(line)
    if "".join(lines).strip():
        yield heading, "\n".join(lines).strip()


def _split(section: str, max_chars: int) -> Iterator[str]:
    if len(section) <= max_chars:
        yield section
        return
    piece = ""
    for paragraph in section.split("\n\n"):
        if piece and len(piece) + len(paragraph) + 2 > max_chars:
            yield piece
            piece = ""
        piece = f"{piece}\n\n{paragraph}" if piece else paragraph
        while len(piece) > max_chars:
            yield piece[:max_chars]
            piece = piece[max_chars:]
    if piece.strip():
        yield piece
