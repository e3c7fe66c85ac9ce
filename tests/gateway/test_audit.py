"""The audit log's hash chain on SQLite and on the real PostgreSQL, and `netops audit verify`."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import update

from gateway.audit import AuditLog
from gateway.events import ChatCompleted, RequestRejected
from gateway.db import AUDIT, open_engine

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def fill(log: AuditLog, n: int) -> None:
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


@pytest.fixture
def pg_url() -> Iterator[str]:
    name = f"netops_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_chain_on_postgresql_with_concurrent_writers(pg_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    logs = [AuditLog(open_engine(pg_url)) for _ in range(3)]  # three independent writers, as three replicas
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda i: fill(logs[i % 3], 3), range(12)))
    report = logs[0].verify()
    assert report.ok and report.checked == 12 * 4
    with psycopg.connect(pg_url.replace("postgresql://", "postgresql://", 1)) as conn:
        conn.execute("UPDATE audit_log SET tenant = 'evil' WHERE seq = 7")
    report = logs[0].verify()
    assert not report.ok and report.first_bad_seq == 7
