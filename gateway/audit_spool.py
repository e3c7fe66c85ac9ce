"""The audit spool: a local, durable journal of the audit records the state store could not take.

While the store is unreachable, `AuditLog` writes each batch here instead (one JSON line per record, fsynced
before the caller is answered, so a spooled record is as durable as a committed one) and keeps serving. Once the
store answers again, the spooled records are appended to the chain before any newer one, oldest first, in one
transaction per drain, and the journals are removed. Every gateway process writes its own journal in
`<data_dir>/audit-spool/`, and any process may drain all of them (a journal left by a process that has exited
is drained by the next one that starts or appends). A record whose append committed just before a crash, with
its journal still on disk, is recognised by its time, request id and kind and not appended twice.

Journals are locked with `flock` while written or drained; a writer that finds its journal drained (removed) under
it starts a new one, so a record is never written into a journal that is gone.

Example:
    spool = AuditSpool.in_dir(Path("var"))  # var/audit-spool/
    spool.write([{"ts": 1.0, "tenant": "acme", "request_id": "r1", "kind": "chat.completed", "payload": "{}"}])
    spool.drain(append=log_rows, known=rows_in_chain)  # 1
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["AuditSpool", "RowKey", "row_key"]

RowKey = tuple[float, str, str]


def row_key(row: dict[str, Any]) -> RowKey:
    """What tells a spooled record apart from any other: when, which request, what."""
    return float(row["ts"]), str(row["request_id"]), str(row["kind"])


class AuditSpool:
    """One process's journal, and the drain of every process's journals in one directory."""

    @classmethod
    def in_dir(cls, data_dir: Path) -> AuditSpool:
        """The spool of a data directory (`<data_dir>/audit-spool/`)."""
        return cls(data_dir / "audit-spool")

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._path = self._new_path()
        self._waiting = sum(1 for _ in self._rows_of(self._journals()))  # left by an earlier process
        self._looked = time.monotonic()  # when `pending` last looked for other processes' journals

    @property
    def waiting(self) -> int:
        """Records this process knows are spooled and not yet in the chain (its own, and those found at start)."""
        return self._waiting

    def pending(self, *, every_s: float = 1.0) -> bool:
        """Whether a drain is due: this process has spooled records, or (looked for at most every `every_s`)
        another process left a journal. Cheap enough to ask before every batch."""
        if self._waiting:
            return True
        now = time.monotonic()
        if now - self._looked < every_s:
            return False
        self._looked = now
        return bool(self._journals())

    def write(self, rows: list[dict[str, Any]]) -> None:
        """Append rows to this process's journal and fsync it; raises OSError if the disk refuses."""
        data = b"".join(json.dumps(row, separators=(",", ":")).encode() + b"\n" for row in rows)
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            while True:
                with self._path.open("ab") as journal:
                    fcntl.flock(journal, fcntl.LOCK_EX)
                    if not _still_linked(journal, self._path):  # drained and removed while we waited for the lock
                        self._path = self._new_path()
                        continue
                    journal.write(data)
                    journal.flush()
                    os.fsync(journal.fileno())
                    break
            _fsync_dir(self.directory)
            self._waiting += len(rows)

    def drain(
        self,
        append: Callable[[list[dict[str, Any]]], object],
        known: Callable[[list[dict[str, Any]]], set[RowKey]],
    ) -> int:
        """Append every spooled record (all journals in the directory, oldest first) with `append`, skipping those
        `known` says are in the chain already, then remove the journals; returns how many were appended.
        Raises what `append` raises (the store is still down): the journals stay for the next drain."""
        with self._lock:
            held: list[tuple[Path, BinaryIO]] = []
            try:
                for path in self._journals():
                    journal = path.open("rb")
                    try:
                        fcntl.flock(journal, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:  # another process is draining or writing it: its turn
                        journal.close()
                        continue
                    held.append((path, journal))
                rows = sorted(self._rows_of(p for p, _ in held), key=lambda r: float(r["ts"]))
                present = known(rows) if rows else set()
                fresh = [r for r in rows if row_key(r) not in present]
                if fresh:
                    append(fresh)
                for path, _ in held:
                    path.unlink()
                if held:
                    _fsync_dir(self.directory)
                self._waiting = sum(1 for _ in self._rows_of(self._journals()))
                return len(fresh)
            finally:
                for _, opened in held:
                    opened.close()

    def _journals(self) -> list[Path]:
        return sorted(self.directory.glob("*.jsonl")) if self.directory.is_dir() else []

    def _new_path(self) -> Path:
        return self.directory / f"{time.time_ns()}-{os.getpid()}.jsonl"

    @staticmethod
    def _rows_of(paths: Iterable[Path]) -> Iterable[dict[str, Any]]:
        for path in paths:
            with path.open("rb") as journal:
                for line in journal:
                    if line.endswith(b"\n"):  # a line cut short by a crash mid-write was never acknowledged
                        yield json.loads(line)


def _still_linked(journal: BinaryIO, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(journal.fileno()).st_ino
    except FileNotFoundError:
        return False


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
