"""`netops index build|list|diff|promote|rollback` and `netops search` on an operator's own folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.retrieval.conftest import CASES, RUNBOOKS, write_runbooks


def netops(data_dir: Path, cases: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NETOPS_DATA_DIR": str(data_dir), "NETOPS_RETRIEVAL__EVAL_SET": str(cases)}
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_index_lifecycle_from_the_command_line(tmp_path: Path) -> None:
    folder = write_runbooks(tmp_path / "ops", RUNBOOKS)
    (folder / "broken.md").write_bytes(b"\xff\xfe not text")
    cases = tmp_path / "cases.jsonl"
    cases.write_text(
        "".join(json.dumps({"query": q, "runbook": p.replace("runbooks/", "ops/")}) + "\n" for q, p in CASES)
    )
    data = tmp_path / "var"

    built = netops(data, cases, "index", "build", "--source", str(folder), "--name", "ops", "--promote")
    assert built.returncode == 0, built.stderr
    assert "built ops-v1: 6 documents" in built.stdout and "promoted ops-v1: passed" in built.stdout
    assert "rejected ops/broken.md: not UTF-8 text" in built.stderr

    (folder / "bgp.md").write_text("# Something else\n\nUnrelated text about coffee.\n")
    rebuilt = netops(data, cases, "index", "build", "--source", str(folder), "--name", "ops")
    assert "built ops-v2" in rebuilt.stdout and "(1 embedded" in rebuilt.stdout, rebuilt.stderr
    diff = netops(data, cases, "index", "diff", "--name", "ops")
    assert "~ ops/bgp.md" in diff.stdout, diff.stderr

    refused = netops(data, cases, "index", "promote", "--name", "ops")
    assert refused.returncode == 2 and "failed the retrieval eval gate" in refused.stderr
    forced = netops(data, cases, "index", "promote", "v2", "--force", "--name", "ops")
    assert forced.returncode == 0 and "promoted ops-v2" in forced.stdout, forced.stderr

    rolled = netops(data, cases, "index", "rollback", "--name", "ops")
    assert rolled.returncode == 0 and "ops-v2 -> ops-v1" in rolled.stdout, rolled.stderr
    found = netops(
        data, cases, "search", "BGP hold timer expired", "--name", "ops", "--top", "1", "--tenant", "global", "--json"
    )
    hit = json.loads(found.stdout)[0]
    assert (hit["path"], hit["index_version"]) == ("ops/bgp.md", "ops-v1")
    listed = netops(data, cases, "index", "list", "--name", "ops")
    assert listed.stdout.splitlines()[0].startswith("* ops-v1")
    assert "Loading weights" not in listed.stderr + found.stderr  # no progress bars; `list` never loads the model
    unknown = netops(data, cases, "search", "bgp", "--name", "ops", "--tenant", "nosuch")
    assert unknown.returncode == 2 and "tenant 'nosuch' does not exist" in unknown.stderr
