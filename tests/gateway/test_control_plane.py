"""The data plane survives its control plane: a gateway on a PostgreSQL cluster of this test's own keeps serving
known keys while the cluster is stopped under load, refuses a key it has never seen with 503 `store_unavailable`,
spools its audit records to a local journal, shows the outage in /readyz and /metrics, and appends the spooled
records to the chain, in order and none lost, once the cluster is back (`verify` ok). With its Redis (limits and
budgets) killed, it serves a conservative local share of each limit and books that spend into Redis once back."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from evals.gameday.faults import FaultUpstream
from evals.gameday.stores import OwnedPostgres, OwnedRedis
from gateway.demo import build_index
from gateway.settings import RetrievalSettings
from routing.limits import Quota
from tests.conftest import TenantGateway, one_tenant_gateway

CHAT = {"model": "smollm2", "messages": [{"role": "user", "content": "Is the BGP peer up?"}], "max_tokens": 8}


@pytest.fixture(scope="module")
def upstream() -> Iterator[FaultUpstream]:
    faults = FaultUpstream().start()
    yield faults
    faults.stop()


@contextmanager
def gateway_on(
    tmp_path: Path, upstream: FaultUpstream, *, database_url: str | None = None, redis_url: str | None = None
) -> Iterator[TenantGateway]:
    """A gateway over the fault upstream with a one-runbook index (so /readyz judges the stores alone)."""
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    (runbooks / "bgp.md").write_text("# BGP peer down\n\nCheck the peer state with `show bgp summary`.\n")
    retrieval = RetrievalSettings(sources=[runbooks], eval_set=None)
    url = upstream.base_url("local")
    with one_tenant_gateway(tmp_path, url, retrieval=retrieval, database_url=database_url, redis_url=redis_url) as gw:
        build_index(gw.svc, lambda _: None)
        yield gw


def ask(gw: TenantGateway, key: str) -> httpx.Response:
    return httpx.post(
        f"{gw.url}/v1/chat/completions", json=CHAT, headers={"authorization": f"Bearer {key}"}, timeout=30
    )


def test_known_keys_are_served_and_audited_through_a_postgres_outage(upstream: FaultUpstream, tmp_path: Path) -> None:
    with OwnedPostgres() as pg, gateway_on(tmp_path, upstream, database_url=pg.url) as gw:
        unseen = gw.svc.tenants.create_key("t").plaintext  # in the store, never presented before the outage
        assert ask(gw, gw.key).status_code == 200  # this process has now resolved the tenant's key
        statuses: list[tuple[float, int]] = []
        stop = threading.Event()

        def load() -> None:  # paced: the tenant's 100 requests/min must not be what refuses
            while not stop.wait(0.1):
                statuses.append((time.monotonic(), ask(gw, gw.key).status_code))

        clients = [threading.Thread(target=load) for _ in range(2)]
        for c in clients:
            c.start()
        try:
            time.sleep(0.5)
            pg.stop()
            time.sleep(2.5)  # past the key cache's 2 s: answers now come from the snapshot
            refused = ask(gw, unseen)
            ready_down = httpx.get(f"{gw.url}/readyz", timeout=30)
            gauge = gw.svc.metrics.registry.get_sample_value
            down_s, spooled = gauge("netops_store_down_seconds"), gauge("netops_audit_spooled")
            during = len(statuses)
            pg.start()
            time.sleep(1.0)
        finally:
            stop.set()
            for c in clients:
                c.join()

        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == "store_unavailable"
        body = ready_down.json()
        assert ready_down.status_code == 200 and body["status"] == "degraded", body
        store = body["checks"]["store"]
        assert store["ok"] is False and store["snapshot"] is True and store["down_for_s"] >= 2.0, store
        assert store["spooled"] > 0, store
        assert (down_s or 0) >= 2.0 and (spooled or 0) > 0, (down_s, spooled)

        codes = Counter(code for _, code in statuses)
        assert codes == Counter({200: len(statuses)}), codes  # known key: nothing refused, nothing lost
        assert during > 10, "the load should have gone on through the outage"

        ready_up = httpx.get(f"{gw.url}/readyz", timeout=30).json()
        assert ready_up["status"] == "ready" and ready_up["checks"]["store"]["ok"] is True, ready_up
        assert gauge("netops_store_down_seconds") == 0.0
        assert gw.svc.audit.spool is not None and gw.svc.audit.spool.waiting == 0
        gw.svc.audit.close()
        report = gw.svc.audit.verify()
        assert report.ok, report.reason
        records = gw.svc.audit.records(limit=10_000)
        completed = [r for r in records if r["kind"] == "chat.completed" and r["tenant"] == "t"]
        assert len(completed) == len(statuses) + 1  # every answer, the one before the load included
        refusals = [r for r in records if r["payload"].get("code") == "store_unavailable"]
        assert len(refusals) == 1  # the refused key was audited too (spooled, then appended)
        in_seq = sorted(records, key=lambda r: r["seq"])
        assert [r["ts"] for r in in_seq] == sorted(r["ts"] for r in in_seq)  # spooled ones in time order


def test_limits_keep_a_local_share_through_a_redis_outage(upstream: FaultUpstream, tmp_path: Path) -> None:
    with OwnedRedis() as rd, gateway_on(tmp_path, upstream, redis_url=rd.url) as gw:
        quota, store = Quota(), gw.svc.metering.store  # tenant t: 100 requests/min; the local share is 0.25
        assert [ask(gw, gw.key).status_code for _ in range(4)] == [200] * 4
        spent_before, _ = store.spent("t", quota)
        assert spent_before == 4 * 16  # the fault upstream's answers use 16 tokens each
        rd.stop()
        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            during = Counter(r.status_code for r in pool.map(lambda _: ask(gw, gw.key), range(40)))
        refilled = (time.monotonic() - started) * 25 / 60  # the local bucket refills meanwhile
        ready = httpx.get(f"{gw.url}/readyz", timeout=30).json()
        assert set(during) == {200, 429}, during  # no error: only answers and 429s
        assert 25 <= during[200] <= 25 + refilled, (during, refilled)  # 25 = 100 rpm x 0.25, not the whole 100
        assert ready["status"] == "degraded" and ready["checks"]["limits"]["ok"] is False, ready
        assert (gw.svc.metrics.registry.get_sample_value("netops_limits_down_seconds") or 0) > 0
        rd.start()
        time.sleep(1.1)  # Redis is tried again once a second
        assert ask(gw, gw.key).status_code == 200
        spent_after, _ = store.spent("t", quota)
        assert spent_after == spent_before + (during[200] + 1) * 16  # what was booked locally is in Redis now
        assert httpx.get(f"{gw.url}/readyz", timeout=30).json()["checks"]["limits"]["ok"] is True
