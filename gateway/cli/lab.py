"""`netops lab up|down|status|fault <name>|heal`: the FRR lab in network namespaces (root only).

The lab's devices are the `demo` tenant's inventory (`infra/inventory/demo.yaml`); its paths and
namespace prefix come from the settings (`tools.lab_dir`, `tools.lab_prefix`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import click

from gateway.cli.common import fail, settings_of

if TYPE_CHECKING:
    from tools.lab import Faults, Lab

__all__ = ["lab"]

T = TypeVar("T")
FAULT_NAMES = ["link-down", "silent-drop", "bgp-shutdown", "ospf-cost", "dns-stop"]


def _lab(ctx: click.Context) -> tuple[Lab, Faults]:
    from tools.lab import Faults, Lab  # noqa: PLC0415 - only for this command

    t = settings_of(ctx).tools
    the_lab = Lab(t.lab_dir, prefix=t.lab_prefix, ssh_port=t.lab_ssh_port)
    return the_lab, Faults(the_lab)


def _guard(action: Callable[[], T]) -> T:
    """Run a lab action; a `LabError` (e.g. not root) prints its message and exits 2."""
    from tools import LabError  # noqa: PLC0415

    try:
        return action()
    except LabError as exc:
        fail(exc.detail)


@click.group()
def lab() -> None:
    """Build, inspect, break and heal the FRR lab (needs root)."""


@lab.command("up")
@click.option("--no-wait", is_flag=True, help="Return once the daemons are started, before routing converges.")
@click.pass_context
def lab_up(ctx: click.Context, no_wait: bool) -> None:
    """Build the lab: r1 r2 r3 (OSPF + eBGP), hosts h1 h2, dnsmasq; wait for convergence."""
    the_lab, _ = _lab(ctx)
    started = time.monotonic()
    _guard(the_lab.up)
    click.echo(f"lab up in {time.monotonic() - started:.1f} s ({the_lab.root}, namespaces {the_lab.prefix}-*)")
    if not no_wait:
        click.echo(f"converged in {_guard(the_lab.wait_converged):.1f} s more")


@lab.command("down")
@click.pass_context
def lab_down(ctx: click.Context) -> None:
    """Stop the lab's daemons (by their pid files) and delete its namespaces."""
    the_lab, _ = _lab(ctx)
    _guard(the_lab.down)
    click.echo("lab down")


@lab.command("status")
@click.pass_context
def lab_status(ctx: click.Context) -> None:
    """Daemons, BGP sessions, OSPF neighbors, DNS and active faults, as JSON; exit 1 when not up."""
    the_lab, faults = _lab(ctx)
    status = _guard(lambda: the_lab.status(faults.active()))
    click.echo(json.dumps(status.as_dict(), indent=2))
    if not status.up:
        ctx.exit(1)


@lab.command("fault")
@click.argument("name", type=click.Choice(FAULT_NAMES))
@click.pass_context
def lab_fault(ctx: click.Context, name: str) -> None:
    """Inject a fault (see docs/tools.md); `netops lab heal` reverts it."""
    _, faults = _lab(ctx)
    _guard(lambda: faults.inject(name))
    click.echo(f"fault {name} injected")


@lab.command("heal")
@click.pass_context
def lab_heal(ctx: click.Context) -> None:
    """Revert every active fault."""
    _, faults = _lab(ctx)
    healed = _guard(faults.heal)
    click.echo(f"healed: {', '.join(healed) or 'nothing'}")
