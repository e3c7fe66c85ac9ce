"""`netops routes show`, `netops limits set|show` and `netops bench routing`.

`routes show` prints the route table (and its version) and explains, for a sample request, the order the
router would try deployments in and why (live signals are those of this process: none yet, unless a
deployment has a vLLM `metrics_url`, which is scraped first).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import click

from gateway.cli.common import call, fail, settings_of, tenants_of
from routing import Deployment, ModelRequest, StreamEnd, TextDelta

__all__ = ["bench_routing", "limits", "routes"]


@click.group()
def routes() -> None:
    """The route table and how requests are routed."""


@routes.command("show")
@click.option("--model", "model", default=None, help="Route to explain (default: every route).")
@click.option("--prompt", default="BGP session to the ISP is down. What should I check?", help="Sample request.")
@click.pass_context
def routes_show(ctx: click.Context, model: str | None, prompt: str) -> None:
    """Print deployments and routes, and the choice for a sample request, with reasons."""
    from routing import Router, RouteTable  # noqa: PLC0415

    settings = settings_of(ctx)
    table = RouteTable(settings.deployments, settings.routes)
    router = Router(table, _PlanOnly())
    asyncio.run(router.scraper.scrape_all())
    click.echo(f"route table version {table.version}\n\ndeployments:")
    for d in table.deployments.values():
        click.echo(
            f"  {d.name:<16} {d.provider}/{d.model} {d.base_url or ''}  {d.residency}, quality {d.quality}, "
            f"${d.input_price_per_1k:g}/${d.output_price_per_1k:g} per 1k in/out, ctx {d.context_window}, "
            f"max {d.max_concurrency} in flight"
        )
    names = [model] if model else list(table.routes)
    request = ModelRequest(messages=[{"role": "user", "content": prompt}], max_tokens=256)
    for name in names:
        if name not in table.routes:
            fail(f"no route named {name!r}; routes: {', '.join(table.routes)}")
        route = table.routes[name]
        click.echo("")
        for line in router.plan(route, request).explain():
            click.echo(line)


class _PlanOnly:
    """`routes show` only plans: no request is ever sent."""

    def stream(self, deployment: Deployment, request: ModelRequest) -> AsyncIterator[TextDelta | StreamEnd]:
        raise NotImplementedError("routes show does not call models")


@click.group()
def limits() -> None:
    """Per-tenant tokens/min and budgets (requests/min is set with `netops tenant create --rpm`)."""


@limits.command("set")
@click.argument("tenant")
@click.option("--tpm", type=int, default=None, help="Tokens per minute.")
@click.option("--token-budget", type=int, default=None, help="Tokens per period.")
@click.option("--spend-budget", type=float, default=None, help="USD per period.")
@click.option("--period", type=click.Choice(["hour", "day", "month"]), default="day")
@click.pass_context
def limits_set(
    ctx: click.Context, tenant: str, tpm: int | None, token_budget: int | None, spend_budget: float | None, period: str
) -> None:
    """Set a tenant's limits (unset options mean unlimited)."""
    from routing import Quota  # noqa: PLC0415

    quota = Quota(tpm, token_budget, spend_budget, period)  # type: ignore[arg-type]
    call(lambda: tenants_of(ctx).set_quota(tenant, quota))
    click.echo(f"limits for {tenant}: {quota}")


@limits.command("show")
@click.argument("tenant")
@click.pass_context
def limits_show(ctx: click.Context, tenant: str) -> None:
    """Print a tenant's limits."""
    click.echo(str(call(lambda: tenants_of(ctx).quota(tenant))))


@click.command("routing")
@click.option("--iterations", type=int, default=2000, show_default=True, help="Decisions to time.")
@click.option("--trials", type=int, default=3, show_default=True, help="Backend kills to time (0: skip).")
@click.option("--output", type=click.Path(path_type=Path), default=Path("var/bench/routing.json"), show_default=True)
def bench_routing(iterations: int, trials: int, output: Path) -> None:
    """Router overhead per request (p50/p99) and failover time after a backend dies (real llama.cpp servers)."""
    from routing.bench import failover, overhead, summary  # noqa: PLC0415

    report: dict[str, object] = {"overhead_us": overhead(iterations).as_dict()}
    o = report["overhead_us"]
    assert isinstance(o, dict)
    click.echo(f"{'measure':<34}{'p50':>12}{'p99':>12}")
    click.echo(f"{'plan (classify + policy), us':<34}{o['plan_p50_us']:>12.1f}{o['plan_p99_us']:>12.1f}")
    click.echo(f"{'open + drain (instant backend), us':<34}{o['open_p50_us']:>12.1f}{o['open_p99_us']:>12.1f}")
    if trials:
        report["failover"] = _failover(trials, failover, summary)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2))
    click.echo(f"wrote {output}")


def _failover(trials: int, failover: Any, summary: Any) -> dict[str, object]:
    import tempfile  # noqa: PLC0415

    import httpx  # noqa: PLC0415

    from gateway.settings import ModelServerSettings  # noqa: PLC0415
    from gateway.supervisor import ModelServer  # noqa: PLC0415

    logs = Path(tempfile.mkdtemp(prefix="netops-bench-routing-"))
    victim = ModelServer(ModelServerSettings(port=_free_port()), log_dir=logs / "victim")
    survivor = ModelServer(ModelServerSettings(port=_free_port()), log_dir=logs / "survivor")
    for server in (victim, survivor):
        server.start()
    try:
        for server in (victim, survivor):
            server.wait_ready()

        def kill() -> None:
            proc = victim._proc
            if proc is not None:
                os.kill(proc.pid, signal.SIGKILL)

        def wait_back() -> None:
            while True:
                try:
                    if httpx.get(f"{victim.url}/models", timeout=1).status_code == 200:
                        return
                except httpx.HTTPError:
                    time.sleep(0.1)

        click.echo(f"failover: {trials} kill(s) of a llama.cpp server under back-to-back requests ...")
        result = failover(victim.url, survivor.url, kill, wait_back, trials=trials)
    finally:
        victim.stop()
        survivor.stop()
    click.echo(f"  death -> first answer from the survivor:      {summary(result.first_reroute_s)}")
    click.echo(f"  death -> first new request answered:          {summary(result.first_new_request_s)}")
    click.echo(f"  survivor's own answer time (floor):          {summary(result.survivor_answer_s)}")
    click.echo(f"  failed client requests: {result.failed_requests} of {result.requests}")
    data: dict[str, object] = result.as_dict()
    return data


def _free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
