"""Group commit of the audit log: concurrent appends share transactions, the chain stays linear, nothing is lost,
and no caller hears back before its record is committed. SQLite (the default store) from threads, the event loop
and several processes; PostgreSQL replicas are covered in `test_audit.py`."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.exc import OperationalError

from gateway.audit import AuditLog
from gateway.checkpoints import Checkpointer
from gateway.db import AUDIT, open_engine
from gateway.events import RequestRejected


def rejected(i: int, tenant: str = "acme") -> RequestRejected:
    return RequestRejected(
        tenant=tenant, request_id=f"r{i}", key_id="k", route="netops-assistant", code="guardrail_blocked", detail="x"
    )


def count_commits(engine: Engine) -> list[int]:
    commits = [0]

    def on_commit(_conn: object) -> None:
        commits[0] += 1

    event.listen(engine, "commit", on_commit)
    return commits


def request_ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(AUDIT.c.request_id).order_by(AUDIT.c.seq)).scalars())


def test_threads_on_two_logs_keep_one_linear_chain(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'netops.db'}"
    logs = [AuditLog(open_engine(url)), AuditLog(open_engine(url))]  # two writers, as two worker processes have
    with ThreadPoolExecutor(16) as pool:
        seqs = list(pool.map(lambda i: logs[i % 2].append(rejected(i)), range(400)))
    for log in logs:
        log.close()
    assert sorted(seqs) == list(range(1, 401))  # every caller got its own seq
    report = logs[0].verify()
    assert report.ok and report.checked == 400, report.reason
    assert sorted(request_ids(open_engine(url))) == sorted(f"r{i}" for i in range(400))


def test_concurrent_appends_share_commits_and_keep_arrival_order(tmp_path: Path) -> None:
    db = tmp_path / "netops.db"
    engine = open_engine(f"sqlite:///{db}")
    log = AuditLog(engine)
    log.append(rejected(-1))  # the tables exist and the writer is warm
    commits = count_commits(engine)
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock: the appends queue up behind it

    async def burst() -> list[int]:
        tasks = [asyncio.ensure_future(log.append_async(rejected(i))) for i in range(50)]
        await asyncio.sleep(0.2)
        assert not any(t.done() for t in tasks)  # nobody hears back before the commit
        blocker.execute("COMMIT")
        return await asyncio.gather(*tasks)

    seqs = asyncio.run(burst())
    blocker.close()
    log.close()
    assert seqs == list(range(2, 52))  # arrival order is chain order
    assert commits[0] <= 2  # the first record's batch, then everything that queued behind it
    assert log.verify().ok and request_ids(engine)[1:] == [f"r{i}" for i in range(50)]


def test_close_finishes_pending_appends_and_checkpoints_the_last_head(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'netops.db'}")
    checkpoints = Checkpointer(tmp_path / "audit.key", every_records=1000, every_seconds=3600)
    log = AuditLog(engine, checkpoints=checkpoints)

    async def submit_and_close() -> list[int]:
        tasks = [asyncio.ensure_future(log.append_async(rejected(i))) for i in range(30)]
        await asyncio.sleep(0)  # every task has handed its record over
        await asyncio.to_thread(log.close)
        assert all(t.done() for t in tasks)
        return [t.result() for t in tasks]

    assert sorted(asyncio.run(submit_and_close())) == list(range(1, 31))
    assert [cp.seq for cp in checkpoints.stored(engine)] == [30]
    assert log.append(rejected(99)) == 31  # still usable after close: a new writer starts
    log.close()
    assert log.verify().ok


def test_a_failed_commit_reaches_every_caller_in_the_batch(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'netops.db'}")
    log = AuditLog(engine)
    log.append(rejected(0))
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE audit_log")
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(log.append, rejected(i)) for i in range(8)]
    for future in futures:
        with pytest.raises(OperationalError, match="no such table"):
            future.result()
    log.close()


def writer_process(url: str, tenant: str, n: int) -> None:
    """One worker process: its own engine and log, appending from a few threads."""
    engine = open_engine(url)
    log = AuditLog(engine)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: log.append(rejected(i, tenant)), range(n)))
    log.close()
    engine.dispose()


def test_worker_processes_on_sqlite_share_one_linear_chain(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'netops.db'}"
    engine = open_engine(url)
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        pool.starmap(writer_process, [(url, f"t{p}", 60) for p in range(3)])
    report = AuditLog(engine).verify()
    assert report.ok and report.checked == 180, report.reason
    with engine.connect() as conn:
        per_tenant: dict[str, int] = dict(
            conn.execute(select(AUDIT.c.tenant, func.count()).group_by(AUDIT.c.tenant)).tuples().all()
        )
    assert per_tenant == {"t0": 60, "t1": 60, "t2": 60}
    engine.dispose()
