"""The SLO recording rules and burn-rate alerts in infra/prometheus, checked and unit-tested by promtool
(Debian's `prometheus` package, infra/apt-packages.txt)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parents[2] / "infra" / "prometheus"
PROMTOOL = shutil.which("promtool")


@pytest.mark.parametrize("command", [["check", "rules", "rules.yaml"], ["test", "rules", "rules_test.yaml"]])
def test_promtool(command: list[str]) -> None:
    assert PROMTOOL is not None, "promtool is missing: `make install` installs it (infra/apt-packages.txt)"
    done = subprocess.run([PROMTOOL, *command], cwd=RULES, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
