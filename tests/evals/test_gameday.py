"""`netops gameday`: the fault upstream switches behaviour at runtime, and the short profile runs end to end in a
sandbox platform (a real `netops serve` subprocess over the fault upstream, and `netops index build` next to it)
and writes its report."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from click.testing import CliRunner

from evals.gameday import Fault, FaultUpstream
from gateway.cli import cli

CHAT = {"model": "gameday", "messages": [{"role": "user", "content": "hi"}]}


def test_the_fault_upstream_switches_per_deployment_at_runtime() -> None:
    faults = FaultUpstream().start()
    try:
        url = faults.base_url
        assert httpx.post(f"{url('a')}/chat/completions", json=CHAT).json()["choices"][0]["message"]["content"]
        stream = httpx.post(f"{url('a')}/chat/completions", json={**CHAT, "stream": True})
        assert stream.headers["content-type"].startswith("text/event-stream") and "[DONE]" in stream.text
        faults.set("a", Fault.MALFORMED)
        plain = httpx.post(f"{url('a')}/chat/completions", json={**CHAT, "stream": True})
        assert plain.headers["content-type"] == "application/json" and "data:" not in plain.text
        faults.set("a", Fault.DEAD)
        assert httpx.post(f"{url('a')}/chat/completions", json=CHAT).status_code == 503
        assert httpx.get(f"{url('a')}/models").status_code == 503
        assert httpx.get(f"{url('b')}/models").status_code == 200  # another deployment is unaffected
        assert faults.hits == {"a": 3}
    finally:
        faults.stop()


def test_the_short_profile_runs_end_to_end_and_writes_its_report(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["gameday", "--profile", "short", "--out", str(tmp_path)])
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["profile"] == "short" and report["url"].startswith("http://127.0.0.1:")
    verdicts = {d["name"]: d["verdict"] for d in report["drills"]}
    for drill in report["drills"]:
        assert set(drill) >= {"name", "expected", "observed", "passed", "figures", "verdict"}
    supported = [
        "malformed_stream",
        "backend_dead",
        "slow_tail",
        "budget_exhausted",
        "kill_switch",
        "guardrail_slow",
        "guardrail_down",
    ]
    supported += ["stale_index"]  # a runbook edited under the gateway: /readyz stale, then fresh after a rebuild
    supported += ["postgres_down", "redis_down"]  # the sandbox's own PostgreSQL and Redis (infra/apt-packages.txt)
    observed = {d["name"]: d["observed"] for d in report["drills"]}
    for name in supported:
        assert verdicts[name] == "pass", f"{name}: {observed[name]}"
    assert "| drill | result | observed |" in (tmp_path / "report.md").read_text()
    assert result.exit_code == (1 if report["failed"] else 0), result.output
