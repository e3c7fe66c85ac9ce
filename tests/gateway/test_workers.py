"""`netops serve --workers 2` as a user runs it, over the real llama.cpp server: both workers answer from one
socket, a tenant's requests/min hold exactly across them (the shared SQLite limits), every request leaves one
final audit record in one linear chain, retrieval goes through the parent's index, a scrape of /metrics (answered
by either worker) counts both workers' requests, and Ctrl-C stops it all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.audit import AuditLog
from gateway.db import open_engine
from gateway.tenants import Tenants
from gateway.workers import rss_mb
from tests.conftest import ModelEndpoint
from tests.support import free_port

RPM = 6
METRICS_TOKEN = "scrape-token-for-the-test"


@dataclass
class Served:
    url: str
    key: str  # tenant `paced`: RPM requests a minute
    roomy: str  # tenant `roomy`: no practical limit
    data: Path
    proc: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def served(model: ModelEndpoint, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data = tmp_path_factory.mktemp("workers")
    (data / "runbooks").mkdir()
    (data / "runbooks" / "dns.md").write_text("# DNS\n\nWhen lookups fail, check the resolver with `dig`.\n")
    tenants = Tenants(open_engine(f"sqlite:///{data / 'netops.db'}"))
    tenants.create("paced", models=["*"], tools=[], rpm=RPM)
    tenants.create("roomy", models=["*"], tools=[], rpm=10_000)
    key, roomy = tenants.create_key("paced").plaintext, tenants.create_key("roomy").plaintext
    port = free_port()
    env = {
        **os.environ,
        "NETOPS_DATA_DIR": str(data),
        "NETOPS_SERVER__PORT": str(port),
        "NETOPS_MODEL_SERVER__ENABLED": "false",
        "NETOPS_SERVER__METRICS_TOKEN": METRICS_TOKEN,
        "NETOPS_RETRIEVAL__SOURCES": json.dumps([str(data / "runbooks")]),
        "NETOPS_DEPLOYMENTS": json.dumps(
            [{"name": "local", "model": "smollm2-135m-instruct", "base_url": model.direct_url}]
        ),
        "NETOPS_ROUTES": json.dumps(
            [
                {"name": "plain", "deployments": ["local"], "assistant": False, "max_tokens": 4},
                {"name": "netops-assistant", "deployments": ["local"], "assistant": True, "max_tokens": 8},
            ]
        ),
    }
    log = (data / "serve.out").open("w")  # a file, not a pipe: a full pipe would stall the server
    cmd = [sys.executable, "-m", "gateway", "serve", "--no-model-server", "--workers", "2"]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None and workers_ready(data) < 2:
            time.sleep(0.5)
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200, (data / "serve.out").read_text()[-3000:]
        yield Served(url, key, roomy, data, proc)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
        log.close()


def workers_ready(data: Path) -> int:
    return (data / "serve.out").read_text().count(" MB resident")


def worker_pids(served: Served) -> set[int]:
    lines = (served.data / "serve.out").read_text().splitlines()
    return {int(line.split()[1]) for line in lines if line.startswith("worker ") and "ready:" in line}


def ask(served: Served, model: str, content: str = "Hi", *, key: str = "") -> httpx.Response:
    return httpx.post(
        f"{served.url}/v1/chat/completions",
        headers={"authorization": f"Bearer {key or served.key}"},
        json={"model": model, "max_tokens": 4, "messages": [{"role": "user", "content": content}]},
        timeout=120,
    )


def test_two_workers_start_from_one_parent_without_their_own_index(served: Served) -> None:
    output = (served.data / "serve.out").read_text()
    assert "2 worker processes; the index and the model server run once" in output
    workers = worker_pids(served)
    assert len(workers) == 2 and served.proc.pid not in workers
    sizes = ", ".join(f"{rss_mb(pid):.0f} MB" for pid in workers)
    print(f"\nworker RSS: {sizes}; parent {rss_mb(served.proc.pid):.0f} MB")


def test_requests_per_minute_hold_exactly_across_workers_and_every_request_is_audited(served: Served) -> None:
    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(r.status_code for r in pool.map(lambda _: ask(served, "plain"), range(RPM + 6)))
    assert statuses == [200] * RPM + [429] * 6  # the shared bucket: one worker's grant is the other's loss
    log = AuditLog(open_engine(f"sqlite:///{served.data / 'netops.db'}"))
    records = log.records(tenant="paced", limit=100)
    kinds = sorted(r["kind"] for r in records)
    assert kinds.count("chat.completed") == RPM and kinds.count("request.rejected") == 6
    report = log.verify()
    assert report.ok, report.reason


def test_retrieval_answers_through_the_parents_index(served: Served) -> None:
    ready = httpx.get(f"{served.url}/readyz", timeout=30).json()
    assert ready["checks"]["index"]["ok"] and ready["checks"]["index"]["chunks"] >= 1
    reply = ask(served, "netops-assistant", "DNS lookups fail. What should I check?", key=served.roomy)
    assert reply.status_code == 200, reply.text
    assert "dns.md" in json.dumps(reply.json()["netops"]["citations"])


def chat_requests_counted(served: Served) -> tuple[float, float]:
    """One scrape: the chat requests counted, and the step histogram's observation count for `model`."""
    text = httpx.get(f"{served.url}/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"}, timeout=30).text
    requests = steps = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "netops_requests_total" and sample.labels["path"] == "/v1/chat/completions":
                requests += sample.value
            if sample.name == "netops_step_seconds_count" and sample.labels["step"] == "model":
                steps += sample.value
    return requests, steps


def test_every_scrape_counts_both_workers_requests(served: Served) -> None:
    before = chat_requests_counted(served)
    with ThreadPoolExecutor(4) as pool:
        assert all(r.status_code == 200 for r in pool.map(lambda _: ask(served, "plain", key=served.roomy), range(8)))
    files = (served.data / "run" / "metrics").glob("counter_*.db")
    assert {int(f.stem.split("_")[1]) for f in files} == worker_pids(served)  # both workers wrote their counts
    scrapes = {chat_requests_counted(served) for _ in range(6)}  # answered by either worker
    assert scrapes == {(before[0] + 8, before[1] + 8)}, (before, scrapes)


def test_ctrl_c_stops_the_parent_and_the_workers(served: Served) -> None:
    served.proc.send_signal(signal.SIGINT)
    assert served.proc.wait(timeout=60) == 0
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{served.url}/healthz", timeout=2)
