"""`netops bench tools`: tool-call overhead (registry + validation + allow-list + audit) vs vtysh directly.

Uses the running lab if `netops lab status` is up, otherwise builds a private one (prefix `nlb`) for the run.
Prints a table and writes JSON (default `var/bench/tools.json`).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

import click

from gateway.cli.common import fail, settings_of

__all__ = ["bench_tools"]


@click.command("tools")
@click.option("--iterations", "-n", type=int, default=100, show_default=True, help="Calls per mode.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("var/bench/tools.json"), show_default=True)
@click.pass_context
def bench_tools(ctx: click.Context, iterations: int, out: Path) -> None:
    """Tool-call overhead against calling vtysh directly, in one run (needs root and FRR)."""
    from gateway.audit import AuditLog  # noqa: PLC0415
    from gateway.db import open_engine  # noqa: PLC0415
    from gateway.events import ToolInvoked  # noqa: PLC0415 - heavy imports only for this command
    from tools import LabError, ToolResult  # noqa: PLC0415
    from tools.bench import run_bench  # noqa: PLC0415
    from tools.lab import Lab  # noqa: PLC0415
    from tools.toolbox import Toolbox  # noqa: PLC0415

    t = settings_of(ctx).tools
    lab = Lab(t.lab_dir, prefix=t.lab_prefix, ssh_port=t.lab_ssh_port)
    own = None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            if not lab.status().up:
                own = lab = Lab(Path("/run/netops-lab-bench"), prefix="nlb", ssh_port=t.lab_ssh_port + 1)
                lab.up()
                lab.wait_converged()
        except LabError as exc:
            fail(exc.detail)
        engine = open_engine(f"sqlite:///{tmp}/bench.db")
        log = AuditLog(engine)
        box = Toolbox.build(
            engine,
            inventory_dir=t.inventory_dir,
            lab_dir=str(lab.root),
            lab_prefix=lab.prefix,
            lab_ssh_port=lab.ssh_port,
        )

        def append(result: ToolResult) -> None:
            log.append(
                ToolInvoked(
                    tenant="demo",
                    request_id="bench",
                    key_id="bench",
                    tool=result.tool,
                    risk="read",
                    arguments=result.arguments,
                    duration_ms=result.duration_ms,
                    output_digest=result.output_digest,
                )
            )

        try:
            rows = asyncio.run(run_bench(box, audit=append, tenant="demo", device="r1", iterations=iterations))
        finally:
            engine.dispose()
            if own is not None:
                own.down()
    base = rows[0].mean_ms
    click.echo(f"{'mode':<20} {'n':>5} {'mean ms':>9} {'p50 ms':>9} {'p95 ms':>9} {'overhead ms':>12}")
    for r in rows:
        click.echo(
            f"{r.mode:<20} {r.n:>5} {r.mean_ms:>9.3f} {r.p50_ms:>9.3f} {r.p95_ms:>9.3f} {r.mean_ms - base:>12.3f}"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": [r.as_dict() for r in rows], "baseline": rows[0].mode}, indent=2) + "\n")
    click.echo(f"wrote {out}")
