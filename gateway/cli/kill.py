"""`netops kill` / `netops revive`: kill switches (gateway.kills), in force on every gateway process on the same
state store within `config_refresh_s`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from gateway.cli.common import audited_engine, author, call, fail, settings_of

if TYPE_CHECKING:
    from gateway.kills import KillSwitches

__all__ = ["kill", "revive"]

_KINDS = click.Choice(["tool", "route", "deployment", "tenant", "prompt"])


def _switches(ctx: click.Context) -> KillSwitches:
    from gateway.kills import KillSwitches  # noqa: PLC0415

    return KillSwitches(*audited_engine(ctx))


@click.command()
@click.argument("kind", type=_KINDS, required=False)
@click.argument("name", required=False)
@click.option("--reason", default=None, help="Why (kept with the switch, shown in every refusal, audited).")
@click.option("--author", "who", default=None, help="Who (default: the OS user).")
@click.option("--list", "listing", is_flag=True, help="List the switches thrown.")
@click.pass_context
def kill(
    ctx: click.Context, kind: str | None, name: str | None, reason: str | None, who: str | None, listing: bool
) -> None:
    """Switch a tool, route, deployment (a drain) or tenant off, or --list the switches thrown."""
    from gateway.kills import Target  # noqa: PLC0415

    switches = _switches(ctx)
    if listing:
        click.echo(json.dumps([s.public() for s in switches.list()], indent=2))
        return
    if kind is None or name is None or not reason:
        fail("usage: netops kill tool|route|deployment|tenant|prompt NAME --reason WHY  (or netops kill --list)")
    switch = switches.throw(Target(kind), name, reason=reason, author=author(who))
    click.echo(f"{switch.detail()}; every gateway process holds it within {settings_of(ctx).config_refresh_s:g} s")


@click.command()
@click.argument("kind", type=_KINDS)
@click.argument("name")
@click.option("--reason", default="", help="Why it may serve again.")
@click.option("--author", "who", default=None)
@click.pass_context
def revive(ctx: click.Context, kind: str, name: str, reason: str, who: str | None) -> None:
    """Revive a switched-off tool, route, deployment or tenant."""
    from gateway.kills import Target  # noqa: PLC0415

    call(lambda: _switches(ctx).revive(Target(kind), name, author=author(who), reason=reason))
    click.echo(f"{kind} {name!r} serves again")
