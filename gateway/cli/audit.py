"""`netops audit`: read, verify and checkpoint the audit log.

The key that signs checkpoints and the anchor file are `<data_dir>/audit.key` and
`<data_dir>/audit-checkpoints.jsonl` (see `gateway.checkpoints`); the key is created on first use.
Exit codes: 0 intact, 1 tampered (every finding printed with its sequence number), 2 usage or key error.

Example:
    netops audit checkpoint --export /mnt/offsite/checkpoints.json
    netops audit verify --checkpoints /mnt/offsite/checkpoints.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from gateway.cli.common import call, settings_of

if TYPE_CHECKING:
    from gateway.audit import AuditLog, VerifyReport

__all__ = ["audit"]


@click.group()
def audit() -> None:
    """Inspect, verify and checkpoint the audit log."""


@audit.command("verify")
@click.option(
    "--checkpoints",
    "checkpoints_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Check against the checkpoints in this exported file instead of the local anchor file.",
)
@click.pass_context
def audit_verify(ctx: click.Context, checkpoints_file: Path | None) -> None:
    """Append what this data dir's audit spool holds (records written while the store was down), then recompute
    the hash chain and check it against the signed checkpoints; exit 1 and list each finding."""
    log = _open_log(ctx)
    drained = call(log.drain_spool)
    if drained:
        click.echo(f"appended {drained} spooled record(s) to the chain first")
    report = log.verify(checkpoints_file=checkpoints_file)
    if not report.ok:
        _tampered(report)
    anchored = "not anchored (no checkpoint yet)"
    if report.anchor is not None:
        anchored = f"anchored at checkpoint seq {report.anchor.seq} ({report.anchor.when})"
        if report.unanchored:
            anchored += f"; {report.unanchored} later record(s) not yet anchored"
    click.echo(f"ok: {report.checked} records, chain intact, {anchored}")


@audit.command("checkpoint")
@click.option(
    "--export",
    "export",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the latest signed checkpoints to this file (JSON), to keep them somewhere else.",
)
@click.option("--last", type=click.IntRange(min=1), default=100, show_default=True, help="How many to export.")
@click.pass_context
def audit_checkpoint(ctx: click.Context, export: Path | None, last: int) -> None:
    """Verify the chain, then sign its head now (a tampered chain is never signed: exit 1)."""
    from gateway.checkpoints import export_checkpoints  # noqa: PLC0415

    log = _open_log(ctx)
    report = log.verify()
    if not report.ok:
        _tampered(report)
    cp = log.checkpoint_now()
    if cp is None:
        click.echo("nothing to checkpoint: the chain is empty")
    else:
        click.echo(f"checkpoint seq {cp.seq} head {cp.head[:16]} signed with key {cp.key_id} at {cp.when}")
    if export is not None:
        checkpoints = log.signed_checkpoints(limit=last)
        export_checkpoints(export, checkpoints)
        click.echo(f"exported {len(checkpoints)} checkpoint(s) to {export}")


@audit.command("tail")
@click.option("-n", "limit", type=int, default=10, show_default=True)
@click.option("--tenant", "tenant_name", default=None)
@click.pass_context
def audit_tail(ctx: click.Context, limit: int, tenant_name: str | None) -> None:
    """Print the latest audit records as JSON lines."""
    for record in reversed(_open_log(ctx, signed=False).records(tenant=tenant_name, limit=limit)):
        click.echo(json.dumps(record, sort_keys=True))


def _open_log(ctx: click.Context, *, signed: bool = True) -> AuditLog:
    """The audit log, with the data directory's checkpoint key (made on first use) unless `signed=False`."""
    from gateway.audit import AuditLog  # noqa: PLC0415
    from gateway.audit_spool import AuditSpool  # noqa: PLC0415
    from gateway.checkpoints import Checkpointer  # noqa: PLC0415
    from gateway.db import open_engine  # noqa: PLC0415

    settings = settings_of(ctx)
    checkpoints = call(lambda: Checkpointer.in_dir(settings.data_dir)) if signed else None
    spool = AuditSpool.in_dir(settings.data_dir)
    return AuditLog(open_engine(settings.sqlalchemy_url), checkpoints=checkpoints, spool=spool)


def _tampered(report: VerifyReport) -> NoReturn:
    click.echo(f"TAMPERED: {len(report.findings)} finding(s) over {report.checked} records")
    for finding in report.findings:
        click.echo(f"  record seq={finding.seq}: {finding.kind}: {finding.detail}")
    sys.exit(1)
