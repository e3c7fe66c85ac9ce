"""A tier run as a terminal table, a JSON file and a Markdown report (the CI job summary).

Files go under the output folder (default `var/eval/`): `<tier>.json` (what the gate and `baseline --update`
read) and `<tier>.md`; the gate writes `gate-<tier>.md` and `gate-<tier>.json` beside them.

Example:
    paths = write_run(result, Path("var/eval"))
    print(markdown(result))
"""

from __future__ import annotations

import json
from pathlib import Path

from evals.suite.gate import GateReport
from evals.suite.results import TierResult

__all__ = ["markdown", "read_run", "write_gate", "write_run"]


def markdown(result: TierResult) -> str:
    """Metrics, judge parse counts, and every failed check with its reason."""
    lines = [f"### Eval, {result.tier} tier: {len(result.cases)} cases", "", "| metric | value |", "|---|---|"]
    lines += [f"| {name} | {value:.3f} |" for name, value in result.metrics().items()]
    counts = result.missing_scores()
    if any(set(c) - {"scored"} for c in counts.values()):
        lines += ["", "| score | scored | not scored (why) |", "|---|---|---|"]
        for name, c in counts.items():
            why = ", ".join(f"{k} {v}" for k, v in c.items() if k != "scored")
            lines.append(f"| {name} | {c['scored']} | {why} |")
    failed = [(case.id, name, case.notes.get(name, "")) for case in result.cases for name in case.failed()]
    if failed:
        lines += ["", f"{len(failed)} failed checks:"]
        lines += [f"- `{case}` {name}: {why}" for case, name, why in failed]
    for note in result.meta.get("skipped", []):
        lines.append(f"- skipped: {note}")
    meta = {k: v for k, v in result.meta.items() if k != "skipped"}
    if meta:
        lines += ["", "run: " + ", ".join(f"{k} {v}" for k, v in meta.items())]
    return "\n".join(lines)


def write_run(result: TierResult, out_dir: Path) -> list[Path]:
    """`<tier>.json` and `<tier>.md` under `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data, text = out_dir / f"{result.tier}.json", out_dir / f"{result.tier}.md"
    data.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    text.write_text(markdown(result) + "\n")
    return [data, text]


def read_run(path: Path) -> TierResult:
    """A run (or baseline) file written by `write_run` or `baseline --update`."""
    return TierResult.from_json(json.loads(path.read_text()))


def write_gate(report: GateReport, out_dir: Path) -> list[Path]:
    """`gate-<tier>.md` and `gate-<tier>.json` under `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data, text = out_dir / f"gate-{report.tier}.json", out_dir / f"gate-{report.tier}.md"
    data.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    text.write_text(report.markdown() + "\n")
    return [data, text]
