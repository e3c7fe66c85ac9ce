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
from tools.lab import FAULT_TABLE, Lab


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
    unknown = runner.invoke(cli, ["lab", "fault", "no-such-fault"], env=env_for(lab))
    assert unknown.exit_code == 2 and "is not a lab fault; choose one of link-down" in unknown.output


def test_status_reconciles_a_fault_fixed_on_the_router(lab: Lab) -> None:
    runner = CliRunner()
    injected = runner.invoke(cli, ["lab", "fault", "bgp-shutdown"], env=env_for(lab))
    assert "look for: bgp_summary r1: `10.0.13.2 (r3) AS 65003 Idle (Admin)`" in injected.output
    lab.vtysh("r1", "configure terminal", "router bgp 65001", "no neighbor 10.0.13.2 shutdown")  # an operator's fix
    assert json.loads(runner.invoke(cli, ["lab", "status"], env=env_for(lab)).output)["faults"] == []
    assert runner.invoke(cli, ["lab", "heal"], env=env_for(lab)).output.strip() == "healed: nothing"
    lab.wait_converged()


def test_every_fault_is_listed_with_what_it_does_and_shows() -> None:
    runner = CliRunner()
    help_text = runner.invoke(cli, ["lab", "fault", "--help"]).output
    listing = runner.invoke(cli, ["lab", "faults"]).output
    for fault in FAULT_TABLE.values():
        assert fault.name in help_text and f"{fault.name}\n  does:  {fault.does}\n  shows: {fault.shows}" in listing
    assert len(FAULT_TABLE) >= 10 and "mtu-mismatch" in help_text and "ExStart" in listing


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
