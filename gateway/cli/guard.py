"""`netops guard scan|train|check` and `netops bench guardrails`: guarding as a service of its own.

`guard scan` is a config sanitiser: stdin or files in, redacted text and verdicts out (JSON), with the
tenant's policy, so an engineer can clean a config before pasting it into a ticket.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gateway.cli.common import fail, settings_of

if TYPE_CHECKING:
    from guardrails import Guards

__all__ = ["bench_guardrails", "guard"]


def _guards(ctx: click.Context, policies: Path | None) -> Guards:
    from gateway.services import build_guards  # noqa: PLC0415 - heavy imports only for these commands
    from guardrails import PolicyError  # noqa: PLC0415

    settings = settings_of(ctx)
    if policies is not None:
        settings = settings.model_copy(
            update={"guardrails": settings.guardrails.model_copy(update={"policies_dir": policies})}
        )
    try:
        return build_guards(settings)
    except PolicyError as exc:
        fail(f"invalid guardrail policy: {exc.detail}")


_POLICIES = click.option(
    "--policies", type=click.Path(path_type=Path), default=None, help="Policy folder (default from settings)."
)


@click.group()
def guard() -> None:
    """Scan text with a tenant's guardrail policy, train the injection classifier, check policies."""


@guard.command("scan")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--tenant", default="demo", show_default=True, help="Whose policy to apply.")
@click.option("--stage", type=click.Choice(["input", "context", "output"]), default="input", show_default=True)
@click.option("--text-only", is_flag=True, help="Print only the redacted text (a config sanitiser).")
@_POLICIES
@click.pass_context
def guard_scan(
    ctx: click.Context, files: tuple[Path, ...], tenant: str, stage: str, text_only: bool, policies: Path | None
) -> None:
    """Redact secrets and PII (and check for injection) in FILES or stdin; JSON result per input.

    Exit code 0: allowed or redacted; 1: a scanner blocked the text.
    """
    from guardrails import GuardrailError, ScanContext, Stage, Vault  # noqa: PLC0415

    guards = _guards(ctx, policies).for_tenant(tenant)
    chain = {"input": guards.input, "context": guards.context, "output": guards.output}[stage]
    inputs = [(str(f), f.read_text(errors="replace")) for f in files] or [("-", sys.stdin.read())]
    blocked = False
    for name, text in inputs:
        try:
            result = chain.run(text, ScanContext(tenant, Stage(stage), Vault()))
        except GuardrailError as exc:
            blocked = True
            out = {"source": name, "blocked": True, "code": exc.code, "scanner": exc.scanner, "detail": exc.detail}
            click.echo(json.dumps(out, indent=2), err=text_only)
            continue
        if text_only:
            click.echo(result.text, nl=False)
            continue
        verdicts = [v.summary() for v in result.verdicts]
        out = {"source": name, "blocked": False, "policy": guards.policy_id, "text": result.text, "verdicts": verdicts}
        click.echo(json.dumps(out, indent=2))
    sys.exit(1 if blocked else 0)


@guard.command("train")
@click.option("--out-dir", type=click.Path(path_type=Path), default=None, help="Default: guardrails/data/.")
@click.option("--head", "heads", multiple=True, type=click.Choice(["input", "context"]), help="Repeat (default: both).")
def guard_train(out_dir: Path | None, heads: tuple[str, ...]) -> None:
    """Retrain the injection classifier heads (input, context) from the data in the repository."""
    from evals.guardrails_train import train_and_save  # noqa: PLC0415
    from guardrails.ngram import CONTEXT_WEIGHTS, INPUT_WEIGHTS  # noqa: PLC0415

    weights = {"input": INPUT_WEIGHTS, "context": CONTEXT_WEIGHTS}
    weights = {head: path for head, path in weights.items() if not heads or head in heads}
    if out_dir is not None:
        weights = {head: out_dir / path.name for head, path in weights.items()}
    counts = train_and_save(weights)
    for head, path in weights.items():
        n = counts[head]
        click.echo(
            f"{head:<8} {n['attacks']:>5} attacks {n['benign']:>6} benign -> {path} ({path.stat().st_size} bytes)"
        )


@guard.command("check")
@_POLICIES
@click.pass_context
def guard_check(ctx: click.Context, policies: Path | None) -> None:
    """Validate the policy folder (as start-up does) and print each tenant's policy id."""
    guards = _guards(ctx, policies)
    click.echo(f"default  {guards.default.policy_id}")
    for tenant, tg in sorted(guards.tenants.items()):
        click.echo(f"{tenant:<8} {tg.policy_id}")


@click.command("guardrails")
@click.option("--tenant", default="demo", show_default=True, help="Whose policy to benchmark.")
@click.option("--runs", type=int, default=300, show_default=True, help="Timed runs per scanner / chain.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("var/bench/guardrails.json"), show_default=True)
@click.option("--secrets-only", is_flag=True, help="Only the secret-redaction figures (own and independent sets).")
@_POLICIES
@click.pass_context
def bench_guardrails(
    ctx: click.Context, tenant: str, runs: int, out: Path, secrets_only: bool, policies: Path | None
) -> None:
    """Latency per 1 KB (one core) per scanner and chain, and detection quality per data set.

    Secret redaction is shown on our own set and on the independent vendor-config set
    (`evals/data/guardrails/independent/`, dev and test splits; the headline is test).
    """
    from evals import guardrails_bench as gb  # noqa: PLC0415
    from evals.guardrails_quality import format_redaction, independent_redaction  # noqa: PLC0415
    from guardrails.secrets import SecretsScanner  # noqa: PLC0415

    guards = _guards(ctx, policies).for_tenant(tenant)
    policy_secrets = next((s for s in guards.input.scanners if isinstance(s, SecretsScanner)), None)
    redaction = independent_redaction(policy_secrets or SecretsScanner())
    report: dict[str, object] = {"secrets_redaction": [r.as_dict() for r in redaction]}
    if not secrets_only:
        pinning = gb.pin_one_core()
        lat = gb.latency(guards, runs=runs)
        qual = gb.quality(guards)
        info = {**gb.machine(), "pinning": pinning, "policy": guards.policy_id, "runs": runs}
        click.echo(f"machine: {info}")
        click.echo(gb.format_latency(lat))
        click.echo()
        click.echo(gb.format_quality(qual))
        click.echo()
        report = {"machine": info, "latency": lat, "quality": [q.as_dict() for q in qual], **report}
    click.echo(format_redaction(redaction))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    click.echo(f"\nwrote {out}")
