"""`netops lab`: status of the running lab as JSON, faults by name, and a clear refusal without root."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli import cli
from tools.lab import Lab


def env_for(lab: Lab) -> dict[str, str]:
    return {
        "NETOPS_TOOLS__LAB_DIR": str(lab.root),
        "NETOPS_TOOLS__LAB_PREFIX": lab.prefix,
        "NETOPS_TOOLS__LAB_SSH_PORT": str(lab.ssh_port),
    }


def test_status_fault_and_heal_through_the_cli(lab: Lab) -> None:
    runner = CliRunner()
    status = runner.invoke(cli, ["lab", "status"], env=env_for(lab))
    assert status.exit_code == 0, status.output
    data = json.loads(status.output)
    assert data["up"] and data["dns_running"] and [r["bgp_established"] for r in data["routers"]] == [2, 2, 2]
    assert runner.invoke(cli, ["lab", "fault", "bgp-shutdown"], env=env_for(lab)).exit_code == 0
    assert json.loads(runner.invoke(cli, ["lab", "status"], env=env_for(lab)).output)["faults"] == ["bgp-shutdown"]
    healed = runner.invoke(cli, ["lab", "heal"], env=env_for(lab))
    assert healed.output.strip() == "healed: bgp-shutdown"
    lab.wait_converged()
    assert runner.invoke(cli, ["lab", "fault", "no-such-fault"], env=env_for(lab)).exit_code == 2


def test_without_root_the_lab_commands_say_so() -> None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root to drop to an unprivileged user")
    netops = Path(sys.executable).parent / "netops"
    done = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(netops), "lab", "up"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", ""), "HOME": "/tmp", "NETOPS_DATA_DIR": "/tmp/netops-nobody"},
        check=False,
    )
    assert done.returncode == 2
    assert "needs root" in done.stderr and "Traceback" not in done.stderr
