"""`netops bench cache`: a replayed incident with the caches bypassed and on, side by side (evals.bench.cache)."""

from __future__ import annotations

import json
from pathlib import Path

import click

__all__ = ["bench_cache"]


@click.command("cache")
@click.option("--price-in", type=float, default=0.003, show_default=True, help="USD per 1k prompt tokens.")
@click.option("--price-out", type=float, default=0.015, show_default=True, help="USD per 1k completion tokens.")
@click.option("--max-tokens", type=int, default=96, show_default=True, help="Answer length asked for.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("var/bench/cache.json"), show_default=True)
def bench_cache(price_in: float, price_out: float, max_tokens: int, out: Path) -> None:
    """Hit latency against a miss, model calls, tokens and cost saved on a replayed incident; semantic false hits."""
    from evals.bench.cache import format_table, measure  # noqa: PLC0415

    result = measure(price_in=price_in, price_out=price_out, max_tokens=max_tokens)
    click.echo(format_table(result))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    click.echo(f"wrote {out}")
