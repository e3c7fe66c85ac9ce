"""`netops bench guardrails`: latency per 1 KB of config text (per scanner and whole chains) on one core,
and detection quality on every data set. Prints tables and writes JSON.

Latency: 1 KB texts cut from the labelled config lines and NOC prompts; each scanner and each stage's
chain of the tenant's policy runs `--runs` times after a warm-up, pinned to CPU 0 with BLAS/OpenMP
limited to one thread.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evals.guardrails_data import load_lines, load_secret_lines
from evals.guardrails_quality import Quality, injection_quality, pii_quality, secrets_quality
from guardrails import GuardChain, GuardrailError, ScanContext, Scanner, Stage, TenantGuards, Vault
from guardrails.injection import InjectionScanner
from guardrails.pii import PiiScanner
from guardrails.secrets import SecretsScanner

__all__ = ["format_latency", "format_quality", "kb_texts", "latency", "machine", "pin_one_core", "quality"]


def pin_one_core() -> str:
    """Pin this process to CPU 0 and native thread pools to one thread; returns what was done."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # noqa: PLC0415

    threadpool_limits(1)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
        return "pinned to CPU 0, 1 thread"
    return "1 thread (affinity unsupported)"


def machine() -> dict[str, Any]:
    """Where the benchmark ran."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines() if "model name" in ln), "")
    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def kb_texts(count: int = 40) -> list[str]:
    """`count` texts of about 1 KB each: config lines (with and without secrets) mixed with NOC prompts."""
    lines = [row.text for row in load_secret_lines() if "\n" not in row.text]
    prompts = [t.text for t in load_lines("noc_benign_eval.txt", attack=False)]
    pool = [x for pair in zip(lines, prompts * 3, strict=False) for x in pair] + lines[len(prompts) * 3 :]
    texts: list[str] = []
    for i in range(count):
        parts: list[str] = []
        j = i * 7
        while sum(len(p) + 1 for p in parts) < 1024:
            parts.append(pool[j % len(pool)])
            j += 1
        texts.append("\n".join(parts)[:1024])
    return texts


def _time(run: Callable[[str], object], texts: list[str], runs: int) -> dict[str, float]:
    for text in texts[:10]:
        run(text)  # warm-up
    samples: list[float] = []
    for i in range(runs):
        text = texts[i % len(texts)]
        started = time.perf_counter()
        run(text)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 3),
        "p99_ms": round(samples[min(len(samples) - 1, int(0.99 * len(samples)))], 3),
        "mean_ms": round(statistics.fmean(samples), 3),
    }


def _scan_fn(scanner: Scanner | GuardChain, stage: Stage) -> Callable[[str], object]:
    def run(text: str) -> object:
        ctx = ScanContext("bench", stage, Vault())
        try:
            return scanner.run(text, ctx) if isinstance(scanner, GuardChain) else scanner.scan(text, ctx)
        except GuardrailError as exc:  # a block is a result too
            return exc

    return run


def latency(guards: TenantGuards, *, runs: int) -> list[dict[str, Any]]:
    """p50/p99 per 1 KB for each input scanner, and each stage's whole chain."""
    texts = kb_texts()
    rows: list[dict[str, Any]] = []
    for scanner in guards.input.scanners:
        rows.append({"name": f"scanner {scanner.name}", **_time(_scan_fn(scanner, Stage.INPUT), texts, runs)})
    if any(s.name == "prompt_injection" for s in guards.context.scanners):
        inj = next(s for s in guards.context.scanners if s.name == "prompt_injection")
        rows.append({"name": "scanner prompt_injection [context]", **_time(_scan_fn(inj, Stage.CONTEXT), texts, runs)})
    for stage, chain in ((Stage.INPUT, guards.input), (Stage.CONTEXT, guards.context), (Stage.OUTPUT, guards.output)):
        rows.append({"name": f"chain {stage.value}", **_time(_scan_fn(chain, stage), texts, runs)})
    return rows


def quality(guards: TenantGuards) -> list[Quality]:
    """Detection quality of the policy's scanners (falling back to defaults where the policy has none)."""
    scanners = {s.name: s for s in (*guards.input.scanners, *guards.context.scanners)}
    secrets = scanners.get("secrets")
    injection = scanners.get("prompt_injection")
    pii = scanners.get("pii")
    rows = secrets_quality(secrets if isinstance(secrets, SecretsScanner) else SecretsScanner())
    if isinstance(injection, InjectionScanner):
        rows += injection_quality(injection)
    rows += pii_quality(pii if isinstance(pii, PiiScanner) else PiiScanner())
    rows += pii_quality(PiiScanner(network_identifiers=True))
    return rows


def format_latency(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'what (1 KB config text)':<40} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}"]
    lines += [f"{r['name']:<40} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['mean_ms']:>8.2f}" for r in rows]
    return "\n".join(lines)


def format_quality(rows: list[Quality]) -> str:
    head = f"{'scanner':<17} {'data set':<58} {'recall':>7} {'prec':>7} {'F1':>7} {'FPR':>7}  tp/fp/fn/tn"
    lines = [head]
    for q in rows:
        lines.append(
            f"{q.scanner:<17} {q.dataset:<58} {q.recall:>7.3f} {q.precision:>7.3f} {q.f1:>7.3f} {q.fpr:>7.3f}  "
            f"{q.tp}/{q.fp}/{q.fn}/{q.tn}"
        )
    return "\n".join(lines)
