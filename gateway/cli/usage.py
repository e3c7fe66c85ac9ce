"""`netops usage report`: unit economics per tenant, route and deployment from the audit log (gateway.usage)."""

from __future__ import annotations

import json
import time

import click

from gateway.cli.common import settings_of

__all__ = ["usage"]

_PERIODS = {"hour": 3600.0, "day": 86400.0, "week": 7 * 86400.0, "month": 30 * 86400.0}


@click.group()
def usage() -> None:
    """Usage and unit economics."""


@usage.command("report")
@click.option("--period", type=click.Choice(list(_PERIODS)), default="day", show_default=True, help="Up to now.")
@click.option("--tenant", default=None, help="One tenant only.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.pass_context
def usage_report(ctx: click.Context, period: str, tenant: str | None, fmt: str) -> None:
    """Requests, success rate, tokens, cost, cost per successful answer, cache hits and savings, p95 latency split
    into model, retrieval, tools and gateway time."""
    from gateway.db import open_engine  # noqa: PLC0415
    from gateway.usage import format_csv, format_table, public  # noqa: PLC0415
    from gateway.usage import usage as usage_rows  # noqa: PLC0415

    now = time.time()
    rows = usage_rows(open_engine(settings_of(ctx).sqlalchemy_url), since=now - _PERIODS[period], tenant=tenant)
    if fmt == "json":
        body = {"period": period, "since": now - _PERIODS[period], "until": now, "rows": [public(r) for r in rows]}
        click.echo(json.dumps(body, indent=2))
    elif fmt == "csv":
        click.echo(format_csv(rows), nl=False)
    else:
        click.echo(format_table(rows) if rows else f"no chat requests in the last {period}")
