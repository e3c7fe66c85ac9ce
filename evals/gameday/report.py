"""The gameday report: a Markdown table and the same results as JSON (`report.md`, `report.json`)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from evals.gameday.drills import DrillResult

__all__ = ["table", "write"]


def table(results: list[DrillResult]) -> str:
    """One line per drill: name, verdict, observed."""
    lines = ["| drill | result | observed |", "|---|---|---|"]
    lines += [f"| {r.name} | {r.verdict} | {r.observed.replace('|', '/')} |" for r in results]
    return "\n".join(lines)


def write(out: Path, results: list[DrillResult], *, profile: str, url: str, seconds: float) -> None:
    """Write `report.md` and `report.json` into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    failed = [r.name for r in results if r.passed is False]
    summary = {"profile": profile, "url": url, "seconds": round(seconds, 1), "failed": failed}
    drills = [{**asdict(r), "verdict": r.verdict} for r in results]
    (out / "report.json").write_text(json.dumps({**summary, "drills": drills}, indent=2))
    details = "\n\n".join(
        f"## {r.name}: {r.verdict}\n\n- expected: {r.expected}\n- observed: {r.observed}" for r in results
    )
    head = f"# Gameday ({profile} profile, {url}, {seconds:.0f} s)\n\n"
    (out / "report.md").write_text(head + table(results) + "\n\n" + details + "\n")
