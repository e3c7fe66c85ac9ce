"""`netops prompts list|show|diff|add`: the prompt templates, their versions and each tenant's pin; and their
rollouts, `netops prompts canary|status|promote|rollback` (`gateway.rollout`, docs/prompts.md)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from gateway.cli.common import call, fail, settings_of

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from gateway.prompting import PromptBook
    from gateway.rollout import Rollouts
    from gateway.rollout_model import Counters, Rollout

T = TypeVar("T")

__all__ = ["prompts"]


def _book(ctx: click.Context, engine: Engine | None = None) -> PromptBook:
    from gateway.db import open_engine  # noqa: PLC0415
    from gateway.prompting import PromptBook, PromptError  # noqa: PLC0415

    s = settings_of(ctx)
    try:
        return PromptBook.open(
            s.prompts.dir,
            engine=engine or open_engine(s.sqlalchemy_url),
            pins=s.prompts.pins,
            legacy=s.data_dir / "prompts",
        )
    except PromptError as exc:
        fail(str(exc))


@click.group()
def prompts() -> None:
    """Prompt templates as versioned assets (version = content hash; recorded in every chat audit record)."""


@prompts.command("list")
@click.pass_context
def prompts_list(ctx: click.Context) -> None:
    """The versions kept (oldest first; * = in force), the templates, and the tenants pinned to a version."""
    book = _book(ctx)
    for version in book.versions():
        click.echo(f"{'*' if version == book.current.version else ' '} {version}")
    click.echo(f"templates: {', '.join(sorted(book.current.templates))}")
    for tenant, version in sorted(settings_of(ctx).prompts.pins.items()):
        click.echo(f"pinned: {tenant} -> {version}")


@prompts.command("show")
@click.argument("name", required=False)
@click.option("--version", default=None, help="A kept version (default: the one in force).")
@click.pass_context
def prompts_show(ctx: click.Context, name: str | None, version: str | None) -> None:
    """Print one template, or all of them."""
    from gateway.prompting import PromptError  # noqa: PLC0415

    book = _book(ctx)
    try:
        chosen = book.version(version) if version else book.current
    except PromptError as exc:
        fail(str(exc))
    names = [name] if name else sorted(chosen.templates)
    for n in names:
        if n not in chosen.templates:
            fail(f"no template {n!r}; templates: {', '.join(sorted(chosen.templates))}")
        click.echo(f"== {n} ({chosen.version})\n{chosen.templates[n]}\n")


@prompts.command("diff")
@click.argument("old")
@click.argument("new", required=False)
@click.pass_context
def prompts_diff(ctx: click.Context, old: str, new: str | None) -> None:
    """A unified diff of every template between two kept versions (NEW defaults to the one in force)."""
    from gateway.prompting import PromptError  # noqa: PLC0415

    book = _book(ctx)
    try:
        a, b = book.version(old), book.version(new) if new else book.current
    except PromptError as exc:
        fail(str(exc))
    for n in sorted(set(a.templates) | set(b.templates)):
        lines = difflib.unified_diff(
            a.templates.get(n, "").splitlines(),
            b.templates.get(n, "").splitlines(),
            f"{a.version}/{n}",
            f"{b.version}/{n}",
            lineterm="",
        )
        for line in lines:
            click.echo(line)


@prompts.command("add")
@click.argument("folder", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.pass_context
def prompts_add(ctx: click.Context, folder: Path) -> None:
    """Keep the templates of FOLDER as a version (a candidate for `canary`); prints the version."""
    from gateway.prompting import PromptError, PromptSet  # noqa: PLC0415

    book = _book(ctx)
    try:
        click.echo(book.keep(PromptSet.from_dir(folder)))
    except PromptError as exc:
        fail(str(exc))


def _scope_options(command: Callable[..., None]) -> Callable[..., None]:
    command = click.option("--all", "all_tenants", is_flag=True, help="Every tenant (no pin or own promotion).")(
        command
    )
    return click.option("--tenant", default=None, help="The tenant whose traffic the rollout covers.")(command)


def _scope(tenant: str | None, all_tenants: bool) -> str:
    if bool(tenant) == all_tenants:
        fail("name one tenant (--tenant T) or all of them (--all)")
    return tenant or "*"


@contextmanager
def _rollouts(ctx: click.Context) -> Iterator[Rollouts]:
    """The rollouts over the configured store; the audit log's head is signed on the way out."""
    from gateway.audit import AuditLog  # noqa: PLC0415
    from gateway.checkpoints import Checkpointer  # noqa: PLC0415
    from gateway.db import open_engine  # noqa: PLC0415
    from gateway.rollout import Rollouts  # noqa: PLC0415

    settings = settings_of(ctx)
    engine = open_engine(settings.sqlalchemy_url)
    audit = AuditLog(engine, checkpoints=call(lambda: Checkpointer.in_dir(settings.data_dir)))
    try:
        yield Rollouts(engine, _book(ctx, engine), audit)
    finally:
        audit.close()
        engine.dispose()


@prompts.command("canary")
@click.argument("version")
@_scope_options
@click.option("--share", type=float, default=0.1, show_default=True, help="Share of conversations (0-1).")
@click.option("--shadow", is_flag=True, help="Answer in shadow instead: computed, scored, never shown.")
@click.option("--margin", type=float, default=None, help="Roll back when a rate exceeds the baseline's by this.")
@click.option("--min-requests", type=int, default=None, help="Candidate requests before judging.")
@click.pass_context
def prompts_canary(
    ctx: click.Context,
    version: str,
    tenant: str | None,
    all_tenants: bool,
    share: float,
    shadow: bool,
    margin: float | None,
    min_requests: int | None,
) -> None:
    """Start a rollout of a kept VERSION beside the version in force (audited: prompts.rollout_started)."""
    from gateway.rollout_model import Mode  # noqa: PLC0415

    scope, ps = _scope(tenant, all_tenants), settings_of(ctx).prompts
    with _rollouts(ctx) as rollouts:
        r = call(
            lambda: rollouts.start(
                scope,
                version,
                mode=Mode.SHADOW if shadow else Mode.CANARY,
                share=1.0 if shadow else share,
                margin=ps.canary_margin if margin is None else margin,
                min_requests=ps.canary_min_requests if min_requests is None else min_requests,
                actor="cli",
            )
        )
    click.echo(f"rollout {r.id}: {r.candidate} ({r.mode.value}, share {r.share:g}) beside {r.baseline} for {scope}")


@prompts.command("status")
@click.option("--tenant", default=None, help="Only the rollouts covering this tenant.")
@click.option("--ended", type=int, default=3, show_default=True, help="Also show this many ended rollouts.")
@click.pass_context
def prompts_status(ctx: click.Context, tenant: str | None, ended: int) -> None:
    """Active rollouts with each version's counters side by side, then the latest ended ones."""
    with _rollouts(ctx) as rollouts:
        if tenant:
            click.echo(f"in force for {tenant}: {rollouts.in_force(tenant)}")
        click.echo(f"in force for all tenants: {rollouts.in_force('*')}")
        shown = [r for r in rollouts.rollouts() if tenant is None or r.scope in (tenant, "*")]
        active = [r for r in shown if r.state == "active"]
        for r in active:
            _show(r, rollouts.by_version(r.id))
        if not active:
            click.echo("no active rollout")
        for r in [r for r in shown if r.state != "active"][:ended]:
            click.echo(f"ended {r.id} [{r.scope}] {r.candidate} vs {r.baseline}: {r.state} ({r.reason})")
            _show(r, rollouts.by_version(r.id), header=False)


def _show(r: Rollout, counters: dict[str, Counters], *, header: bool = True) -> None:
    from gateway.rollout_model import Counters  # noqa: PLC0415

    if header:
        click.echo(
            f"rollout {r.id} [{r.scope}] {r.mode.value} share={r.share:g} margin={r.margin:g} "
            f"min_requests={r.min_requests}"
        )
    click.echo(
        f"  {'version':<14}{'arm':<11}{'requests':>9}{'blocks':>8}{'errors':>8}{'unsupp.':>8}"
        f"{'ms/req':>9}{'up':>5}{'down':>6}"
    )
    for arm, version in (("baseline", r.baseline), ("candidate", r.candidate)):
        c = counters.get(version, Counters())
        s = c.summary()
        click.echo(
            f"  {version:<14}{arm:<11}{c.requests:>9}{s['block_rate']:>8.0%}{s['error_rate']:>8.0%}"
            f"{c.unsupported:>8}{s['latency_ms']:>9}{c.thumbs_up:>5}{c.thumbs_down:>6}"
        )


def _end(ctx: click.Context, action: Callable[[Rollouts], T]) -> T:
    with _rollouts(ctx) as rollouts:
        return call(lambda: action(rollouts))


@prompts.command("promote")
@_scope_options
@click.pass_context
def prompts_promote(ctx: click.Context, tenant: str | None, all_tenants: bool) -> None:
    """Make the active rollout's candidate the version in force (kept across restarts; pins still win)."""
    scope = _scope(tenant, all_tenants)
    r = _end(ctx, lambda rollouts: rollouts.promote(scope, actor="cli"))
    click.echo(f"promoted {r.candidate} for {scope} (was {r.baseline}); rollout {r.id} ended")


@prompts.command("rollback")
@_scope_options
@click.pass_context
def prompts_rollback(ctx: click.Context, tenant: str | None, all_tenants: bool) -> None:
    """End the active rollout: its baseline stays in force."""
    scope = _scope(tenant, all_tenants)
    r = _end(ctx, lambda rollouts: rollouts.rollback(scope, actor="cli"))
    click.echo(f"rolled back {r.candidate} for {scope}; {r.baseline} stays in force; rollout {r.id} ended")
