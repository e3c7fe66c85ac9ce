"""`netops bench serve`: start-up time of `netops serve`, fresh and on restart."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["bench_serve"]


@click.command("serve")
@click.option("--restarts", type=int, default=1, show_default=True, help="Restarts after the fresh start.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("var/bench/serve.json"), show_default=True)
def bench_serve(restarts: int, out: Path) -> None:
    """Seconds from `netops serve` to ready and to a first answer through the OpenAI SDK."""
    from evals.serve_bench import format_table, measure, write_json  # noqa: PLC0415

    runs = measure(restarts=restarts)
    click.echo(format_table(runs))
    write_json(runs, out)
    click.echo(f"wrote {out}")
