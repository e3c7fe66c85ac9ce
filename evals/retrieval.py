"""`netops eval retrieval`: recall@1/@5, MRR@10 and nDCG@10 of the runbook index, per retrieval mode.

Runs the alert-to-runbook cases against the live index version (or a named one) in the dense, lexical
and hybrid modes; prints a table and writes JSON with the machine it ran on.

Example:
    report = run_eval(index, load_cases(path), modes=("dense", "lexical", "hybrid"))
    print(format_table(report))
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Sequence
from typing import Any

from retrieval import MODES, EvalCase, RunbookIndex, evaluate

__all__ = ["format_table", "machine", "run_eval"]


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            names = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "system": platform.system()}


def run_eval(
    index: RunbookIndex, cases: Sequence[EvalCase], *, modes: Sequence[str] = MODES, version: str | None = None
) -> dict[str, Any]:
    """Scores per mode for one index version, with timing and the misses."""
    target = version or index.live()
    results: dict[str, Any] = {}
    if cases and target:
        evaluate(index, cases[:1], version=target)  # warm-up: the first embedding is slow
    for mode in modes:
        started = time.perf_counter()
        scores = evaluate(index, cases, mode=mode, version=target)
        elapsed = time.perf_counter() - started
        results[mode] = {
            **scores.as_dict(),
            "ms_per_query": round(1000 * elapsed / max(len(cases), 1), 1),
            "misses": list(scores.misses),
        }
    return {"index_version": target, "machine": machine(), "modes": results}


def format_table(report: dict[str, Any]) -> str:
    """A Markdown table of the report."""
    lines = [
        f"index {report['index_version']}, {next(iter(report['modes'].values()))['cases']} cases"
        + (f" (split {report['split']}, query from {report['fields']})" if "split" in report else ""),
        "",
        "| mode | recall@1 | recall@5 | MRR@10 | nDCG@10 | ms/query |",
        "|---|---|---|---|---|---|",
    ]
    for mode, r in report["modes"].items():
        lines.append(
            f"| {mode} | {r['recall@1']:.3f} | {r['recall@5']:.3f} | {r['mrr@10']:.3f} | "
            f"{r['ndcg@10']:.3f} | {r['ms_per_query']} |"
        )
    m = report["machine"]
    lines += ["", f"machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}"]
    return "\n".join(lines)
