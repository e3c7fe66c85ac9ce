"""`netops eval`: quality evaluations; each prints a table and writes JSON.

`netops eval run` runs the suite's tiers (deterministic, quality, lab; see docs/evals.md), `netops eval gate`
compares a run with the committed baseline, `netops eval baseline --update` rewrites that baseline."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from gateway.cli.common import call, fail, settings_of

__all__ = ["bench_retrieval", "eval_group"]

T = TypeVar("T")
BASELINE_DIR = Path("evals/baseline")
RUN_DIR = Path("var/eval")


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
@click.option(
    "--fields",
    default="alert,summary,description",
    show_default=True,
    help="What a query is made of; `description` alone is the hard form (no alert name to match a file name).",
)
@click.option(
    "--split", type=click.Choice(["all", "dev", "test"]), default="all", show_default=True, help="Tune on dev."
)
@click.option("--out", type=click.Path(path_type=Path), default=Path("var/eval/retrieval.json"), show_default=True)
@click.pass_context
def eval_retrieval(
    ctx: click.Context,
    cases: Path | None,
    modes: tuple[str, ...],
    version: str | None,
    name: str | None,
    fields: str,
    split: str,
    out: Path,
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
    chosen = load_cases(path, fields=[f.strip() for f in fields.split(",") if f.strip()], split=split)
    report = call(lambda: run_eval(runbooks, chosen, modes=modes or ("dense", "lexical", "hybrid"), version=version))
    report.update(fields=fields, split=split)
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


@eval_group.command("run")
@click.option("--tier", "tiers", multiple=True, type=click.Choice(["deterministic", "quality", "lab"]),
              help="Repeat (default: deterministic).")  # fmt: skip
@click.option("--cases", type=click.Path(path_type=Path), default=None, help="Golden folder (default: packaged).")
@click.option("--out", type=click.Path(path_type=Path), default=RUN_DIR, show_default=True, help="Results folder.")
@click.option("--judge-route", default="smollm2", show_default=True, help="Route (model) the judge uses.")
@click.option("--judge-url", default=None, help="OpenAI-compatible /v1 URL of the judge's gateway (default: local).")
@click.option("--judge-key", default=None, envvar="NETOPS_EVAL_JUDGE_KEY", help="The judge's key (env ok).")
@click.option("--judge-cases", type=click.IntRange(min=0), default=2, show_default=True,
              help="Judge only the first N answered cases (each costs about 7 judge calls).")  # fmt: skip
@click.option("--no-judge", is_flag=True, help="ragas' non-LLM metrics only.")
@click.option("--model-url", default=None, help="OpenAI-compatible /v1 URL of the model under test.")
@click.pass_context
def eval_run(ctx: click.Context, tiers: tuple[str, ...], cases: Path | None, out: Path, judge_route: str,
             judge_url: str | None, judge_key: str | None, judge_cases: int | None, no_judge: bool,
             model_url: str | None) -> None:  # fmt: skip
    """Run the eval suite's tiers; each prints a table and writes <tier>.json and <tier>.md under --out."""
    from evals.suite import golden, report  # noqa: PLC0415
    from evals.suite import tiers as suite  # noqa: PLC0415

    if judge_url and not judge_key:
        fail("--judge-url needs --judge-key (or NETOPS_EVAL_JUDGE_KEY)")
    settings = settings_of(ctx)
    progress = lambda line: click.echo(line, err=True)  # noqa: E731
    golden_cases = call_suite(lambda: golden.load_golden(cases))
    options = suite.QualityOptions(model_url, judge_url, judge_key, judge_route, judge_cases, no_judge=no_judge)
    for tier in tiers or ("deterministic",):
        try:
            if tier == "deterministic":
                result = suite.run_deterministic_tier(settings, golden_cases, progress=progress)
            elif tier == "quality":
                result = suite.run_quality(settings, golden_cases, options=options, progress=progress)
            else:
                result = suite.run_lab(settings, progress=progress)
        except suite.TierSkipped as exc:
            click.echo(f"{tier}: skipped: {exc}", err=True)
            continue
        click.echo(report.markdown(result))
        click.echo("wrote " + ", ".join(str(p) for p in report.write_run(result, out)))


@eval_group.command("gate")
@click.option("--baseline", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=True)
@click.option("--run", "run_file", type=click.Path(path_type=Path), default=None,
              help="The run to check (default: <--out>/<tier of the baseline>.json).")  # fmt: skip
@click.option("--out", type=click.Path(path_type=Path), default=RUN_DIR, show_default=True)
@click.option("--tolerance", "tolerances", multiple=True, help="PATTERN=VALUE, e.g. 'score:*=0.2' (repeat).")
def eval_gate(baseline: Path, run_file: Path | None, out: Path, tolerances: tuple[str, ...]) -> None:
    """Compare a run with the baseline; exit 1 on a regression, listing the cases that got worse and why."""
    from evals.suite import gate, report  # noqa: PLC0415

    base = call_suite(lambda: report.read_run(baseline))
    path = run_file or out / f"{base.tier}.json"
    if not path.is_file():
        fail(f"no run at {path}; run `netops eval run --tier {base.tier}` first")
    overrides = {}
    for item in tolerances:
        pattern, _, value = item.partition("=")
        try:
            overrides[pattern] = float(value)
        except ValueError:
            fail(f"--tolerance {item!r}: expected PATTERN=NUMBER")
    result = gate.compare(base, call_suite(lambda: report.read_run(path)), overrides)
    click.echo(result.markdown())
    click.echo("wrote " + ", ".join(str(p) for p in report.write_gate(result, out)))
    if not result.passed:
        sys.exit(1)


@eval_group.command("baseline")
@click.option("--update", is_flag=True, help="Rewrite the baseline (otherwise: show what would change).")
@click.option("--tier", "tiers", multiple=True, type=click.Choice(["deterministic", "quality", "lab"]),
              help="Repeat (default: every tier with a run under --from).")  # fmt: skip
@click.option("--from", "source", type=click.Path(path_type=Path), default=RUN_DIR, show_default=True)
@click.option("--dir", "target", type=click.Path(path_type=Path), default=BASELINE_DIR, show_default=True)
def eval_baseline(update: bool, tiers: tuple[str, ...], source: Path, target: Path) -> None:
    """Make the last run of each tier the committed baseline (commit the diff with the change that caused it)."""
    from evals.suite import baseline, gate, report  # noqa: PLC0415

    names = tiers or tuple(t for t in ("deterministic", "quality", "lab") if (source / f"{t}.json").is_file())
    if not names:
        fail(f"no run under {source}; run `netops eval run` first")
    for tier in names:
        run_path = source / f"{tier}.json"
        if not run_path.is_file():
            fail(f"no {tier} run at {run_path}")
        result = call_suite(lambda p=run_path: report.read_run(p))  # type: ignore[misc]
        dest = target / f"{tier}.json"
        if dest.is_file():
            click.echo(gate.compare(report.read_run(dest), result).markdown())
        if update:
            baseline.write_baseline(result, dest)
            click.echo(f"wrote {dest}")
        else:
            click.echo(f"{dest}: not written (add --update to rewrite it)")


def call_suite(action: Callable[[], T]) -> T:
    """Run a suite step; a bad golden or result file prints its message and exits 2."""
    from evals.suite.golden import GoldenError  # noqa: PLC0415

    try:
        return action()
    except (GoldenError, OSError, KeyError, ValueError) as exc:
        fail(str(exc))


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
