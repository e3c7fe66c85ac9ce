"""`netops index|search`: build and query the runbook index."""

from __future__ import annotations

import json
import time

import click

from gateway.cli.common import call, settings_of

__all__ = ["index", "search"]


@click.group()
def index() -> None:
    """Build and inspect the runbook index."""


@index.command("build")
@click.pass_context
def index_build(ctx: click.Context) -> None:
    """Build the index from the configured runbook folders."""
    from gateway.services import open_index  # noqa: PLC0415
    from retrieval import load_chunks  # noqa: PLC0415

    settings = settings_of(ctx)
    store, runbooks = open_index(settings)
    started = time.perf_counter()
    chunks = list(load_chunks(settings.retrieval.sources, max_chars=settings.retrieval.max_chunk_chars))
    status = runbooks.build(chunks)
    store.close()
    elapsed = time.perf_counter() - started
    click.echo(
        f"index {status.version}: {status.chunks} chunks in {elapsed:.1f} s ({status.chunks / elapsed:.0f} chunks/s)"
    )


@click.command()
@click.argument("query")
@click.option("--top", "top_k", type=int, default=5, show_default=True)
@click.option("--tenant", "tenant_name", default="demo", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def search(ctx: click.Context, query: str, top_k: int, tenant_name: str, as_json: bool) -> None:
    """Search the runbook index as a tenant."""
    from gateway.services import open_index  # noqa: PLC0415

    store, runbooks = open_index(settings_of(ctx))
    hits = call(lambda: runbooks.search(tenant_name, query, top_k))
    store.close()
    if as_json:
        click.echo(json.dumps([{**h.citation(), "text": h.text} for h in hits], indent=2))
        return
    for rank, hit in enumerate(hits, start=1):
        click.echo(f"{rank:>2}. {hit.score:.3f}  {hit.path}  > {hit.heading}  [{hit.index_version}]")
