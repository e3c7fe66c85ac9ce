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

Spool: with an `AuditSpool`, a batch the store cannot take (unreachable) is written to a local durable journal
instead and appended, in order and before anything newer, once the store answers (`gateway.audit_spool`).

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
import json
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from gateway.audit_spool import AuditSpool, RowKey
from gateway.audit_verify import GENESIS, ChainCheck, Finding, Signed, Tamper, VerifyReport, canonical, chain_hash
from gateway.checkpoints import Checkpoint, Checkpointer, CheckpointSchedule, Head
from gateway.db import AUDIT, store_unreachable
from gateway.events import AuditEvent

__all__ = ["AuditEvent", "AuditLog", "Finding", "Tamper", "VerifyReport"]

_MAX_BATCH = 512  # records per transaction
_IDLE_S = 2.0  # the writer thread exits after this long without work (and restarts on the next append)
_PG_LOCK = 0x6E65746F7073  # pg_advisory_xact_lock key serialising appends across replicas ("netops")
_Pending = tuple[dict[str, Any], "Future[Head]"]
_SPOOLED = Head(0, "spooled")  # what `append` answers for a record spooled while the store is unreachable


class AuditLog:
    """Appends events to the chain, checkpoints its head, and verifies both.

    `checkpoints=None` (the default) turns checkpoints off: nothing is signed and `verify` checks the chain alone.
    """

    def __init__(
        self, engine: Engine, *, checkpoints: Checkpointer | None = None, spool: AuditSpool | None = None
    ) -> None:
        self._engine = engine
        self.spool = spool
        self._checkpoints = checkpoints
        self._schedule = CheckpointSchedule(checkpoints, engine) if checkpoints else None
        self._cond = threading.Condition()
        self._pending: list[_Pending] = []
        self._writer: threading.Thread | None = None
        self._stopping = False

    def append(self, event: AuditEvent) -> int:
        """Write one record and wait for its commit; returns its sequence number (0: spooled, the store being
        unreachable). Safe across threads and processes."""
        return self._submit(event).result().seq

    async def append_async(self, event: AuditEvent) -> int:
        """`append` for the event loop: waits for the commit without holding a thread."""
        return (await asyncio.wrap_future(self._submit(event))).seq

    def _submit(self, event: AuditEvent) -> Future[Head]:
        row = {
            "ts": time.time(),
            "tenant": event.tenant,
            "request_id": event.request_id,
            "kind": event.kind,
            "payload": canonical(event.payload()),
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
        """Write a batch in one transaction (after anything spooled), then resolve its futures; with the store
        unreachable, spool it instead (`seq` 0); with any other error, hand the error to the callers."""
        rows = [row for row, _ in batch]
        heads: list[Head] | None = None
        try:
            if self.spool is not None and self.spool.pending():
                self.drain_spool()
            heads = self._append_with_retries(rows)
        except Exception as exc:  # noqa: BLE001 - spooled, or handed to every waiting caller, who re-raises it
            error: BaseException = exc
            if self.spool is not None and store_unreachable(exc):
                try:
                    self.spool.write(rows)
                except OSError as disk:
                    error = disk
                else:
                    heads = [_SPOOLED] * len(batch)
            if heads is None:
                for _, done in batch:
                    done.set_exception(error)
                return
        for (_, done), head in zip(batch, heads, strict=True):
            if self._schedule is not None and head is not _SPOOLED:
                self._schedule.observe(head)
            done.set_result(head)

    def _append_with_retries(self, rows: list[dict[str, Any]]) -> list[Head]:
        for _ in range(20):
            try:
                return self._append_once(rows)
            except IntegrityError:  # a writer without the lock took the same seq: re-read the tip
                continue
        raise RuntimeError("audit log: could not append after 20 attempts")

    def drain_spool(self) -> int:
        """Append the spooled records (every process's) to the chain now; returns how many. Raises while the store
        is still unreachable. Called before each batch while anything is spooled, and by `/readyz`."""
        if self.spool is None:
            return 0
        return self.spool.drain(self._append_with_retries, self._in_chain)

    def _in_chain(self, rows: list[dict[str, Any]]) -> set[RowKey]:
        c = AUDIT.c
        with self._engine.connect() as conn:
            found = conn.execute(select(c.ts, c.request_id, c.kind).where(c.ts.between(rows[0]["ts"], rows[-1]["ts"])))
            return {(float(ts), str(rid), str(kind)) for ts, rid, kind in found}

    def _append_once(self, rows: list[dict[str, Any]]) -> list[Head]:
        with self._engine.connect() as conn:
            _lock_for_append(conn)
            tip = _tip(conn)
            seq, prev = (tip.seq + 1, tip.hash) if tip else (1, GENESIS)
            heads: list[Head] = []
            values: list[dict[str, Any]] = []
            for offset, row in enumerate(rows):
                full = {"seq": seq + offset, **row}  # ts: when the record was submitted
                head = Head(seq + offset, chain_hash(prev, full))
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
        by_seq = Signed.load(self._checkpoints, self._engine, None).by_seq
        return [cp for seq in sorted(by_seq)[-limit:] for cp in by_seq[seq]]

    def verify(self, *, checkpoints_file: Path | None = None) -> VerifyReport:
        """Recompute every hash in order and check the chain against the signed checkpoints; report every finding.

        The checkpoints come from the anchor file (or `checkpoints_file`, an export) and from the database; each
        MAC is verified with the key. They are read before the records, so a checkpoint written meanwhile by a
        running gateway never makes a consistent chain look truncated. Without a `Checkpointer` there is no key
        to check signatures with, so only the chain is checked (and `checkpoints_file` is not read).
        """
        signed = Signed.load(self._checkpoints, self._engine, checkpoints_file) if self._checkpoints else Signed()
        check = ChainCheck(signed.by_seq)
        with self._engine.connect() as conn:
            for r in conn.execute(select(AUDIT).order_by(AUDIT.c.seq)).mappings():
                check.feed(r)
        return VerifyReport.of(check.checked, [*signed.findings, *check.finish()], check.anchor)


def _lock_for_append(conn: Connection) -> None:
    """Take the database's write lock before reading the tip, so appends from several processes stay linear."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # waits up to busy_timeout for other writers
    elif conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})


def _tip(conn: Connection) -> Head | None:
    tip = conn.execute(select(AUDIT.c.seq, AUDIT.c.hash).order_by(AUDIT.c.seq.desc()).limit(1)).first()
    return Head(tip[0], tip[1]) if tip else None
