"""`netops tenant|key`: tenants and API keys."""

from __future__ import annotations

import json

import click

from gateway.cli.common import call, fail, settings_of, split_csv, tenants_of

__all__ = ["key", "tenant"]


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
@click.option(
    "--role",
    default="user",
    type=click.Choice(["user", "approver", "admin", "operator"]),
    show_default=True,
    help="operator: the platform operator (tenant `platform` only), for /v1/routing/status and /metrics.",
)
@click.pass_context
def key_create(ctx: click.Context, tenant_name: str, label: str, role: str) -> None:
    """Create a key; it is printed once and stored only hashed."""
    issued = call(lambda: tenants_of(ctx).create_key(tenant_name, label=label, role=role))
    click.echo(f"key id: {issued.key_id}\napi key: {issued.plaintext}\n(shown once; store it now)")


@key.command("list")
@click.option("--tenant", "tenant_name", default=None, help="Only this tenant's keys.")
@click.pass_context
def key_list(ctx: click.Context, tenant_name: str | None) -> None:
    """List keys (ids, tenants, labels, roles, revoked) as JSON; secrets are never stored, so never shown."""
    tenants = tenants_of(ctx)
    if tenant_name is not None and not tenants.exists(tenant_name):
        fail(f"tenant {tenant_name!r} does not exist")
    click.echo(json.dumps(tenants.list_keys(tenant_name), indent=2))


@key.command("revoke")
@click.argument("key_id")
@click.pass_context
def key_revoke(ctx: click.Context, key_id: str) -> None:
    """Revoke a key by its id."""
    call(lambda: tenants_of(ctx).revoke_key(key_id))
    click.echo(f"key {key_id} revoked")
