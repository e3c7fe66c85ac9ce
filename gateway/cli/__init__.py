"""`netops`: serve the platform and manage tenants, keys, the index and the audit log.

Each area's commands live in a module of their own and are registered here.
Exit codes: 0 success, 1 a check failed (e.g. `audit verify`), 2 usage or start-up error.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from gateway.cli.admin import key, tenant
from gateway.cli.audit import audit
from gateway.cli.bench_cache import bench_cache
from gateway.cli.bench_overhead import bench_overhead
from gateway.cli.bench_serve import bench_serve
from gateway.cli.bench_streams import bench_streams
from gateway.cli.common import fail, settings_of
from gateway.cli.config import config
from gateway.cli.evals import bench_retrieval, eval_group
from gateway.cli.gameday import gameday
from gateway.cli.guard import bench_guardrails, guard
from gateway.cli.index import index, search
from gateway.cli.kill import kill, revive
from gateway.cli.lab import lab
from gateway.cli.prompts import prompts
from gateway.cli.routes import bench_routing, limits, routes
from gateway.cli.slack import bench_slack, slack
from gateway.cli.tools import bench_tools
from gateway.cli.usage import usage
from gateway.settings import load_settings

__all__ = ["bench", "cli", "main"]


@click.group()
@click.option(
    "--config",
    "config",
    type=click.Path(path_type=Path),
    default=None,
    help="YAML config file (default: ./netops.yaml if present, or $NETOPS_CONFIG).",
)
@click.pass_context
def cli(ctx: click.Context, config: Path | None) -> None:
    """NetOps Assistant: an LLM-guarded assistant platform for network operations."""
    try:
        ctx.obj = load_settings(config)
    except (FileNotFoundError, ValueError) as exc:
        fail(f"invalid configuration: {exc}")


@cli.command()
@click.option("--host", default=None, help="Listen address (default from settings: 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Listen port (default from settings: 8080).")
@click.option("--no-model-server", is_flag=True, help="Do not start the embedded llama.cpp server.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default: the number of cores); the model server and the index run once.",
)
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, no_model_server: bool, workers: int | None) -> None:
    """Start the gateway (and, by default, the embedded model server); Ctrl-C stops both."""
    from gateway.serve import run  # noqa: PLC0415 - heavy imports only for this command

    config: Path | None = ctx.find_root().params.get("config")
    n = workers or os.cpu_count() or 1
    run(settings_of(ctx), host=host, port=port, model_server=not no_model_server, workers=n, config=config)


@cli.group()
def bench() -> None:
    """Benchmarks: each prints a table and writes JSON."""


for command in (tenant, key, audit, index, search):
    cli.add_command(command)
cli.add_command(lab)
cli.add_command(prompts)
cli.add_command(routes)
cli.add_command(limits)
bench.add_command(bench_routing)
bench.add_command(bench_serve)
bench.add_command(bench_overhead)
bench.add_command(bench_cache)
bench.add_command(bench_streams)
bench.add_command(bench_tools)
bench.add_command(bench_retrieval)
cli.add_command(eval_group)
cli.add_command(guard)
bench.add_command(bench_guardrails)
cli.add_command(slack)
cli.add_command(usage)
cli.add_command(config)
cli.add_command(kill)
cli.add_command(revive)
bench.add_command(bench_slack)
cli.add_command(gameday)


def main() -> None:
    """Console-script entry point."""
    cli(auto_envvar_prefix=None)
