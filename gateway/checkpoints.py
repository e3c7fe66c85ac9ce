"""Signed checkpoints of the audit chain's head: an anchor that someone with database access alone cannot rewrite.

A checkpoint says "record `seq` of the chain has hash `head`, and the chain held `count` records then"
(`count == seq` in a contiguous chain; it is kept so an exported checkpoint reads on its own). It is signed with
HMAC-SHA256 under a key that lives in a file outside the database (default `<data_dir>/audit.key`: 32 random bytes,
mode 0600, created on first use; `key_id` is a short fingerprint of it). Each checkpoint is written twice:
to the `audit_checkpoints` table, then as one line appended to `<data_dir>/audit-checkpoints.jsonl`.
`gateway.audit.AuditLog.verify` checks the chain against both.

When checkpoints are written (`CheckpointSchedule`, one daemon thread per `AuditLog`, started by the first append):
- every `every_records` records: `AuditLog.append` hands the head it just wrote to the thread (a queue put, O(1));
- every `every_seconds` seconds, if this process appended since the last checkpoint;
- on `AuditLog.close()` (gateway shutdown), and on `netops audit checkpoint` (`AuditLog.checkpoint_now()`).
Writing happens off the request path and outside the append transaction, so it never holds up or reorders the
chain. Replicas (several processes on PostgreSQL) each checkpoint the records they appended; two checkpoints for the
same seq are harmless (the table keeps the first, each process's anchor file keeps its own). All replicas must share
one key file; a checkpoint made with another key is reported, not trusted.

Deliberately left out: key rotation (a new key makes older checkpoints unverifiable, and verify says so) and any
network anchor (export the checkpoints with `netops audit checkpoint --export` and store them elsewhere).

Example:
    checkpoints = Checkpointer.in_dir(Path("var"))  # var/audit.key, var/audit-checkpoints.jsonl
    log = AuditLog(engine, checkpoints=checkpoints)
    ...
    log.close()  # signs the last head this process appended
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import queue
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from gateway.db import AUDIT_CHECKPOINTS
from gateway.errors import GatewayError

__all__ = [
    "ANCHOR_FILE",
    "KEY_FILE",
    "AuditKey",
    "Checkpoint",
    "CheckpointFile",
    "CheckpointSchedule",
    "Checkpointer",
    "Head",
    "export_checkpoints",
    "iso_utc",
    "read_checkpoints",
]

KEY_FILE = "audit.key"
ANCHOR_FILE = "audit-checkpoints.jsonl"
KEY_BYTES = 32
EXPORT_FORMAT = "netops-audit-checkpoints/1"

log = logging.getLogger("netops.audit")


class Head(NamedTuple):
    """A position in the chain: record `seq` has hash `hash`."""

    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed chain head. `mac` = HMAC-SHA256(key, `message()`); it covers every other field.

    Example:
        Checkpoint.from_json(cp.to_json()) == cp  # True
    """

    seq: int
    head: str
    count: int
    ts: float
    key_id: str
    mac: str

    def message(self) -> bytes:
        """The exact bytes the MAC covers (versioned, canonical JSON of every field but `mac`)."""
        body = {"v": 1, "seq": self.seq, "head": self.head, "count": self.count, "ts": self.ts, "key_id": self.key_id}
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[Any, Any]) -> Checkpoint:
        """Parse one checkpoint; raises ValueError when a field is missing or of the wrong type."""
        try:
            return cls(
                seq=int(data["seq"]),
                head=str(data["head"]),
                count=int(data["count"]),
                ts=float(data["ts"]),
                key_id=str(data["key_id"]),
                mac=str(data["mac"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a checkpoint: {exc!r}") from exc

    @property
    def when(self) -> str:
        return iso_utc(self.ts)


class AuditKey:
    """The key that signs checkpoints. It lives in a file, never in the database, and is never logged.

    Example:
        key = AuditKey.load_or_create(Path("var/audit.key"))
        cp = key.sign(Head(7, "ab12..."), ts=time.time())
        key.signed(cp)  # True
    """

    __slots__ = ("_secret", "key_id")

    def __init__(self, secret: bytes) -> None:
        if len(secret) < KEY_BYTES:
            raise GatewayError(f"the audit key must be at least {KEY_BYTES} bytes, not {len(secret)}")
        self._secret = secret
        self.key_id = hashlib.sha256(b"netops-audit-key-id:" + secret).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"AuditKey(key_id={self.key_id!r})"

    @classmethod
    def load_or_create(cls, path: Path) -> AuditKey:
        """Read the key file, creating it first (32 random bytes, mode 0600) if it does not exist.

        Refuses a key file that group or others may read or write. Safe when several processes start at
        once: the file is linked into place complete, and a process that loses the race reads the winner's key.
        """
        if not path.exists():
            _create_key_file(path)
        loose = path.stat().st_mode & 0o077
        if loose:
            raise GatewayError(f"audit key {path} is open to group or others (mode {oct(loose)}); chmod 600 it")
        return cls(path.read_bytes())

    def sign(self, head: Head, *, ts: float) -> Checkpoint:
        unsigned = Checkpoint(head.seq, head.hash, head.seq, ts, self.key_id, mac="")
        return replace(unsigned, mac=self._mac(unsigned))

    def signed(self, cp: Checkpoint) -> bool:
        """Whether `cp` names this key and carries a MAC this key made (compared in constant time)."""
        return cp.key_id == self.key_id and hmac.compare_digest(cp.mac.encode(), self._mac(cp).encode())

    def _mac(self, cp: Checkpoint) -> str:
        return hmac.new(self._secret, cp.message(), hashlib.sha256).hexdigest()


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(KEY_BYTES))
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):  # another process created it first: everyone uses that one
            os.link(tmp, path)
    finally:
        tmp.unlink()


@dataclass(frozen=True, slots=True)
class CheckpointFile:
    """The checkpoints read from an anchor or export file, and the entries that were not checkpoints."""

    path: Path
    checkpoints: tuple[Checkpoint, ...]
    unreadable: tuple[int, ...]  # 1-based line (anchor file) or entry (export) numbers


def read_checkpoints(path: Path) -> CheckpointFile:
    """Read an anchor file (JSON lines) or an export (`{"checkpoints": [...]}`); a missing file reads as empty.

    A last line without its newline is one still being written (or cut short by a crash): it is skipped, not
    reported, since an unfinished line vouches for nothing either way.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return CheckpointFile(path, (), ())
    good: list[Checkpoint] = []
    bad: list[int] = []
    for number, entry in _entries(text):
        try:
            good.append(Checkpoint.from_json(entry))
        except ValueError:
            bad.append(number)
    return CheckpointFile(path, tuple(good), tuple(bad))


def _entries(text: str) -> list[tuple[int, Any]]:
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("checkpoints"), list):
        return list(enumerate(doc["checkpoints"], 1))
    lines = text.split("\n")[:-1]  # complete lines only
    entries: list[tuple[int, Any]] = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                entries.append((number, json.loads(line)))
            except ValueError:
                entries.append((number, None))
    return entries


def export_checkpoints(path: Path, checkpoints: Sequence[Checkpoint]) -> None:
    """Write checkpoints as one JSON document, as `read_checkpoints` and `netops audit verify --checkpoints` read."""
    doc = {
        "format": EXPORT_FORMAT,
        "exported_at": iso_utc(time.time()),
        "checkpoints": [c.to_json() for c in checkpoints],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def iso_utc(ts: float) -> str:
    """A Unix time as ISO 8601 UTC to the second, e.g. `2025-01-31T12:00:00Z`."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Checkpointer:
    """The checkpoint settings and key; signs a head and writes it to the database table and the anchor file.

    Example:
        checkpoints = Checkpointer(Path("var/audit.key"), every_records=100, every_seconds=30)
        checkpoints.write(engine, Head(7, "ab12..."))  # -> Checkpoint(seq=7, ...), in both places
    """

    def __init__(
        self,
        key_path: Path,
        *,
        anchor_path: Path | None = None,
        every_records: int = 100,
        every_seconds: float = 30.0,
    ) -> None:
        if every_records < 1 or every_seconds <= 0:
            raise ValueError("every_records must be >= 1 and every_seconds > 0")
        self.key = AuditKey.load_or_create(key_path)
        self.anchor_path = anchor_path or key_path.with_name(ANCHOR_FILE)
        self.every_records = every_records
        self.every_seconds = every_seconds

    @classmethod
    def in_dir(cls, data_dir: Path, *, every_records: int = 100, every_seconds: float = 30.0) -> Checkpointer:
        """The default layout: `<data_dir>/audit.key` and `<data_dir>/audit-checkpoints.jsonl`."""
        return cls(
            data_dir / KEY_FILE,
            anchor_path=data_dir / ANCHOR_FILE,
            every_records=every_records,
            every_seconds=every_seconds,
        )

    def write(self, engine: Engine, head: Head) -> Checkpoint:
        """Sign `head` now and store it: the database first, then the anchor file.

        That order means a checkpoint in the anchor file always has its row, unless someone removed it.
        A row that already exists for this seq (another replica signed it) is left as it is.
        """
        cp = self.key.sign(head, ts=time.time())
        with contextlib.suppress(IntegrityError), engine.begin() as conn:
            conn.execute(insert(AUDIT_CHECKPOINTS).values(**cp.to_json()))
        line = (json.dumps(cp.to_json(), sort_keys=True) + "\n").encode()
        self.anchor_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.anchor_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:  # one write of one whole line with O_APPEND: lines from several processes do not interleave
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        return cp

    def stored(self, engine: Engine) -> list[Checkpoint]:
        """Every checkpoint in the database table, by seq (unverified: check each with `key.signed`)."""
        with engine.connect() as conn:
            rows = conn.execute(select(AUDIT_CHECKPOINTS).order_by(AUDIT_CHECKPOINTS.c.seq)).mappings().all()
        return [Checkpoint.from_json(row) for row in rows]

    def anchored(self) -> CheckpointFile:
        """The checkpoints in the anchor file (unverified)."""
        return read_checkpoints(self.anchor_path)


class CheckpointSchedule:
    """Decides when to checkpoint the heads one `AuditLog` appends, and writes them on a daemon thread.

    `observe` is the only call on the request path: a lock, two comparisons and at most one queue put.

    Example:
        schedule = CheckpointSchedule(checkpoints, engine)
        schedule.observe(Head(100, "ab12..."))  # every_records=100: the thread signs seq 100
        schedule.close()  # waits for the thread, then signs the last head if it moved
    """

    def __init__(self, checkpointer: Checkpointer, engine: Engine) -> None:
        self._checkpointer = checkpointer
        self._engine = engine
        self._lock = threading.Lock()
        self._head: Head | None = None  # the last record this process appended
        self._queued = 0  # seq of the last head handed to the thread
        self._signed = 0  # seq of the last head signed
        self._thread: threading.Thread | None = None
        self._queue: queue.SimpleQueue[Head | None] = queue.SimpleQueue()

    def observe(self, head: Head) -> None:
        """Note a record this process appended; hand it to the thread if `every_records` have passed."""
        with self._lock:
            self._head = head
            if self._thread is None:
                self._queue = queue.SimpleQueue()
                self._thread = threading.Thread(target=self._run, args=(self._queue,), name="audit-checkpoints")
                self._thread.daemon = True
                self._thread.start()
            if head.seq - self._queued >= self._checkpointer.every_records:
                self._queued = head.seq
                self._queue.put(head)

    def close(self) -> None:
        """Stop the thread after the heads already handed to it, then sign the last head if it moved."""
        with self._lock:
            thread, self._thread = self._thread, None
            work = self._queue
        if thread is not None:
            work.put(None)
            thread.join()
        head = self._unsigned_head()
        if head is not None:
            self._sign(head)

    def _run(self, work: queue.SimpleQueue[Head | None]) -> None:
        while True:
            try:
                head = work.get(timeout=self._checkpointer.every_seconds)
            except queue.Empty:
                head = self._unsigned_head()
                if head is not None:
                    self._sign(head)
                continue
            if head is None:
                return
            self._sign(head)

    def _unsigned_head(self) -> Head | None:
        with self._lock:
            return self._head if self._head is not None and self._head.seq > self._signed else None

    def _sign(self, head: Head) -> None:
        try:
            self._checkpointer.write(self._engine, head)
        except (SQLAlchemyError, OSError) as exc:  # the next trigger retries; the chain itself is unaffected
            log.warning("audit checkpoint for seq %d not written: %s", head.seq, exc)
            return
        with self._lock:
            self._signed = max(self._signed, head.seq)
