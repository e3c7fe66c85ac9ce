"""`netops eval retrieval`: quality evaluations; each prints a table and writes JSON."""

from __future__ import annotations

import json
from pathlib import Path

import click

from gateway.cli.common import call, fail, settings_of

__all__ = ["bench_retrieval", "eval_group"]


@click.group("eval")
def eval_group() -> None:
    """Quality evaluations: each prints a table and writes JSON."""


@eval_group.command("retrieval")
@click.option(
    "--cases", type=click.Path(path_type=Path), default=None, help="JSONL cases (default: settings eval_set)."
)
@click.option("--mode", "modes", multiple=True, type=click.Choice(["dense", "lexical", "hybrid"]), help="Repeat.")
@click.option("--version", default=None, help="Index version (default: the live one).")
@click.option("--name", default=None, help="Index name (default from settings).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("var/eval/retrieval.json"), show_default=True)
@click.pass_context
def eval_retrieval(
    ctx: click.Context, cases: Path | None, modes: tuple[str, ...], version: str | None, name: str | None, out: Path
) -> None:
    """Recall@1/@5, MRR@10 and nDCG@10 of the runbook index on alert-to-runbook cases, per mode."""
    from evals.retrieval import format_table, run_eval  # noqa: PLC0415
    from gateway.cli.index import open_named  # noqa: PLC0415
    from retrieval import load_cases  # noqa: PLC0415

    settings, store, runbooks = open_named(ctx, name)
    path = cases or settings.retrieval.eval_set
    if path is None or not path.is_file():
        store.close()
        fail(f"no eval cases at {path}")
    report = call(
        lambda: run_eval(runbooks, load_cases(path), modes=modes or ("dense", "lexical", "hybrid"), version=version)
    )
    store.close()
    if report["index_version"] is None:
        fail("no live index version; run `netops index build --promote`")
    click.echo(format_table(report))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**report, "cases_file": str(path)}, indent=2))
    click.echo(f"wrote {out}")


@eval_group.command("incidents")
@click.option("--cases", type=click.Path(path_type=Path), default=None, help="YAML cases (default: the lab set).")
@click.option("--fault", "only", multiple=True, help="Only these faults (repeat).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("var/eval/incidents.json"), show_default=True)
@click.pass_context
def eval_incidents(ctx: click.Context, cases: Path | None, only: tuple[str, ...], out: Path) -> None:
    """The incident assistant on the live FRR lab (root): per fault, inject, paste the alert, score the findings,
    checks, citations, audit and timings; the model's own diagnosis is scored separately."""
    import os  # noqa: PLC0415

    from evals.incidents import format_table, load_cases  # noqa: PLC0415
    from evals.incidents_run import run_incidents  # noqa: PLC0415

    if os.geteuid() != 0:
        fail("the FRR lab needs root (network namespaces); run as root")
    selected = [c for c in load_cases(cases) if not only or c.fault in only]
    if not selected:
        fail(f"no case for {', '.join(only)}")
    report = run_incidents(settings_of(ctx), selected, progress=lambda line: click.echo(line, err=True))
    click.echo(format_table(report))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    click.echo(f"wrote {out}")


@click.command("retrieval")
@click.option("--chunks", "target", type=int, default=20_000, show_default=True, help="Chunks for the latency test.")
@click.option("--queries", type=int, default=100, show_default=True)
@click.option("--threads", type=int, default=1, show_default=True, help="torch threads for the embedder.")
@click.option(
    "--engine", type=click.Choice(["edge", "local"]), default=None, help="Embedded store (default: settings)."
)
@click.option("--scratch", type=click.Path(path_type=Path), default=None, help="Scratch folder (default: a temp dir).")
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("evals/results/retrieval-bench.json"), show_default=True
)
@click.pass_context
def bench_retrieval(
    ctx: click.Context,
    target: int,
    queries: int,
    threads: int,
    engine: str | None,
    scratch: Path | None,
    out: Path,
) -> None:
    """Build throughput, incremental rebuild time and query latency at 20k chunks (embedded store)."""
    import tempfile  # noqa: PLC0415

    from evals.retrieval_bench import format_table, run_bench  # noqa: PLC0415
    from retrieval import MiniLMEmbedder  # noqa: PLC0415

    settings = settings_of(ctx)
    with tempfile.TemporaryDirectory(prefix="netops-bench-") as tmp:
        report = run_bench(
            MiniLMEmbedder.load(threads=threads),
            settings.retrieval.sources,
            scratch=scratch or Path(tmp) / "bench",
            engine=engine or settings.retrieval.engine,
            target=target,
            queries=queries,
        )
    report["threads"] = threads
    click.echo(format_table(report))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    click.echo(f"wrote {out}")
