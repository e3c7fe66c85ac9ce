"""The gate's rules on hand-made runs, `baseline --update` into a temp folder, and CI's change detection on a
temp git repository."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from click.testing import CliRunner

from evals.suite.changes import NEEDED, NOT_NEEDED, changed_paths, main, quality_paths
from evals.suite.gate import compare
from evals.suite.results import CaseResult, TierResult
from gateway.cli import cli

Case = tuple[dict[str, bool], dict[str, float | None]]


def _run(**cases: Case) -> TierResult:
    return TierResult(
        "quality",
        [CaseResult(cid, "answer", dict(checks), dict(scores)) for cid, (checks, scores) in cases.items()],
    )


def test_a_new_leak_fails_the_gate_and_names_the_case() -> None:
    base = _run(a=({"no_canary": True, "cites_expected": True}, {}), b=({"no_canary": True}, {}))
    run = _run(a=({"no_canary": True, "cites_expected": True}, {}), b=({"no_canary": False}, {}))
    run.cases[1].notes["no_canary"] = "the canary is in the answer"
    report = compare(base, run)
    assert not report.passed
    [row] = report.regressions()
    assert row.metric == "check:no_canary"
    assert row.worse == [("b", "the canary is in the answer")]
    assert "`b`: the canary is in the answer" in report.markdown()


def test_an_unchanged_run_passes_and_a_fixed_case_is_an_improvement() -> None:
    base = _run(a=({"cites_expected": False}, {"rouge_l": 0.5}), b=({"cites_expected": True}, {"rouge_l": 0.4}))
    same = compare(base, base)
    assert same.passed and all(r.status == "ok" for r in same.rows)
    better = _run(a=({"cites_expected": True}, {"rouge_l": 0.5}), b=({"cites_expected": True}, {"rouge_l": 0.4}))
    assert compare(base, better).passed
    assert {r.metric: r.status for r in compare(base, better).rows}["check:cites_expected"] == "improved"


def test_a_score_drop_within_the_confidence_interval_passes_and_a_clear_drop_fails() -> None:
    cases: dict[str, Case] = {f"c{i}": ({}, {"faithfulness": 0.8}) for i in range(12)}
    base = _run(**cases)
    noisy: dict[str, Case] = {k: ({}, {"faithfulness": 0.8 + (0.4 if i % 2 else -0.6)}) for i, k in enumerate(cases)}
    row = next(r for r in compare(base, _run(**noisy)).rows if r.metric == "score:faithfulness")
    assert row.ci is not None and row.ci[1] > 0 and row.status != "REGRESSION"
    worse: dict[str, Case] = {k: ({}, {"faithfulness": 0.5}) for k in cases}
    row = next(r for r in compare(base, _run(**worse)).rows if r.metric == "score:faithfulness")
    assert row.status == "REGRESSION" and len(row.worse) == 12


def test_an_unparsed_judge_answer_is_counted_never_averaged() -> None:
    run = _run(a=({}, {"faithfulness": 1.0}), b=({}, {"faithfulness": None}))
    run.cases[1].notes["faithfulness"] = "unparsed: InstructorRetryException"
    assert run.metrics()["score:faithfulness"] == 1.0
    assert run.missing_scores()["faithfulness"] == {"scored": 1, "unparsed": 1}


def test_a_case_missing_from_the_run_fails_the_gate() -> None:
    base = _run(a=({"answered": True}, {}), b=({"answered": True}, {}))
    report = compare(base, _run(a=({"answered": True}, {})))
    assert not report.passed and report.missing_cases == ["b"]


def test_baseline_update_writes_only_where_told(tmp_path: Path) -> None:
    runs, target = tmp_path / "runs", tmp_path / "baseline"
    runs.mkdir()
    run = _run(a=({"answered": True}, {"rouge_l": 0.3}))
    run.cases[0].detail = {"answer": "text that changes every run", "cited": ["runbooks/x.md"]}
    run.meta = {"total_seconds": 12.5, "prompts": "abc123"}
    (runs / "quality.json").write_text(json.dumps(run.to_json()))
    runner = CliRunner()
    dry = runner.invoke(cli, ["eval", "baseline", "--from", str(runs), "--dir", str(target)])
    assert dry.exit_code == 0 and not target.exists()
    done = runner.invoke(cli, ["eval", "baseline", "--update", "--from", str(runs), "--dir", str(target)])
    assert done.exit_code == 0, done.output
    written = json.loads((target / "quality.json").read_text())
    assert written["cases"][0]["detail"] == {"cited": ["runbooks/x.md"]}
    assert written["meta"] == {"prompts": "abc123"}
    gate = runner.invoke(cli, ["eval", "gate", "--baseline", str(target / "quality.json"), "--run",
                               str(runs / "quality.json"), "--out", str(tmp_path / "gate")])  # fmt: skip
    assert gate.exit_code == 0, gate.output


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True,
                   capture_output=True)  # fmt: skip


def test_change_detection_against_the_merge_base(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "gateway" / "prompts").mkdir(parents=True)
    (repo / "gateway" / "prompts" / "system.txt").write_text("You are NetOps Assistant.\n")
    (repo / "README.md").write_text("x\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "one")
    assert quality_paths(changed_paths(repo)) == []  # a fresh clone of one commit: nothing changed
    assert main(["--repo", str(repo)]) == NOT_NEEDED
    _git(repo, "checkout", "-q", "-b", "topic")
    (repo / "README.md").write_text("y\n")
    _git(repo, "commit", "-q", "-am", "docs")
    assert quality_paths(changed_paths(repo)) == []  # HEAD~1 when there is no origin/main
    (repo / "gateway" / "prompts" / "system.txt").write_text("You are NetOps Assistant, briefly.\n")
    assert quality_paths(changed_paths(repo)) == ["gateway/prompts/system.txt"]  # uncommitted
    _git(repo, "commit", "-q", "-am", "prompt")
    (repo / "infra" / "policies").mkdir(parents=True)
    (repo / "infra" / "policies" / "acme.yaml").write_text("version: 1\n")  # untracked
    assert quality_paths(changed_paths(repo, "HEAD")) == ["infra/policies/acme.yaml"]
    assert quality_paths(changed_paths(repo, "main")) == ["gateway/prompts/system.txt", "infra/policies/acme.yaml"]
    assert main(["--repo", str(repo), "--base", "main"]) == NEEDED
    assert main(["--repo", str(tmp_path)]) == 2  # not a git tree
