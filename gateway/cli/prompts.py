"""`netops prompts list|show|diff`: the prompt templates, their versions and each tenant's pin."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

import click

from gateway.cli.common import fail, settings_of

if TYPE_CHECKING:
    from gateway.prompting import PromptBook

__all__ = ["prompts"]


def _book(ctx: click.Context) -> PromptBook:
    from gateway.prompting import PromptBook, PromptError  # noqa: PLC0415

    s = settings_of(ctx)
    try:
        return PromptBook.open(s.prompts.dir, store=s.data_dir / "prompts", pins=s.prompts.pins)
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
