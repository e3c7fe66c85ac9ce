"""`netops eval incidents` end to end on one fault: its own lab, embedded model and gateway; a table and JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_eval_incidents_names_the_fault_and_writes_json(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the FRR lab needs root (namespaces); CI runs as root")
    out = tmp_path / "incidents.json"
    env = {
        **os.environ,
        "NETOPS_DATA_DIR": str(tmp_path / "data"),
        "NETOPS_RETRIEVAL__SOURCES": json.dumps([str(REPO / "infra" / "demo" / "runbooks")]),
        "HF_HUB_OFFLINE": "1",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "eval", "incidents", "--fault", "dns-stop", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| dns-stop | yes |" in done.stdout
    report = json.loads(out.read_text())
    (case,) = report["cases"]
    assert case["finding_ok"] and case["checks_ok"] and case["runbook_ok"] and case["audit_ok"] and case["named"]
    assert report["summary"]["named_under_15s"] == 1
