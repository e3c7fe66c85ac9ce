"""`netops tenant|key|audit`: tenants, API keys and the audit log."""

from __future__ import annotations

import json
import sys

import click

from gateway.cli.common import call, settings_of, split_csv, tenants_of

__all__ = ["audit", "key", "tenant"]


@click.group()
def tenant() -> None:
    """Manage tenants."""


@tenant.command("create")
@click.argument("name")
@click.option("--models", default="*", show_default=True, help="Comma-separated models the tenant may use.")
@click.option("--tools", default="", help="Comma-separated tools granted (default: none).")
@click.option("--rpm", type=int, default=None, help="Requests per minute (default from settings).")
@click.pass_context
def tenant_create(ctx: click.Context, name: str, models: str, tools: str, rpm: int | None) -> None:
    """Create a tenant."""
    tenants = tenants_of(ctx)
    settings = settings_of(ctx)
    call(
        lambda: tenants.create(name, models=split_csv(models), tools=split_csv(tools), rpm=rpm or settings.default_rpm)
    )
    click.echo(f"tenant {name} created")


@tenant.command("list")
@click.pass_context
def tenant_list(ctx: click.Context) -> None:
    """List tenants as JSON."""
    click.echo(json.dumps(tenants_of(ctx).list(), indent=2))


@click.group()
def key() -> None:
    """Manage API keys."""


@key.command("create")
@click.argument("tenant_name")
@click.option("--label", default="", help="A note to recognise the key by.")
@click.option("--role", default="user", type=click.Choice(["user", "approver", "admin"]), show_default=True)
@click.pass_context
def key_create(ctx: click.Context, tenant_name: str, label: str, role: str) -> None:
    """Create a key; it is printed once and stored only hashed."""
    issued = call(lambda: tenants_of(ctx).create_key(tenant_name, label=label, role=role))
    click.echo(f"key id: {issued.key_id}\napi key: {issued.plaintext}\n(shown once; store it now)")


@key.command("revoke")
@click.argument("key_id")
@click.pass_context
def key_revoke(ctx: click.Context, key_id: str) -> None:
    """Revoke a key by its id."""
    call(lambda: tenants_of(ctx).revoke_key(key_id))
    click.echo(f"key {key_id} revoked")


@click.group()
def audit() -> None:
    """Inspect the audit log."""


@audit.command("verify")
@click.pass_context
def audit_verify(ctx: click.Context) -> None:
    """Recompute the hash chain; exit 1 and name the first bad record if it is broken."""
    from gateway.audit import AuditLog  # noqa: PLC0415
    from gateway.db import open_engine  # noqa: PLC0415

    report = AuditLog(open_engine(settings_of(ctx).sqlalchemy_url)).verify()
    if report.ok:
        click.echo(f"ok: {report.checked} records, chain intact")
        return
    click.echo(
        f"TAMPERED: record seq={report.first_bad_seq}: {report.reason} ({report.checked} records verified before it)"
    )
    sys.exit(1)


@audit.command("tail")
@click.option("-n", "limit", type=int, default=10, show_default=True)
@click.option("--tenant", "tenant_name", default=None)
@click.pass_context
def audit_tail(ctx: click.Context, limit: int, tenant_name: str | None) -> None:
    """Print the latest audit records as JSON lines."""
    from gateway.audit import AuditLog  # noqa: PLC0415
    from gateway.db import open_engine  # noqa: PLC0415

    for record in reversed(
        AuditLog(open_engine(settings_of(ctx).sqlalchemy_url)).records(tenant=tenant_name, limit=limit)
    ):
        click.echo(json.dumps(record, sort_keys=True))
