"""Runbook loading and chunking: documents split by headings, the heading path kept.

Formats: Markdown, plain text, reStructuredText and HTML (see `retrieval.formats`). Metadata comes from
YAML front matter or a sidecar `<file>.meta.yaml` (the sidecar wins): `tenant` (default `global`),
`sensitivity` (`public` < `internal` < `confidential` < `restricted`, default `public`), `tags`, `owner`.
A chunk's `path` is relative to the parent of the source folder, so `shared/data/runbooks/x/y.md`
is cited as `runbooks/x/y.md`. A file that cannot be read or parsed is rejected with a reason; the
scan carries on. The corpus also records every file read, stamped (`retrieval.sources.SourceRecord`), so that a
version can later tell whether its sources have changed since (`retrieval.freshness`).

Example:
    corpus = scan([Path("infra/demo/runbooks")], max_chars=1200)
    corpus.chunks, corpus.documents, corpus.rejected, corpus.sources
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from retrieval.formats import to_markdown
from retrieval.sources import SIDECAR, FileStamp, SourceRecord, documents_in, stamp, stat_of

__all__ = ["SENSITIVITY", "Chunk", "Corpus", "Rejected", "chunk_markdown", "load_chunks", "scan"]

SENSITIVITY = ("public", "internal", "confidential", "restricted")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_TENANT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True, slots=True)
class Chunk:
    """One retrievable piece of a runbook."""

    path: str
    heading: str
    text: str
    tenant: str = "global"
    sensitivity: str = "public"
    tags: tuple[str, ...] = field(default_factory=tuple)
    owner: str = ""
    title: str = ""  # the document's readable title ("Kube Pod Not Ready"), weighted into every chunk

    @property
    def embed_text(self) -> str:
        """What is embedded and indexed lexically: the document title, the heading path, then the text. The title
        makes every section of a runbook about its subject (a "Mitigation" section alone says little)."""
        lead = f"{self.title} | {self.heading}" if self.title and self.title != self.heading else self.heading
        return f"{lead}\n{self.text}"

    @property
    def content_key(self) -> str:
        """Digest of `embed_text`: equal keys share a dense vector across builds."""
        return hashlib.sha256(self.embed_text.encode()).hexdigest()

    @property
    def checksum(self) -> str:
        meta = f"{self.tenant}\x00{self.sensitivity}\x00{','.join(self.tags)}\x00{self.owner}"
        return hashlib.sha256(f"{self.path}\x00{self.heading}\x00{self.text}\x00{meta}".encode()).hexdigest()

    @property
    def chunk_id(self) -> str:
        """A stable identifier: the same chunk gets the same id in every build."""
        return self.checksum[:32]


@dataclass(frozen=True, slots=True)
class Rejected:
    """A file left out of a build, and why."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class Corpus:
    """The result of scanning source folders: chunks, per-document checksums, rejected files, and the stamps of
    the files read (None for a corpus not scanned from folders)."""

    chunks: tuple[Chunk, ...]
    documents: dict[str, str]
    rejected: tuple[Rejected, ...] = ()
    sources: SourceRecord | None = None


class _Unusable(Exception):
    pass


def scan(sources: Iterable[Path], *, max_chars: int, progress: Progress | None = None) -> Corpus:
    """Every chunk of every runbook under `sources`, in a stable order; missing folders are skipped."""
    folders = [source for source in sources if source.is_dir()]
    files = [(source, f) for source in folders for f in documents_in(source)]
    chunks: list[Chunk] = []
    documents: dict[str, str] = {}
    rejected: list[Rejected] = []
    stamps: dict[str, FileStamp] = {}
    for done, (source, file) in enumerate(files, start=1):
        relative = file.relative_to(source.parent).as_posix()
        try:
            raw = _read(file, relative, stamps)
            sidecar = file.with_name(file.name + SIDECAR)
            side = _read(sidecar, f"{relative}{SIDECAR}", stamps) if sidecar.is_file() else None
            extra = _yaml_mapping(side.decode("utf-8")) if side is not None else {}
            text = to_markdown(raw.decode("utf-8"), file.suffix.lower())
            found = list(chunk_markdown(text, relative, max_chars=max_chars, meta=extra))
        except (OSError, UnicodeDecodeError, yaml.YAMLError, _Unusable) as exc:
            rejected.append(Rejected(relative, _reason(exc)))
        else:
            if found:
                documents[relative] = hashlib.sha256(raw + repr(extra).encode()).hexdigest()
                chunks.extend(found)
        if progress is not None:
            progress(done, len(files), relative)
    record = SourceRecord(tuple(str(f.resolve()) for f in folders), stamps)
    return Corpus(tuple(chunks), documents, tuple(rejected), record)


def _read(path: Path, key: str, stamps: dict[str, FileStamp]) -> bytes:
    """The file's bytes, its stamp recorded under `key`: stat first, then the digest of what was read."""
    before = stat_of(path)
    try:
        data = path.read_bytes()
    except OSError:
        stamps[key] = stamp(before, None)
        raise
    stamps[key] = stamp(before, data)
    return data


def load_chunks(sources: Iterable[Path], *, max_chars: int) -> Iterator[Chunk]:
    """Every chunk under `sources` (rejected files skipped); see `scan` for the details."""
    yield from scan(sources, max_chars=max_chars).chunks


def chunk_markdown(text: str, path: str, *, max_chars: int, meta: dict[str, object] | None = None) -> Iterator[Chunk]:
    """Split one Markdown document at its headings; long sections are split at paragraphs."""
    front, body = _front_matter(text)
    info = {**front, **(meta or {})}
    if info.get("bookHidden") or not body.strip():
        return
    tenant = str(info.get("tenant", "global"))
    sensitivity = str(info.get("sensitivity", "public"))
    if not _TENANT.match(tenant):
        raise _Unusable(f"tenant {tenant!r} is not a valid tenant name")
    if sensitivity not in SENSITIVITY:
        raise _Unusable(f"sensitivity {sensitivity!r} is not one of {', '.join(SENSITIVITY)}")
    raw_tags = info.get("tags") or []
    tags = tuple(str(t) for t in raw_tags) if isinstance(raw_tags, list) else (str(raw_tags),)
    owner = str(info.get("owner", ""))
    title = _title(info, body, path)
    for heading, section in _sections(body, str(info.get("title", Path(path).stem))):
        for piece in _split(section, max_chars):
            yield Chunk(path, heading, piece, tenant, sensitivity, tags, owner, title)


def _title(info: dict[str, object], body: str, path: str) -> str:
    """A readable title: the front matter's, else the first heading's, else the file name's, with CamelCase
    and dashes opened into words (`KubePodNotReady` -> `Kube Pod Not Ready`)."""
    first = next((m.group(2) for line in body.splitlines() if (m := _HEADING.match(line))), None)
    raw = str(info.get("title") or first or Path(path).stem)
    return " ".join(_CAMEL.sub(" ", raw).replace("_", " ").replace("-", " ").split())


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(exc, OSError):
        return f"unreadable: {exc.strerror or exc}"
    if isinstance(exc, yaml.YAMLError):
        return "invalid YAML metadata"
    return str(exc)


def _yaml_mapping(text: str) -> dict[str, object]:
    loaded = yaml.safe_load(text)
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise _Unusable("metadata is not a mapping")
    return loaded


def _front_matter(text: str) -> tuple[dict[str, object], str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    return _yaml_mapping(match.group(1)), text[match.end() :]


def _sections(body: str, title: str) -> Iterator[tuple[str, str]]:
    path: list[str] = []
    lines: list[str] = []
    heading = title
    for line in body.splitlines():
        match = _HEADING.match(line)
        if match:
            if _has_content(lines):
                yield heading, "\n".join(lines).strip()
            level = len(match.group(1))
            path = [*path[: level - 1], match.group(2)]
            heading = " > ".join(path)
            lines = [line]
        else:
            lines.append(line)
    if _has_content(lines):
        yield heading, "\n".join(lines).strip()


def _has_content(lines: list[str]) -> bool:
    """Whether a section holds more than its heading line (heading-only sections are not chunks)."""
    return any(line.strip() and not _HEADING.match(line) for line in lines)


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
