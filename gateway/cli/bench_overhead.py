"""`netops bench overhead`: what the gateway adds in front of a fast upstream, next to LiteLLM's proxy, in one run.

It runs the overhead harness kept in `infra/bench/` (copied from `../shared/bench`): nginx as the mock upstream,
LiteLLM proxy 1.108.7 (installed into `/tmp/bench/litellm-venv` on first use), then one `netops serve` measured
twice: the tenant without guardrails (`netops`) and the tenant with the default policy (`netops-guarded`). wrk
drives each at every concurrency level; the table gives req/s, latency, errors and CPU ms per request of the
process tree under test, and each target's req/s as a multiple of LiteLLM's at the same concurrency.
The JSON (default `var/bench/overhead.json`) holds every row and those ratios.

Left out: any claim about absolute numbers. wrk, nginx and the gateway share this machine's cores, so compare
ratios from one run only.

Example:
    netops bench overhead --workers 2 --conns "1 8" --duration 20
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

__all__ = ["bench_overhead", "format_table", "read_rows", "with_ratios"]

HARNESS = Path(__file__).resolve().parents[2] / "infra" / "bench"
_NUMERIC = ("rps", "p50_ms", "p90_ms", "p99_ms", "cpu_ms_per_req", "host_busy_pct")


@click.command("overhead")
@click.option("--workers", type=int, default=None, help="`netops serve --workers` (default: the number of cores).")
@click.option("--conns", default="1 8", show_default=True, help="wrk connection levels, space-separated.")
@click.option("--duration", type=int, default=20, show_default=True, help="Seconds per level.")
@click.option("--warmup", type=int, default=5, show_default=True, help="Warm-up seconds per target.")
@click.option("--skip-litellm", is_flag=True, help="Measure netops only (no ratios).")
@click.option("--port", type=int, default=8070, show_default=True, help="Port of the gateway under test.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("var/bench/overhead.json"), show_default=True)
def bench_overhead(
    workers: int | None, conns: str, duration: int, warmup: int, skip_litellm: bool, port: int, out: Path
) -> None:
    """req/s, latency and CPU per request: direct upstream, LiteLLM proxy, netops without and with guardrails."""
    work = out.resolve().parent / "overhead"
    cfg = work / "netops"
    env = {**os.environ, "BENCH_CFG": str(cfg), "NETOPS_BENCH_PORT": str(port), "PYTHON": sys.executable}
    setup = subprocess.run(
        ["bash", str(HARNESS / "netops-setup.sh")],
        env=env,
        cwd=HARNESS.parents[1],
        capture_output=True,
        text=True,
        check=False,
    )
    if setup.returncode != 0:
        raise click.ClickException(f"netops-setup.sh failed: {setup.stdout}{setup.stderr}")
    serve = f"exec {sys.executable} -m gateway --config {cfg / 'netops.yaml'} serve --no-model-server"
    if workers is not None:
        serve += f" --workers {workers}"
    env.update(
        BENCH_DIR=str(work / "runs"),
        CONNS=conns,
        DURATION=str(duration),
        WARMUP=str(warmup),
        SKIP_LITELLM="1" if skip_litellm else "0",
        TARGET_URL=f"http://127.0.0.1:{port}/v1",
        TARGET_MODEL="bench",
        TARGET_NAME="netops",
        TARGET_KEY=(cfg / "key-bench").read_text().strip(),
        TARGET_EXTRA=f"netops-guarded={(cfg / 'key-guarded').read_text().strip()}",
        TARGET_CMD=f"cd {HARNESS.parents[1]} && {serve}",
    )
    started = time.time()
    run = subprocess.run(["bash", str(HARNESS / "overhead.sh")], env=env, cwd=HARNESS.parents[1], check=False)
    tsv = _newest_tsv(work / "runs", started)
    if run.returncode != 0 or tsv is None:
        raise click.ClickException(f"overhead.sh failed (exit {run.returncode}); see {work / 'runs'}")
    rows = with_ratios(read_rows(tsv))
    click.echo(format_table(rows))
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"workers": workers or os.cpu_count(), "conns": conns, "duration_s": duration, "cores": os.cpu_count()}
    out.write_text(json.dumps({**meta, "tsv": str(tsv), "rows": rows}, indent=2) + "\n")
    click.echo(f"wrote {out}")


def _newest_tsv(folder: Path, since: float) -> Path | None:
    found = [p for p in folder.glob("results-*.tsv") if p.stat().st_mtime >= since]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def read_rows(tsv: Path) -> list[dict[str, Any]]:
    """The harness's TSV rows, numbers as numbers (None where the harness wrote `-`)."""
    with tsv.open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [{**r, **{k: _number(r.get(k)) for k in _NUMERIC}, "errors": int(r["errors"] or 0)} for r in rows]


def with_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row with `rps_vs_litellm`: its req/s over LiteLLM's at the same concurrency (None without LiteLLM)."""
    litellm = {r["conns"]: r["rps"] for r in rows if r["target"] == "litellm"}
    out = []
    for r in rows:
        base = litellm.get(r["conns"])
        ratio = round(r["rps"] / base, 2) if base and r["rps"] is not None else None
        out.append({**r, "rps_vs_litellm": ratio})
    return out


def format_table(rows: list[dict[str, Any]]) -> str:
    """The summary: one line per target and concurrency."""
    head = (
        f"{'target':<15} {'conns':>5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
        f"{'CPU ms/req':>10} {'x LiteLLM':>9}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['target']:<15} {r['conns']:>5} {_fmt(r['rps'], 0):>8} {_fmt(r['p50_ms'], 1):>8} "
            f"{_fmt(r['p99_ms'], 1):>8} {r['errors']:>6} {_fmt(r['cpu_ms_per_req'], 2):>10} "
            f"{_fmt(r['rps_vs_litellm'], 2):>9}"
        )
    return "\n".join(lines)


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "", "-") else None
    except ValueError:
        return None


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
