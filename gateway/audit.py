"""The append-only, hash-chained audit log, in SQLite by default or PostgreSQL, anchored by signed checkpoints.

Each record's hash covers its content and the previous record's hash: `hash = sha256(prev_hash || canonical(row))`.
On its own the chain only shows damage inside it: cutting off the tail, or editing a record and re-hashing the rest,
leaves a chain that is still consistent. So its head is checkpointed (`gateway.checkpoints`): signed with a key kept
outside the database, and stored in the database and in an append-only anchor file. `verify` reports every
finding by sequence number:

    kind             meaning
    edited           a record's content does not match its hash
    deleted          records missing in the middle (a gap in seq)
    reordered        a record's prev_hash is not the previous record's hash
    truncated        the chain ends before a signed checkpoint's seq (the last record(s), or all, were deleted)
    rewritten        the chain is consistent, but its hash at a checkpoint's seq is not the signed one
    forged           as rewritten, and the record there was written after that checkpoint: the signed tail was
                     replaced by appended records (the label trusts the record's timestamp; the detection does not)
    bad_signature    a checkpoint whose MAC does not verify with the key (or is another key's, or unreadable)
    anchor_mismatch  a checkpoint in the anchor (or exported) file that the database lacks or contradicts

What it cannot catch, by design (the key never lives in the database): records appended, edited or deleted after
the last checkpoint by someone with database write access, as long as they keep the chain consistent; the next
checkpoint then signs them as they are. `verify` says how many records are not yet anchored; checkpoint more often
to narrow that window, and export checkpoints (`netops audit checkpoint --export`) to a place the database's
attacker cannot reach. Whoever holds both the key and the database can rewrite anything; whoever can edit the
anchor file without the key can only make checkpoints fail to verify (reported, never trusted), or delete it.
Without a `Checkpointer`, `verify` checks the chain alone, as before.

Group commit: concurrent appends are written together. Each `append` (or `append_async`) hands its record to one
writer thread per `AuditLog` (started on demand, gone when idle) and waits; the writer takes every record pending,
writes them in one transaction in arrival order (consecutive seqs, each hash chained to the one before) and only
after the commit resolves each caller's future. So a caller still returns only once its own record is durable, and
a busy gateway pays one commit (one fsync) per batch instead of one per record. Across processes the chain stays
linear: the transaction takes the database's write lock before it reads the tip (`BEGIN IMMEDIATE` on SQLite, a
transaction-scoped advisory lock on PostgreSQL), and a seq taken meanwhile by a writer without that lock is retried.

Example:
    log = AuditLog(engine, checkpoints=Checkpointer.in_dir(Path("var")))
    log.append(ChatCompleted(tenant="acme", request_id="r1", route="netops-assistant", ...))
    await log.append_async(event)  # the same, awaited without holding a thread
    log.verify()  # VerifyReport(ok=True, checked=1, ..., findings=())
    log.close()  # at shutdown: signs the head this process appended last
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import json
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from gateway.checkpoints import AuditKey, Checkpoint, Checkpointer, CheckpointSchedule, Head, iso_utc, read_checkpoints
from gateway.db import AUDIT
from gateway.events import AuditEvent

__all__ = ["AuditEvent", "AuditLog", "Finding", "Tamper", "VerifyReport"]

GENESIS = "0" * 64
_HASHED = ("seq", "ts", "tenant", "request_id", "kind", "payload")
_MAX_BATCH = 512  # records per transaction
_IDLE_S = 2.0  # the writer thread exits after this long without work (and restarts on the next append)
_PG_LOCK = 0x6E65746F7073  # pg_advisory_xact_lock key serialising appends across replicas ("netops")
_Pending = tuple[dict[str, Any], "Future[Head]"]


class Tamper(enum.StrEnum):
    """The kinds of tampering `verify` tells apart (see the module docstring)."""

    EDITED = "edited"
    DELETED = "deleted"
    REORDERED = "reordered"
    TRUNCATED = "truncated"
    REWRITTEN = "rewritten"
    FORGED = "forged"
    BAD_SIGNATURE = "bad_signature"
    ANCHOR_MISMATCH = "anchor_mismatch"


@dataclass(frozen=True, slots=True)
class Finding:
    """One sign of tampering, at a sequence number (0 for a checkpoint file entry that is not a checkpoint)."""

    kind: Tamper
    seq: int
    detail: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The result of recomputing the chain and checking it against the signed checkpoints.

    `findings` are sorted by seq; `ok`, `first_bad_seq` and `reason` summarise them (`reason` is the first
    finding's detail and kind). `checked` counts the records read. `anchor` is the latest checkpoint the chain
    matched (None: not anchored), and `unanchored` the records after it, which no checkpoint vouches for yet.

    Example:
        report = log.verify()  # after the last record was deleted
        report.ok, report.first_bad_seq  # (False, 110)
        [(f.kind, f.seq) for f in report.findings]  # [(Tamper.TRUNCATED, 110)]
    """

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""
    findings: tuple[Finding, ...] = ()
    anchor: Checkpoint | None = None

    @classmethod
    def of(cls, checked: int, findings: Iterable[Finding], anchor: Checkpoint | None) -> VerifyReport:
        ordered = tuple(sorted(findings, key=lambda f: (f.seq, f.kind)))
        if not ordered:
            return cls(True, checked, anchor=anchor)
        first = ordered[0]
        return cls(False, checked, first.seq, f"{first.detail} ({first.kind})", ordered, anchor)

    @property
    def unanchored(self) -> int:
        """How many records follow the anchor (all of them when nothing is anchored)."""
        return self.checked - (self.anchor.seq if self.anchor else 0)


class AuditLog:
    """Appends events to the chain, checkpoints its head, and verifies both.

    `checkpoints=None` (the default) turns checkpoints off: nothing is signed and `verify` checks the chain alone.
    """

    def __init__(self, engine: Engine, *, checkpoints: Checkpointer | None = None) -> None:
        self._engine = engine
        self._checkpoints = checkpoints
        self._schedule = CheckpointSchedule(checkpoints, engine) if checkpoints else None
        self._cond = threading.Condition()
        self._pending: list[_Pending] = []
        self._writer: threading.Thread | None = None
        self._stopping = False

    def append(self, event: AuditEvent) -> int:
        """Write one record and wait for its commit; returns its sequence number. Safe across threads and processes."""
        return self._submit(event).result().seq

    async def append_async(self, event: AuditEvent) -> int:
        """`append` for the event loop: waits for the commit without holding a thread."""
        return (await asyncio.wrap_future(self._submit(event))).seq

    def _submit(self, event: AuditEvent) -> Future[Head]:
        row = {
            "tenant": event.tenant,
            "request_id": event.request_id,
            "kind": event.kind,
            "payload": _canonical(event.payload()),
        }
        done: Future[Head] = Future()
        with self._cond:
            self._pending.append((row, done))
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_batches, name="audit-writer", daemon=True)
                self._writer.start()
            else:
                self._cond.notify()
        return done

    def _write_batches(self) -> None:
        while True:
            with self._cond:
                if not self._pending and not self._stopping:
                    self._cond.wait(_IDLE_S)
                if not self._pending:
                    self._writer = None
                    return
                batch, self._pending = self._pending[:_MAX_BATCH], self._pending[_MAX_BATCH:]
            self._commit(batch)

    def _commit(self, batch: list[_Pending]) -> None:
        """Write a batch in one transaction, then resolve its futures (with the error, if it failed)."""
        try:
            heads = self._append_with_retries([row for row, _ in batch])
        except Exception as exc:  # noqa: BLE001 - handed to every waiting caller, who re-raises it
            for _, done in batch:
                done.set_exception(exc)
            return
        for (_, done), head in zip(batch, heads, strict=True):
            if self._schedule is not None:
                self._schedule.observe(head)
            done.set_result(head)

    def _append_with_retries(self, rows: list[dict[str, Any]]) -> list[Head]:
        for _ in range(20):
            try:
                return self._append_once(rows)
            except IntegrityError:  # a writer without the lock took the same seq: re-read the tip
                continue
        raise RuntimeError("audit log: could not append after 20 attempts")

    def _append_once(self, rows: list[dict[str, Any]]) -> list[Head]:
        with self._engine.connect() as conn:
            _lock_for_append(conn)
            tip = _tip(conn)
            seq, prev = (tip.seq + 1, tip.hash) if tip else (1, GENESIS)
            now = time.time()
            heads: list[Head] = []
            values: list[dict[str, Any]] = []
            for offset, row in enumerate(rows):
                full = {"seq": seq + offset, "ts": now, **row}
                head = Head(seq + offset, _hash(prev, full))
                values.append({**full, "prev_hash": prev, "hash": head.hash})
                heads.append(head)
                prev = head.hash
            conn.execute(insert(AUDIT), values)
            conn.commit()
        return heads

    def checkpoint_now(self) -> Checkpoint | None:
        """Sign the chain's current head (the database's last record) now; None if checkpoints are off or no records.

        It signs what the database holds: `verify` first if it may have been touched (`netops audit checkpoint` does).
        """
        if self._checkpoints is None:
            return None
        with self._engine.connect() as conn:
            tip = _tip(conn)
        return None if tip is None else self._checkpoints.write(self._engine, tip)

    def close(self) -> None:
        """Finish the pending appends, stop the checkpoint thread and sign the last head this process appended.
        Call it at shutdown (the log stays usable: a later append starts a new writer)."""
        with self._cond:
            writer, self._stopping = self._writer, True
            self._cond.notify()
        if writer is not None:
            writer.join()
        with self._cond:
            self._stopping = False
        if self._schedule is not None:
            self._schedule.close()

    def count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(AUDIT)).scalar_one())

    def records(self, *, tenant: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        query = select(AUDIT).order_by(AUDIT.c.seq.desc()).limit(limit)
        if tenant:
            query = query.where(AUDIT.c.tenant == tenant)
        with self._engine.connect() as conn:
            return [{**r, "payload": json.loads(r["payload"])} for r in conn.execute(query).mappings()]

    def signed_checkpoints(self, *, limit: int = 100) -> list[Checkpoint]:
        """The checkpoints of the latest `limit` seqs whose MAC verifies (anchor file and database), by seq."""
        if self._checkpoints is None:
            return []
        by_seq = _Signed.load(self._checkpoints, self._engine, None).by_seq
        return [cp for seq in sorted(by_seq)[-limit:] for cp in by_seq[seq]]

    def verify(self, *, checkpoints_file: Path | None = None) -> VerifyReport:
        """Recompute every hash in order and check the chain against the signed checkpoints; report every finding.

        The checkpoints come from the anchor file (or `checkpoints_file`, an export) and from the database; each
        MAC is verified with the key. They are read before the records, so a checkpoint written meanwhile by a
        running gateway never makes a consistent chain look truncated. Without a `Checkpointer` there is no key
        to check signatures with, so only the chain is checked (and `checkpoints_file` is not read).
        """
        signed = _Signed.load(self._checkpoints, self._engine, checkpoints_file) if self._checkpoints else _Signed()
        check = _ChainCheck(signed.by_seq)
        with self._engine.connect() as conn:
            for r in conn.execute(select(AUDIT).order_by(AUDIT.c.seq)).mappings():
                check.feed(r)
        return VerifyReport.of(check.checked, [*signed.findings, *check.finish()], check.anchor)


@dataclass
class _Signed:
    """The checkpoints whose MAC verifies, by seq (one per distinct head), and findings about the others."""

    by_seq: dict[int, list[Checkpoint]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @classmethod
    def load(cls, checkpointer: Checkpointer, engine: Engine, source: Path | None) -> _Signed:
        outside = read_checkpoints(source) if source else checkpointer.anchored()  # before the database rows
        inside = checkpointer.stored(engine)
        signed = cls()
        for number in outside.unreadable:
            signed.findings.append(
                Finding(Tamper.BAD_SIGNATURE, 0, f"{outside.path} entry {number} is not a checkpoint")
            )
        outside_heads = signed._admit(checkpointer.key, outside.checkpoints, origin=str(outside.path))
        inside_heads = signed._admit(checkpointer.key, inside, origin="database")
        signed._compare(outside_heads, inside_heads, origin=str(outside.path))
        return signed

    def _admit(self, key: AuditKey, checkpoints: Sequence[Checkpoint], *, origin: str) -> dict[int, set[str]]:
        heads: dict[int, set[str]] = {}
        for cp in checkpoints:
            if not key.signed(cp):
                other = (
                    f"; signed with key {cp.key_id}, not the configured {key.key_id}" if cp.key_id != key.key_id else ""
                )
                self.findings.append(
                    Finding(Tamper.BAD_SIGNATURE, cp.seq, f"checkpoint signature invalid ({origin}{other})")
                )
                continue
            heads.setdefault(cp.seq, set()).add(cp.head)
            known = self.by_seq.setdefault(cp.seq, [])
            if all(k.head != cp.head for k in known):
                known.append(cp)
        return heads

    def _compare(self, outside: Mapping[int, set[str]], inside: Mapping[int, set[str]], *, origin: str) -> None:
        for seq, heads in sorted(outside.items()):
            if seq not in inside:
                detail = f"the checkpoint in {origin} has no valid copy in the database (removed or altered there)"
            elif heads - inside[seq]:
                detail = f"the database's signed checkpoint names another head than the one in {origin}"
            else:
                continue
            self.findings.append(Finding(Tamper.ANCHOR_MISMATCH, seq, detail))


class _ChainCheck:
    """Walks the records in seq order, checking seq, links, hashes and signed heads; collects findings."""

    def __init__(self, signed: Mapping[int, list[Checkpoint]]) -> None:
        self._signed = signed
        self._prev = GENESIS
        self._next = 1
        self._last_match = 0  # seq of the last checkpoint the chain matched
        self._diverged = False  # report a divergence once, not at every checkpoint after it
        self.checked = 0
        self.anchor: Checkpoint | None = None
        self.findings: list[Finding] = []

    def feed(self, r: RowMapping) -> None:
        finding = self._record_finding(r)
        if finding is not None:
            self.findings.append(finding)
        self._against_checkpoints(r)
        self._prev, self._next = r["hash"], r["seq"] + 1
        self.checked += 1

    def finish(self) -> list[Finding]:
        beyond = [cp for seq, cps in self._signed.items() if seq >= self._next for cp in cps]
        if beyond:
            last = max(beyond, key=lambda cp: cp.seq)
            ends = f"the chain ends at seq {self._next - 1}" if self._next > 1 else "the chain is empty"
            self.findings.append(
                Finding(
                    Tamper.TRUNCATED,
                    self._next,
                    f"{ends}, but a checkpoint signed {last.when} covers seq {last.seq}: "
                    f"records {self._next}..{last.seq} (and any after) were deleted",
                )
            )
        return self.findings

    def _record_finding(self, r: RowMapping) -> Finding | None:
        seq = r["seq"]
        if seq != self._next:
            return Finding(Tamper.DELETED, seq, f"record(s) missing before seq {seq}: {self._next}..{seq - 1}")
        if r["prev_hash"] != self._prev:
            return Finding(Tamper.REORDERED, seq, "previous-hash link broken")
        if _hash(self._prev, {k: r[k] for k in _HASHED}) != r["hash"]:
            return Finding(Tamper.EDITED, seq, "content does not match its hash")
        return None

    def _against_checkpoints(self, r: RowMapping) -> None:
        checkpoints = self._signed.get(r["seq"])
        if not checkpoints:
            return
        match = next((cp for cp in checkpoints if cp.head == r["hash"]), None)
        if match is not None:
            self.anchor, self._last_match, self._diverged = match, match.seq, False
            return
        if not self._diverged:
            self.findings.append(self._divergence(r, checkpoints[0]))
        self._diverged = True

    def _divergence(self, r: RowMapping, cp: Checkpoint) -> Finding:
        span = f"{self._last_match + 1}..{cp.seq}"
        if r["ts"] > cp.ts:
            return Finding(
                Tamper.FORGED,
                cp.seq,
                f"record written {iso_utc(r['ts'])}, after the checkpoint signed {cp.when} for another head: "
                f"signed records in {span} were cut and forged ones appended",
            )
        return Finding(
            Tamper.REWRITTEN,
            cp.seq,
            f"hash differs from the checkpoint signed {cp.when}: a record in {span} was changed and the rest re-hashed",
        )


def _lock_for_append(conn: Connection) -> None:
    """Take the database's write lock before reading the tip, so appends from several processes stay linear."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # waits up to busy_timeout for other writers
    elif conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})


def _tip(conn: Connection) -> Head | None:
    tip = conn.execute(select(AUDIT.c.seq, AUDIT.c.hash).order_by(AUDIT.c.seq.desc()).limit(1)).first()
    return Head(tip[0], tip[1]) if tip else None


def _canonical(data: object) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def _hash(prev: str, row: Mapping[str, Any]) -> str:
    return hashlib.sha256((prev + _canonical(row)).encode()).hexdigest()
