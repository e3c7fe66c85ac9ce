"""`netops bench streams`: concurrent streams through one gateway, time to first token against direct."""

from __future__ import annotations

import os
from pathlib import Path

import click

__all__ = ["bench_streams"]


@click.command("streams")
@click.option("--streams", type=int, default=1000, show_default=True, help="Concurrent streams per target.")
@click.option("--tokens", type=int, default=100, show_default=True, help="Chunks the upstream streams.")
@click.option("--rate", type=float, default=10.0, show_default=True, help="Chunks per second per stream.")
@click.option("--workers", type=int, default=None, help="`netops serve --workers` (default: the number of cores).")
@click.option(
    "--ramp",
    "ramps",
    type=float,
    multiple=True,
    default=(0.0, 5.0),
    show_default=True,
    help="Seconds over which the streams are opened (0: all in one instant); repeat to measure several.",
)
@click.option("--skip-litellm", is_flag=True, help="Do not measure LiteLLM's proxy.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("var/bench/streams.json"), show_default=True)
def bench_streams(
    streams: int, tokens: int, rate: float, workers: int | None, ramps: tuple[float, ...], skip_litellm: bool, out: Path
) -> None:
    """Errors, TTFT p50/p99 and its overhead over direct, and peak RSS per process: direct, netops (without and
    with the default guardrails), LiteLLM; for each arrival pattern."""
    from evals.bench.streams import format_table, measure, write_json  # noqa: PLC0415

    n = workers or os.cpu_count() or 1
    runs = measure(
        streams=streams,
        tokens=tokens,
        rate=rate,
        workers=n,
        ramps=ramps,
        work=out.resolve().parent / "streams",
        litellm=not skip_litellm,
    )
    click.echo(format_table(runs))
    write_json(runs, out, streams=streams, tokens=tokens, rate=rate, workers=n, ramps=ramps, cores=os.cpu_count())
    click.echo(f"wrote {out}")
