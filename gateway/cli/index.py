"""`netops index build|list|diff|promote|rollback|history` and `netops search`: the versioned runbook index.

`build` writes a new version (not live); `promote` makes a version live if it passes the retrieval eval
gate against the live one; `rollback` returns to the previously live version. With the embedded store,
with the `local` engine (qdrant-client local mode) one process at a time may open the folder; the default `edge`
engine shares it (see docs/retrieval.md).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gateway.cli.common import call, fail, settings_of, tenants_of
from gateway.settings import Settings

if TYPE_CHECKING:
    from retrieval import RunbookIndex, VectorStore

__all__ = ["index", "open_named", "search"]

_NAME = click.option("--name", default=None, help="Index name (default from settings: runbooks).")


def open_named(ctx: click.Context, name: str | None) -> tuple[Settings, VectorStore, RunbookIndex]:
    """The settings (with `name` as the index name, if given), the store and the index; the embedder loads only
    if the command embeds something."""
    from gateway.services import open_index  # noqa: PLC0415

    settings = settings_of(ctx)
    if name:
        retrieval = settings.retrieval.model_copy(update={"collection": name})
        settings = settings.model_copy(update={"retrieval": retrieval})
    store, runbooks = call(lambda: open_index(settings, lazy=True))
    return settings, store, runbooks


def _progress(stage: str, done: int, total: int) -> None:
    step = max(total // 10, 1)
    if total >= 50 and (done == total or (done // step) != ((done - 1) // step) or stage == "embedding"):
        click.echo(f"  {stage}: {done}/{total}", err=True)


@click.group()
def index() -> None:
    """Build, compare, promote and roll back versions of the runbook index."""


@index.command("build")
@click.option("--source", "sources", multiple=True, type=click.Path(path_type=Path), help="Runbook folder (repeat).")
@_NAME
@click.option("--with-defaults", is_flag=True, help="Index the --source folders and the configured ones.")
@click.option("--full", is_flag=True, help="Re-embed every chunk (default: reuse unchanged chunks' vectors).")
@click.option("--promote", "then_promote", is_flag=True, help="Promote the new version if it passes the gate.")
@click.pass_context
def index_build(
    ctx: click.Context, sources: tuple[Path, ...], name: str | None, with_defaults: bool, full: bool, then_promote: bool
) -> None:
    """Build a new index version from runbook folders (Markdown, reST, HTML, text)."""
    from retrieval import scan  # noqa: PLC0415

    settings, store, runbooks = open_named(ctx, name)
    folders = [*sources, *settings.retrieval.sources] if with_defaults or not sources else list(sources)
    for folder in folders:
        if not folder.is_dir():
            store.close()
            fail(f"--source {folder} is not a folder")
    started = time.perf_counter()
    corpus = scan(
        folders, max_chars=settings.retrieval.max_chunk_chars, progress=lambda d, t, _: _progress("read", d, t)
    )
    for rejected in corpus.rejected:
        click.echo(f"rejected {rejected.path}: {rejected.reason}", err=True)
    manifest = call(lambda: runbooks.build(corpus, incremental=not full, progress=_progress))
    elapsed = time.perf_counter() - started
    click.echo(
        f"built {manifest.version}: {len(manifest.documents)} documents, {manifest.chunks} chunks "
        f"({manifest.embedded} embedded, {manifest.reused} reused), {len(corpus.rejected)} rejected, "
        f"{elapsed:.1f} s ({manifest.chunks / max(elapsed, 1e-9):.0f} chunks/s)"
    )
    if then_promote:
        _promote(settings, runbooks, manifest.version, force=False)
    store.close()


@index.command("list")
@_NAME
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def index_list(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """Every version, the live one marked with `*`."""
    _, store, runbooks = open_named(ctx, name)
    versions = runbooks.versions()
    store.close()
    if as_json:
        click.echo(json.dumps([{**v.manifest.to_dict(), "live": v.live} for v in versions], indent=2))
        return
    for v in versions:
        m = v.manifest
        state = "" if m.complete else "  (incomplete)"
        click.echo(
            f"{'*' if v.live else ' '} {m.version:<16} {m.created_at}  {len(m.documents):>4} docs "
            f"{m.chunks:>6} chunks  {m.embedder}{state}"
        )


@index.command("diff")
@click.argument("old", required=False)
@click.argument("new", required=False)
@_NAME
@click.pass_context
def index_diff(ctx: click.Context, old: str | None, new: str | None, name: str | None) -> None:
    """Documents added, removed and changed between two versions (default: live vs newest)."""
    _, store, runbooks = open_named(ctx, name)
    versions = [v.manifest.version for v in runbooks.versions() if v.manifest.complete]
    old = old or runbooks.live() or (versions[0] if versions else None)
    new = new or (versions[-1] if versions else None)
    if old is None or new is None:
        store.close()
        fail("no versions to compare; run `netops index build`")
    d = call(lambda: runbooks.diff(old, new))
    store.close()
    click.echo(f"{d.old} -> {d.new}: chunks {d.chunks[0]} -> {d.chunks[1]}, {d.unchanged} documents unchanged")
    for label, paths in (("+", d.added), ("-", d.removed), ("~", d.changed)):
        for path in paths:
            click.echo(f"  {label} {path}")
    if d.settings_changed:
        click.echo(f"  settings changed: {', '.join(d.settings_changed)}")


@index.command("promote")
@click.argument("version", required=False)
@_NAME
@click.option("--force", is_flag=True, help="Skip the retrieval eval gate.")
@click.pass_context
def index_promote(ctx: click.Context, version: str | None, name: str | None, force: bool) -> None:
    """Make VERSION (default: the newest) live, if it passes the retrieval eval gate."""
    settings, store, runbooks = open_named(ctx, name)
    complete = [v.manifest.version for v in runbooks.versions() if v.manifest.complete]
    target = version or (complete[-1] if complete else None)
    if target is None:
        store.close()
        fail("no version to promote; run `netops index build`")
    _promote(settings, runbooks, target, force=force)
    store.close()


def _promote(settings: Settings, runbooks: RunbookIndex, version: str, *, force: bool) -> None:
    from retrieval import EvalGate, load_cases  # noqa: PLC0415

    eval_set = settings.retrieval.eval_set
    gate = None
    if not force and eval_set is not None and eval_set.is_file():
        r = settings.retrieval
        gate = EvalGate(load_cases(eval_set), tolerance=r.gate_tolerance, floor=r.gate_floor, coverage=r.gate_coverage)
    report = call(lambda: runbooks.promote(version, gate=gate))
    click.echo(f"promoted {runbooks.live()}: {report.summary() if report else 'gate skipped (--force or no eval set)'}")


@index.command("rollback")
@_NAME
@click.pass_context
def index_rollback(ctx: click.Context, name: str | None) -> None:
    """Return to the version that was live before the current one."""
    _, store, runbooks = open_named(ctx, name)
    before = runbooks.live()
    target = call(runbooks.rollback)
    store.close()
    click.echo(f"rolled back {before} -> {target}")


@index.command("prune")
@click.option("--keep", type=int, default=3, show_default=True, help="How many of the newest versions to keep.")
@_NAME
@click.pass_context
def index_prune(ctx: click.Context, keep: int, name: str | None) -> None:
    """Delete old versions (never the live one or the rollback target) and abandoned incomplete builds."""
    _, store, runbooks = open_named(ctx, name)
    deleted = runbooks.prune(keep=max(keep, 1))
    store.close()
    click.echo(f"deleted {', '.join(deleted) if deleted else 'nothing'}")


@index.command("history")
@_NAME
@click.pass_context
def index_history(ctx: click.Context, name: str | None) -> None:
    """Promotions and rollbacks, oldest first."""
    _, store, runbooks = open_named(ctx, name)
    entries = runbooks.history()
    store.close()
    for e in entries:
        at = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(float(str(e.get("at", 0)))))
        click.echo(f"{at}Z  {e.get('action'):<8} {e.get('from')} -> {e.get('version')}  {e.get('gate', '')}")


@click.command()
@click.argument("query")
@click.option("--top", "top_k", type=int, default=5, show_default=True)
@click.option("--tenant", "tenant_name", default="demo", show_default=True)
@click.option("--clearance", default="internal", show_default=True, help="Highest sensitivity level to return.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "lexical"]), default=None)
@_NAME
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def search(
    ctx: click.Context,
    query: str,
    top_k: int,
    tenant_name: str,
    clearance: str,
    mode: str | None,
    name: str | None,
    as_json: bool,
) -> None:
    """Search the live runbook index as a tenant: rank, score, where, and the start of the matching text."""
    if tenant_name != "global" and not tenants_of(ctx).exists(tenant_name):
        fail(f"tenant {tenant_name!r} does not exist (netops tenant list)")
    _, store, runbooks = open_named(ctx, name)
    try:
        hits = call(lambda: runbooks.search(tenant_name, query, top_k, clearance=clearance, mode=mode))
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps([{**h.citation(), "text": h.text} for h in hits], indent=2))
        return
    how = mode or settings_of(ctx).retrieval.mode
    click.echo(f"{len(hits)} results ({how} search; score: fused rank, higher is better, comparable within one query)")
    for rank, hit in enumerate(hits, start=1):
        click.echo(f"{rank:>2}. {hit.path}  > {hit.heading}  [{hit.index_version}]  score {hit.score:.3f}")
        click.echo(f"    {' '.join(hit.text.split())[:160]}")
