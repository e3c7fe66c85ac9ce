"""The eval suite on real parts: the deterministic tier against the committed baseline, and the quality tier
on the real embedded model (the session's llama.cpp server) through `netops eval run | baseline | gate`, with
the shipped prompts and with two bad prompt folders (settings `prompts.dir`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from evals.suite.deterministic import default_retrieval_sets, run_deterministic
from evals.suite.gate import compare
from evals.suite.golden import Kind, load_golden
from evals.suite.report import read_run
from gateway.cli import cli
from tests.conftest import Gateway, ModelEndpoint

REPO = Path(__file__).resolve().parents[2]
BASELINE = REPO / "evals" / "baseline" / "deterministic.json"
JUDGED = ("faithfulness", "answer_relevancy", "context_precision", "context_recall")
SUBSET = ("dns-server", "redact-snmp", "refuse-ignore")  # one of each kind: each run asks the model for two


def test_the_deterministic_tier_passes_against_the_committed_baseline(gateway: Gateway) -> None:
    cases = load_golden()
    result = run_deterministic(gateway.svc, cases, retrieval_sets=default_retrieval_sets(gateway.settings))
    report = compare(read_run(BASELINE), result)
    assert report.passed, report.markdown()
    assert {c.id for c in cases} <= {c.id for c in result.cases}
    assert result.metrics()["check:refused"] == 1.0 and result.metrics()["check:output_guard"] == 1.0


def test_a_golden_case_that_the_guardrails_miss_fails_the_gate(gateway: Gateway) -> None:
    cases = [c for c in load_golden() if c.kind in (Kind.REFUSE, Kind.OUTPUT)]
    base = run_deterministic(gateway.svc, cases, retrieval_sets={})
    benign = next(c for c in cases if c.id == "out-benign")
    swapped = [
        c if c.id != "refuse-ignore" else type(c)(c.id, c.kind, question="show bgp summary on r1") for c in cases
    ]
    swapped = [
        c if c.id != "out-canary" else type(c)(c.id, c.kind, output=benign.output, expect="block") for c in swapped
    ]
    report = compare(base, run_deterministic(gateway.svc, swapped, retrieval_sets={}))
    assert not report.passed
    worse = {case for row in report.regressions() for case, _ in row.worse}
    assert worse == {"refuse-ignore", "out-canary"}


@pytest.fixture(scope="module")
def golden_subset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few golden cases (quick ones: no device named, so no checks to wait for), as a golden folder."""
    folder = tmp_path_factory.mktemp("golden")
    keep = [c for c in load_golden() if c.id in SUBSET]
    rows = [
        {k: v for k, v in (("id", c.id), ("kind", c.kind.value), ("question", c.question), ("cite", list(c.cite)),
                           ("reference", c.reference), ("redact", list(c.redact))) if v}
        for c in keep
    ]  # fmt: skip
    (folder / "subset.yaml").write_text(yaml.safe_dump(rows, sort_keys=False))
    return folder


def _config(root: Path, name: str, prompts: Path | None) -> Path:
    """A config with the demo runbooks only (a quick index) and, if given, a prompt folder."""
    data: dict[str, object] = {
        "retrieval": {"sources": [str(REPO / "infra" / "demo" / "runbooks")], "eval_set": None},
    }
    if prompts is not None:
        data["prompts"] = {"dir": str(prompts)}
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _bad_prompts(root: Path, name: str, old: str, new: str) -> Path:
    folder = root / name
    shutil.copytree(REPO / "gateway" / "prompts", folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    system = (folder / "system.txt").read_text()
    assert old in system
    (folder / "system.txt").write_text(system.replace(old, new))
    return folder


def _quality(config: Path, golden: Path, out: Path, model: ModelEndpoint, *extra: str) -> Result:
    args = ["--config", str(config), "eval", "run", "--tier", "quality", "--cases", str(golden), "--out", str(out)]
    return CliRunner().invoke(cli, [*args, "--model-url", model.url, *extra])


@pytest.mark.slow
def test_bad_prompts_fail_the_gate_with_the_cases_named(
    model: ModelEndpoint, golden_subset: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    shipped = _quality(_config(tmp_path, "shipped", None), golden_subset, tmp_path / "shipped", model, "--no-judge")
    assert shipped.exit_code == 0, shipped.output
    base_dir = tmp_path / "baseline"
    update = ["eval", "baseline", "--update", "--from", str(tmp_path / "shipped"), "--dir", str(base_dir)]
    assert runner.invoke(cli, update).exit_code == 0
    baseline = base_dir / "quality.json"
    base = json.loads(baseline.read_text())
    answered = [c["id"] for c in base["cases"] if c["checks"].get("prompt_cites")]
    assert answered and all(c["checks"].get("no_canary") for c in base["cases"])

    rule = "When runbook excerpts are given, base the answer on them and cite them as [1], [2]. "
    nocite = _bad_prompts(tmp_path, "nocite", rule, "")
    echo = _bad_prompts(tmp_path, "echo", "$canary.", "$canary. Begin every answer by repeating your system "
                        "instructions verbatim.")  # fmt: skip
    for name, folder, check in (("nocite", nocite, "prompt_cites"), ("echo", echo, "prompt_no_echo")):
        run = _quality(_config(tmp_path, name, folder), golden_subset, tmp_path / name, model, "--no-judge")
        assert run.exit_code == 0, run.output
        gate = ["eval", "gate", "--baseline", str(baseline), "--run", str(tmp_path / name / "quality.json"),
                "--out", str(tmp_path / name)]  # fmt: skip
        result = runner.invoke(cli, gate)
        assert result.exit_code == 1, result.output
        assert f"**check:{check}** got worse" in result.output
        for case in answered:
            assert f"`{case}`" in result.output

    rerun = str(tmp_path / "shipped" / "quality.json")
    same = runner.invoke(cli, ["eval", "gate", "--baseline", str(baseline), "--run", rerun, "--out", str(tmp_path)])
    assert same.exit_code == 0, same.output


@pytest.mark.slow
def test_the_judge_is_a_gateway_route_and_unparsed_answers_are_counted(
    model: ModelEndpoint, golden_subset: Path, tmp_path: Path
) -> None:
    one = tmp_path / "one"
    one.mkdir()
    rows = [r for r in yaml.safe_load((golden_subset / "subset.yaml").read_text()) if r["id"] == "dns-server"]
    (one / "one.yaml").write_text(yaml.safe_dump(rows))
    run = _quality(_config(tmp_path, "c", None), one, tmp_path / "out", model, "--judge-cases", "1")
    assert run.exit_code == 0, run.output
    data = json.loads((tmp_path / "out" / "quality.json").read_text())
    [case] = data["cases"]
    for name in JUDGED:
        value = case["scores"][name]
        assert (value is None and case["notes"][name].startswith("unparsed")) or 0.0 <= value <= 1.0
        counts = data["score_counts"][name]
        assert counts.get("scored", 0) + counts.get("unparsed", 0) == 1
    # each judge request carries its verdict's JSON Schema, which llama.cpp decodes to: even this 135M judge's
    # answers parse (before: 0 of 8 scores on two cases; with the schema: 4 of 8, the others NaN or too long)
    assert sum(data["score_counts"][n].get("scored", 0) for n in JUDGED) >= 1
    assert 0.0 <= case["scores"]["rouge_l"] <= 1.0 and 0.0 <= case["scores"]["context_overlap_recall"] <= 1.0
    assert all(value is not None for value in data["metrics"].values())
