"""Every way of tampering with the audit log, on SQLite and on the real PostgreSQL, reported by kind and seq.

The attacker writes to the database directly (and, where a test says so, to the data directory) but never has the
key. Each chain holds 110 records written as the gateway writes them, checkpointed every 25 records and on close:
signed heads at seqs 25, 50, 75, 100 and 110, in the database and in the anchor file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, Executable, delete, select, update

from gateway.audit import AuditLog, Tamper, VerifyReport
from gateway.checkpoints import Checkpoint, Checkpointer
from gateway.db import AUDIT, AUDIT_CHECKPOINTS, open_engine
from tests.gateway.test_audit import append_n, db_url

__all__ = ["db_url"]  # the fixture: SQLite, then a fresh PostgreSQL database

GENESIS = "0" * 64


@dataclass
class Chain:
    engine: Engine
    checkpoints: Checkpointer

    def report(self) -> VerifyReport:
        return AuditLog(self.engine, checkpoints=self.checkpoints).verify()

    def findings(self) -> list[tuple[Tamper, int]]:
        return [(f.kind, f.seq) for f in self.report().findings]

    def detail(self, kind: Tamper) -> str:
        return next(f.detail for f in self.report().findings if f.kind == kind)

    def run(self, *statements: Executable) -> None:
        with self.engine.begin() as conn:
            for statement in statements:
                conn.execute(statement)


@pytest.fixture
def chain(db_url: str, tmp_path: Path) -> Iterator[Chain]:
    engine = open_engine(db_url)
    checkpoints = Checkpointer(tmp_path / "audit.key", every_records=25, every_seconds=3600)
    log = AuditLog(engine, checkpoints=checkpoints)
    append_n(log, 110)
    log.close()
    assert log.verify().ok
    yield Chain(engine, checkpoints)
    engine.dispose()


def rehash_from(engine: Engine, start: int) -> None:
    """What an attacker who knows the (documented) chain format does: re-chain every record from `start` on."""
    with engine.begin() as conn:
        prev = GENESIS
        for r in conn.execute(select(AUDIT).order_by(AUDIT.c.seq)).mappings().all():
            if r["seq"] < start:
                prev = r["hash"]
                continue
            body = {k: r[k] for k in ("seq", "ts", "tenant", "request_id", "kind", "payload")}
            new = hashlib.sha256((prev + json.dumps(body, sort_keys=True, separators=(",", ":"))).encode()).hexdigest()
            conn.execute(update(AUDIT).where(AUDIT.c.seq == r["seq"]).values(prev_hash=prev, hash=new))
            prev = new


def edit_payload(chain: Chain, seq: int) -> None:
    with chain.engine.connect() as conn:
        payload = conn.execute(select(AUDIT.c.payload).where(AUDIT.c.seq == seq)).scalar_one()
    chain.run(update(AUDIT).where(AUDIT.c.seq == seq).values(payload=payload.replace("blocked", "allowed")))


def test_an_edited_record(chain: Chain) -> None:
    edit_payload(chain, 40)
    assert chain.findings() == [(Tamper.EDITED, 40)]


def test_a_record_deleted_in_the_middle(chain: Chain) -> None:
    chain.run(delete(AUDIT).where(AUDIT.c.seq == 40))
    assert chain.findings() == [(Tamper.DELETED, 41)]


def test_two_records_swapped(chain: Chain) -> None:
    with chain.engine.connect() as conn:
        rows = {r["seq"]: r for r in conn.execute(select(AUDIT).where(AUDIT.c.seq.in_([40, 41]))).mappings()}
    moved = ("ts", "request_id", "payload", "prev_hash", "hash")
    chain.run(
        *(update(AUDIT).where(AUDIT.c.seq == a).values({k: rows[b][k] for k in moved}) for a, b in ((40, 41), (41, 40)))
    )
    findings = chain.findings()
    assert findings[0] == (Tamper.REORDERED, 40) and {kind for kind, _ in findings} == {Tamper.REORDERED}


def test_the_last_record_deleted(chain: Chain) -> None:
    chain.run(delete(AUDIT).where(AUDIT.c.seq == 110))
    assert chain.findings() == [(Tamper.TRUNCATED, 110)]


def test_the_last_fifty_records_deleted(chain: Chain) -> None:
    chain.run(delete(AUDIT).where(AUDIT.c.seq > 60))
    assert chain.findings() == [(Tamper.TRUNCATED, 61)]
    assert "records 61..110" in chain.detail(Tamper.TRUNCATED)


def test_every_record_deleted(chain: Chain) -> None:
    chain.run(delete(AUDIT))
    assert chain.findings() == [(Tamper.TRUNCATED, 1)]
    assert "the chain is empty" in chain.detail(Tamper.TRUNCATED)


def test_a_record_edited_and_the_rest_rehashed(chain: Chain) -> None:
    edit_payload(chain, 30)
    rehash_from(chain.engine, 30)
    assert AuditLog(chain.engine).verify().ok  # consistent: the chain alone no longer shows it
    assert chain.findings() == [(Tamper.REWRITTEN, 50)]  # the first signed head after the edit
    assert "26..50" in chain.detail(Tamper.REWRITTEN)


def test_signed_records_cut_and_forged_ones_appended_with_valid_hashes(chain: Chain) -> None:
    chain.run(delete(AUDIT).where(AUDIT.c.seq > 100), delete(AUDIT_CHECKPOINTS).where(AUDIT_CHECKPOINTS.c.seq > 100))
    append_n(AuditLog(chain.engine), 15)  # seqs 101..115, correctly chained, no key
    assert AuditLog(chain.engine).verify().ok
    assert chain.findings() == [(Tamper.ANCHOR_MISMATCH, 110), (Tamper.FORGED, 110)]


def test_records_appended_after_the_last_checkpoint_are_counted_not_anchored(chain: Chain) -> None:
    """The documented limit: without the key, nothing can tell these from the gateway's own records yet."""
    append_n(AuditLog(chain.engine), 5)
    report = chain.report()
    assert report.ok and report.anchor is not None and report.anchor.seq == 110 and report.unanchored == 5


def test_forged_checkpoints_do_not_verify(chain: Chain) -> None:
    edit_payload(chain, 30)
    rehash_from(chain.engine, 30)
    with chain.engine.connect() as conn:  # re-sign the new heads, under the real key's id but a key of one's own
        heads = dict(conn.execute(select(AUDIT.c.seq, AUDIT.c.hash)).tuples().all())
    for cp in chain.checkpoints.stored(chain.engine):
        forged = replace(cp, head=heads[cp.seq])
        mac = hmac.new(os.urandom(32), forged.message(), hashlib.sha256).hexdigest()
        chain.run(update(AUDIT_CHECKPOINTS).where(AUDIT_CHECKPOINTS.c.seq == cp.seq).values(head=forged.head, mac=mac))
    findings = chain.findings()
    assert {(Tamper.BAD_SIGNATURE, s) for s in (50, 75, 100, 110)} <= set(findings)
    assert (Tamper.REWRITTEN, 50) in findings and "checkpoint signature invalid" in chain.detail(Tamper.BAD_SIGNATURE)
    outsider = Checkpoint(120, GENESIS, 120, 0.0, "0123456789abcdef", "00")  # a line added to the anchor file
    with chain.checkpoints.anchor_path.open("a") as anchor:
        anchor.write(json.dumps(outsider.to_json()) + "\n" + "not json\n")
    details = [f.detail for f in chain.report().findings if f.kind == Tamper.BAD_SIGNATURE]
    assert any("signed with key 0123456789abcdef" in d for d in details)
    assert any("is not a checkpoint" in d for d in details)


def test_the_anchor_file_and_the_database_disagree(chain: Chain) -> None:
    chain.run(
        delete(AUDIT_CHECKPOINTS).where(AUDIT_CHECKPOINTS.c.seq == 75),
        update(AUDIT_CHECKPOINTS).where(AUDIT_CHECKPOINTS.c.seq == 100).values(head=GENESIS),
    )
    assert chain.findings() == [
        (Tamper.ANCHOR_MISMATCH, 75),
        (Tamper.ANCHOR_MISMATCH, 100),
        (Tamper.BAD_SIGNATURE, 100),
    ]
