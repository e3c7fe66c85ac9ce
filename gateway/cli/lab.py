"""`netops lab up|down|status|faults|fault <name>|heal`: the FRR lab in network namespaces (root only).

The lab's devices are the `demo` tenant's inventory (`infra/inventory/demo.yaml`); its paths and
namespace prefix come from the settings (`tools.lab_dir`, `tools.lab_prefix`). The fault table
(`tools.lab.fault_table`) is imported only when a lab command or its help runs, so `netops` starts fast.
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


class WithFaultList(click.Command):
    """A command whose `--help` ends with every fault and its one-line description."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from tools.lab import FAULT_TABLE  # noqa: PLC0415 - only when help is shown

        with formatter.section("Faults: what each does and what you would see (`netops lab faults`: tool, telltale)"):
            formatter.write_dl([(f.name, f.does) for f in FAULT_TABLE.values()])
        super().format_epilog(ctx, formatter)


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
    """Daemons, BGP sessions, OSPF neighbors, DNS and active faults (injected and still true on the routers),
    as JSON; exit 1 when not up."""
    the_lab, faults = _lab(ctx)
    status = _guard(lambda: the_lab.status(faults.active()))
    click.echo(json.dumps(status.as_dict(), indent=2))
    if not status.up:
        ctx.exit(1)


@lab.command("faults")
def lab_faults() -> None:
    """List every fault: what it does and where an engineer sees it (tool and telltale line)."""
    from tools.lab import FAULT_TABLE  # noqa: PLC0415 - only for this command

    for fault in FAULT_TABLE.values():
        click.echo(f"{fault.name}\n  does:  {fault.does}\n  shows: {fault.shows}")


@lab.command("fault", cls=WithFaultList)
@click.argument("name", metavar="NAME")
@click.pass_context
def lab_fault(ctx: click.Context, name: str) -> None:
    """Inject the fault NAME (listed below; see docs/tools.md); `netops lab heal` reverts it."""
    from tools.lab import FAULT_TABLE  # noqa: PLC0415 - only for this command

    if name not in FAULT_TABLE:
        raise click.BadParameter(
            f"{name!r} is not a lab fault; choose one of {', '.join(FAULT_TABLE)}", ctx, None, "NAME"
        )
    _, faults = _lab(ctx)
    _guard(lambda: faults.inject(name))
    click.echo(f"fault {name} injected: {FAULT_TABLE[name].does}\nlook for: {FAULT_TABLE[name].shows}")


@lab.command("heal")
@click.pass_context
def lab_heal(ctx: click.Context) -> None:
    """Revert every active fault."""
    _, faults = _lab(ctx)
    healed = _guard(faults.heal)
    click.echo(f"healed: {', '.join(healed) or 'nothing'}")
