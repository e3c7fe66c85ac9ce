"""Run the incident cases (`evals.incidents`) against a lab, an embedded model and a gateway of their own.

Everything is started here and stopped at the end: a lab in namespaces with its own prefix, the llama.cpp
model server, the gateway (uvicorn in a thread) over a fresh data directory with the demo tenant and index.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from evals.incidents import IncidentCase, IncidentScore, Progress, report_of, score_answer
from gateway.app import create_app
from gateway.demo import build_index, ensure_demo_key
from gateway.local import ThreadedServer, free_port
from gateway.services import Services
from gateway.settings import Settings
from gateway.supervisor import ModelServer
from tools.lab import Faults, Lab

__all__ = ["run_incidents"]


def run_incidents(settings: Settings, cases: list[IncidentCase], *, progress: Progress) -> dict[str, Any]:
    """Every case, in order, each fault healed (and the lab re-converged) before the next."""
    with tempfile.TemporaryDirectory(prefix="netops-incidents-") as tmp:
        root = Path(tmp)
        # FRR's daemons run as user frr: the lab lives under /run (a private temp folder is closed to them)
        lab = Lab(Path(f"/run/netops-lab-incidents-{os.getpid()}"), prefix="ni", ssh_port=free_port())
        progress("lab: building and converging")
        lab.up()
        try:
            converged = lab.wait_converged()
            with _gateway(settings, root, lab, progress) as (url, key, svc):
                scores = [_one(case, lab, url, key, svc, progress) for case in cases]
        finally:
            lab.down()
    return report_of(scores, {"lab_converged_s": round(converged, 1), "model": "embedded SmolLM2-135M"})


def _one(case: IncidentCase, lab: Lab, url: str, key: str, svc: Services, progress: Progress) -> IncidentScore:
    faults = Faults(lab)
    progress(f"{case.fault}: inject, wait {case.settle_s} s")
    faults.inject(case.fault)
    try:
        time.sleep(case.settle_s)
        score, rid = _ask(case, url, key)
        score.audit_ok = _audited(svc, rid, len(score.checks))
    except httpx.HTTPError as exc:
        score = IncidentScore(case.fault, error=f"{type(exc).__name__}: {exc}")
    finally:
        faults.heal()
        lab.wait_converged()
    progress(f"{case.fault}: findings {'name it' if score.finding_ok else 'MISS'} ({score.t_find_s} s)")
    return score


def _ask(case: IncidentCase, url: str, key: str) -> tuple[IncidentScore, str]:
    body = {
        "model": "netops-assistant",
        "stream": True,
        "messages": [{"role": "user", "content": case.alert}],
    }
    started = time.perf_counter()
    with httpx.stream(
        "POST",
        f"{url}/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {key}", "cache-control": "no-cache"},
        timeout=120,
    ) as response:
        response.raise_for_status()
        score = score_answer(case, _events(response.iter_lines()), started)
        return score, response.headers["x-request-id"]


def _events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if line.startswith("data: {"):
            yield json.loads(line[6:])


def _audited(svc: Services, request_id: str, checks: int) -> bool:
    """Each check is a `tool.invoked` record of the request, and the answer its `chat.completed` record."""
    kinds = [r["kind"] for r in svc.audit.records(tenant="demo", limit=200) if r["request_id"] == request_id]
    return kinds.count("tool.invoked") >= checks and "chat.completed" in kinds


@contextmanager
def _gateway(settings: Settings, root: Path, lab: Lab, progress: Progress) -> Iterator[tuple[str, str, Services]]:
    ms = settings.model_server.model_copy(update={"port": free_port()})
    tools = settings.tools.model_copy(
        update={"lab_dir": lab.root, "lab_prefix": lab.prefix, "lab_ssh_port": lab.ssh_port}
    )
    local = settings.model_copy(update={"data_dir": root / "data", "model_server": ms, "tools": tools})
    local = Settings(**{**local.model_dump(exclude={"deployments", "routes"}), "deployments": [], "routes": []})
    model = ModelServer(local.model_server, log_dir=root / "logs")
    model.start()
    svc = Services.build(local)
    server: ThreadedServer | None = None
    try:
        progress("gateway: demo tenant and index")
        key = ensure_demo_key(svc)
        build_index(svc, lambda _: None)
        model.wait_ready()
        server = ThreadedServer(create_app(svc)).start()
        yield server.url, key, svc
    finally:
        if server is not None:
            server.stop()
        svc.close()
        model.stop()
