"""The GitHub Actions workflow (.github/workflows/evals.yml), checked offline: it validates against the workflow
schema that check-jsonschema vendors (SchemaStore's), and it runs the eval steps `.ci/run` runs, with the same
baselines. Deliberately left out: running it on GitHub (no GitHub here)."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "evals.yml"


def _workflow() -> dict[Any, Any]:
    doc: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return doc


def test_the_workflow_matches_the_github_workflow_schema() -> None:
    vendored = resources.files("check_jsonschema") / "builtin_schemas" / "vendor" / "github-workflows.json"
    schema = json.loads(vendored.read_text(encoding="utf-8"))
    doc = _workflow()
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as a boolean
    jsonschema.validate(doc, schema)


def test_the_workflow_runs_the_eval_steps_of_ci_run() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    steps = " ".join(str(s.get("run", "")) for s in _workflow()["jobs"]["evals"]["steps"])
    for command in re.findall(r'"\$netops" (eval \S+ --\S+ \S+)', ci):
        assert command in steps, command
    assert "evals.suite.changes" in steps and "GITHUB_STEP_SUMMARY" in steps
