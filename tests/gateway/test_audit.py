"""The audit log's hash chain and its signed checkpoints on SQLite and on the real PostgreSQL, and `netops audit`.

Each way of tampering with the chain has its own test in `test_audit_tamper.py`.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select, update

from gateway.audit import AuditLog, Tamper
from gateway.checkpoints import Checkpointer
from gateway.cli import cli
from gateway.db import AUDIT, AUDIT_CHECKPOINTS, open_engine
from gateway.errors import GatewayError
from gateway.events import ChatCompleted, RequestRejected

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def append_n(log: AuditLog, n: int) -> None:
    for i in range(n):
        log.append(
            RequestRejected(
                tenant="acme",
                request_id=f"r{i}",
                key_id="k",
                route="netops-assistant",
                code="guardrail_blocked",
                detail="blocked",
            )
        )


def fill(log: AuditLog, n: int) -> None:
    append_n(log, n)
    log.append(
        ChatCompleted(
            tenant="acme",
            request_id="rc",
            key_id="k",
            route="netops-assistant",
            deployment="local",
            prompt_digest="0" * 64,
            stream=False,
            prompt_tokens=1,
            completion_tokens=1,
            finish_reason="stop",
            policy="p",
        )
    )


def netops(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NETOPS_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A PostgreSQL database of its own (random name), dropped afterwards."""
    name = f"netops_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The state store, once as SQLite and once as a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'netops.db'}"
        return
    with fresh_pg_database() as url:
        yield url


def test_verify_cli_reports_first_edited_record(tmp_path: Path) -> None:
    log = AuditLog(open_engine(f"sqlite:///{tmp_path / 'netops.db'}"))
    fill(log, 5)
    ok = netops(tmp_path, "audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert "6 records" in ok.stdout
    with sqlite3.connect(tmp_path / "netops.db") as db:
        db.execute("UPDATE audit_log SET payload = replace(payload, 'blocked', 'allowed') WHERE seq = 3")
    bad = netops(tmp_path, "audit", "verify")
    assert bad.returncode == 1
    assert "seq=3" in bad.stdout and "edited" in bad.stdout


def test_deleted_and_reordered_records_are_caught(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'a.db'}")
    log = AuditLog(engine)
    fill(log, 4)
    with engine.begin() as conn:
        conn.execute(AUDIT.delete().where(AUDIT.c.seq == 2))
    report = log.verify()
    assert not report.ok and report.first_bad_seq == 3 and "missing" in report.reason

    engine2 = open_engine(f"sqlite:///{tmp_path / 'b.db'}")
    log2 = AuditLog(engine2)
    fill(log2, 4)
    with engine2.begin() as conn:  # swap two records' contents, hashes and all, keeping seq order
        rows = {r.seq: r for r in conn.execute(AUDIT.select())}
        for seq, other in ((2, 3), (3, 2)):
            r = rows[other]
            conn.execute(
                update(AUDIT)
                .where(AUDIT.c.seq == seq)
                .values(request_id=r.request_id, payload=r.payload, prev_hash=r.prev_hash, hash=r.hash, ts=r.ts)
            )
    report2 = log2.verify()
    assert not report2.ok and report2.first_bad_seq == 2


def test_chain_on_postgresql_with_concurrent_writers(pg_url: str, tmp_path: Path) -> None:
    checkpoints = Checkpointer(tmp_path / "audit.key", every_records=5)  # the key file all replicas share
    logs = [AuditLog(open_engine(pg_url), checkpoints=checkpoints) for _ in range(3)]  # three replicas
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda i: fill(logs[i % 3], 3), range(12)))
    for log in logs:
        log.close()
    logs[0].checkpoint_now()  # a second checkpoint for a seq already signed is harmless
    report = logs[0].verify()
    assert report.ok and report.checked == 12 * 4
    assert report.anchor is not None and report.anchor.seq == 12 * 4
    with psycopg.connect(pg_url) as conn:
        conn.execute("UPDATE audit_log SET tenant = 'evil' WHERE seq = 7")
    report = logs[0].verify()
    assert not report.ok and report.first_bad_seq == 7
    assert [(f.kind, f.seq) for f in report.findings] == [(Tamper.EDITED, 7)]


def replica(url: str, key_path: Path, n: int) -> None:
    """One gateway process: its own engine and schedule, the shared key file (made by whichever starts first)."""
    engine = open_engine(url)
    log = AuditLog(engine, checkpoints=Checkpointer(key_path, every_records=7))
    append_n(log, n)
    log.close()
    engine.dispose()


def test_replica_processes_on_postgresql_share_one_chain_key_and_anchor(pg_url: str, tmp_path: Path) -> None:
    key_path = tmp_path / "audit.key"
    engine = open_engine(pg_url)  # the tables first: open_engine's create_all races with itself across processes
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        pool.starmap(replica, [(pg_url, key_path, 40)] * 3)
    checkpoints = Checkpointer(key_path)
    report = AuditLog(engine, checkpoints=checkpoints).verify()
    assert report.ok and report.checked == 120 and report.anchor is not None and report.anchor.seq == 120
    anchored = checkpoints.anchored()  # three processes appended to it: whole lines, each signed with the one key
    assert anchored.unreadable == () and all(checkpoints.key.signed(cp) for cp in anchored.checkpoints)
    engine.dispose()


def test_the_key_file_is_made_once_private_and_never_stored_in_the_database(db_url: str, tmp_path: Path) -> None:
    key_path = tmp_path / "keys" / "audit.key"
    checkpoints = Checkpointer(key_path)
    assert key_path.stat().st_mode & 0o777 == 0o600 and len(key_path.read_bytes()) == 32
    assert Checkpointer(key_path).key.key_id == checkpoints.key.key_id  # read, not made again
    engine = open_engine(db_url)
    log = AuditLog(engine, checkpoints=checkpoints)
    append_n(log, 3)
    log.close()
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(AUDIT_CHECKPOINTS)).mappings()]
    assert rows and key_path.read_bytes().hex() not in json.dumps(rows)
    assert {r["key_id"] for r in rows} == {checkpoints.key.key_id}
    engine.dispose()
    key_path.chmod(0o644)
    with pytest.raises(GatewayError, match="chmod 600"):
        Checkpointer(key_path)


def test_checkpoints_are_written_every_n_records_and_on_close(db_url: str, tmp_path: Path) -> None:
    engine = open_engine(db_url)
    checkpoints = Checkpointer(tmp_path / "audit.key", every_records=10, every_seconds=3600)
    log = AuditLog(engine, checkpoints=checkpoints)
    append_n(log, 25)
    log.close()
    log.close()  # nothing moved since: nothing more is written
    stored = checkpoints.stored(engine)
    assert [cp.seq for cp in stored] == [10, 20, 25]
    assert checkpoints.anchored().checkpoints == tuple(stored)
    with engine.connect() as conn:
        heads = dict(conn.execute(select(AUDIT.c.seq, AUDIT.c.hash)).tuples().all())
    assert all(checkpoints.key.signed(cp) and cp.head == heads[cp.seq] and cp.count == cp.seq for cp in stored)
    with checkpoints.anchor_path.open("a") as anchor:  # a line still being written (or cut by a crash)
        anchor.write('{"seq": 30, "head": "ab')
    report = log.verify()
    assert report.ok and report.anchor == stored[-1] and report.unanchored == 0
    engine.dispose()


def test_a_checkpoint_follows_within_every_seconds_once_the_head_moved(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'netops.db'}")
    checkpoints = Checkpointer(tmp_path / "audit.key", every_records=1000, every_seconds=0.05)
    log = AuditLog(engine, checkpoints=checkpoints)
    append_n(log, 3)
    deadline = time.monotonic() + 30
    while 3 not in {cp.seq for cp in checkpoints.stored(engine)} and time.monotonic() < deadline:
        time.sleep(0.05)
    assert 3 in {cp.seq for cp in checkpoints.stored(engine)}
    log.close()


def test_cli_checkpoint_export_and_verify_exit_codes(tmp_path: Path) -> None:
    data, offsite = tmp_path / "data", tmp_path / "offsite" / "checkpoints.json"
    engine = open_engine(f"sqlite:///{data / 'netops.db'}")
    log = AuditLog(engine, checkpoints=Checkpointer.in_dir(data))  # as the gateway writes it
    append_n(log, 30)
    env, runner = {"NETOPS_DATA_DIR": str(data)}, CliRunner()
    tail = runner.invoke(cli, ["audit", "tail", "-n", "2"], env=env)
    assert tail.exit_code == 0 and [json.loads(line)["seq"] for line in tail.output.splitlines()] == [29, 30]
    fresh = runner.invoke(cli, ["audit", "verify"], env=env)
    assert fresh.exit_code == 0 and "ok: 30 records, chain intact, not anchored" in fresh.output, fresh.output
    made = runner.invoke(cli, ["audit", "checkpoint", "--export", str(offsite)], env=env)
    assert made.exit_code == 0 and "checkpoint seq 30" in made.output, made.output
    assert [cp["seq"] for cp in json.loads(offsite.read_text())["checkpoints"]] == [30]
    anchored = runner.invoke(cli, ["audit", "verify"], env=env)
    assert anchored.exit_code == 0 and "anchored at checkpoint seq 30" in anchored.output, anchored.output

    # someone with the database and the data directory, but not the offsite copy, cuts the last five records
    with engine.begin() as conn:
        conn.execute(delete(AUDIT).where(AUDIT.c.seq > 25))
        conn.execute(delete(AUDIT_CHECKPOINTS))
    (data / "audit-checkpoints.jsonl").unlink()
    assert runner.invoke(cli, ["audit", "verify"], env=env).exit_code == 0  # nothing left here to compare with
    caught = runner.invoke(cli, ["audit", "verify", "--checkpoints", str(offsite)], env=env)
    assert caught.exit_code == 1 and "TAMPERED" in caught.output
    assert "record seq=26: truncated" in caught.output, caught.output

    with engine.begin() as conn:
        conn.execute(update(AUDIT).where(AUDIT.c.seq == 3).values(tenant="evil"))
    refused = runner.invoke(cli, ["audit", "checkpoint"], env=env)  # a tampered chain is never signed
    assert refused.exit_code == 1 and "record seq=3: edited" in refused.output, refused.output
    assert Checkpointer.in_dir(data).stored(engine) == []
    engine.dispose()
