"""`netops config`: routes and guardrail policies as versions (gateway.config_versions), applied without a
restart: every gateway process on the same state store picks up the version in force within
`config_refresh_s`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import yaml

from gateway.cli.common import audited_engine, author, call, fail, settings_of, split_csv

if TYPE_CHECKING:
    from gateway.config_model import Kind
    from gateway.config_versions import ConfigVersions
    from guardrails import TenantGuards
    from routing import RouteTable

__all__ = ["config"]


@click.group()
def config() -> None:
    """Versioned routes and guardrail policies: apply, history, diff, rollback."""


def _subject(kind: str, tenant: str | None) -> tuple[Kind, str]:
    from gateway.config_model import Kind  # noqa: PLC0415

    if kind == "routes":
        if tenant:
            fail("routes are the platform's: no tenant")
        return Kind.ROUTES, ""
    if not tenant:
        fail("a policy belongs to a tenant (or `default`): netops config ... policy TENANT")
    return Kind.POLICY, tenant


def _versions(ctx: click.Context) -> ConfigVersions:
    from gateway.config_versions import ConfigVersions  # noqa: PLC0415

    return ConfigVersions(*audited_engine(ctx))


@config.command("history")
@click.argument("kind", type=click.Choice(["routes", "policy"]))
@click.argument("tenant", required=False)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def config_history(ctx: click.Context, kind: str, tenant: str | None, as_json: bool) -> None:
    """The versions, newest first (the one in force marked *)."""
    what, subject = _subject(kind, tenant)
    versions = _versions(ctx)
    active = versions.active_ids().get((what.value, subject))
    rows = versions.history(what, subject)
    if as_json:
        click.echo(json.dumps([{**v.summary(), "in_force": v.id == active} for v in rows], indent=2))
        return
    if not rows:
        click.echo("no versions yet: the settings file is in force (the first apply records it as version 1)")
    for v in rows:
        mark = "*" if v.id == active else " "
        parent = f" <- {v.parent}" if v.parent else ""
        click.echo(f"{mark} {v.id}{parent}  {v.digest[:12]}  {v.author}  {v.reason}")


@config.command("show")
@click.argument("version_id", type=int)
@click.pass_context
def config_show(ctx: click.Context, version_id: int) -> None:
    """One version's body (JSON)."""
    click.echo("\n".join(call(lambda: _versions(ctx).get(version_id)).text()))


@config.command("diff")
@click.argument("old", type=int)
@click.argument("new", type=int, required=False)
@click.pass_context
def config_diff(ctx: click.Context, old: int, new: int | None) -> None:
    """A unified diff of two versions (NEW defaults to the one in force for OLD's subject)."""
    from gateway.config_model import diff  # noqa: PLC0415

    versions = _versions(ctx)
    before = call(lambda: versions.get(old))
    after = call(lambda: versions.get(new)) if new is not None else versions.active(before.kind, before.subject)
    if after is None:
        fail("nothing in force to compare with")
    click.echo(diff(before, after) or "(no difference)")


@config.command("apply")
@click.argument("kind", type=click.Choice(["routes", "policy"]))
@click.argument("args", nargs=-1, required=True)
@click.option("--reason", required=True, help="Why: kept with the version and in the audit log.")
@click.option("--author", "who", default=None, help="Who (default: the OS user).")
@click.option("--dry-run", is_flag=True, help="Validate and show what would change; record nothing.")
@click.option("--force", is_flag=True, help="Apply a policy even if it does worse on the guardrail sets.")
@click.option(
    "--share",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    default=None,
    help="Roll out gradually: the new version serves this share of conversations beside the one in force.",
)
@click.option("--tenants", default="", help="Roll out to these tenants only (comma-separated; with --share).")
@click.option(
    "--margin",
    type=float,
    default=0.1,
    show_default=True,
    help="Roll back automatically when the candidate's error or block rate exceeds the baseline's by this.",
)
@click.option("--min-requests", type=int, default=20, show_default=True, help="... once it served this many.")
@click.pass_context
def config_apply(
    ctx: click.Context,
    kind: str,
    args: tuple[str, ...],
    reason: str,
    who: str | None,
    dry_run: bool,
    force: bool,
    share: float | None,
    tenants: str,
    margin: float,
    min_requests: int,
) -> None:
    """`apply routes FILE` (deployments and routes, as in netops.yaml) or `apply policy TENANT FILE` (a policy
    file): validated, judged, recorded as a version and put in force, or with --share rolled out gradually (then
    `netops config promote` or `rollback`), or only shown with --dry-run."""
    from gateway.config_checks import plan_changes, validate_policy, validate_routes  # noqa: PLC0415

    settings = settings_of(ctx)
    if (kind == "routes") != (len(args) == 1) or len(args) > 2:
        fail("usage: netops config apply routes FILE | netops config apply policy TENANT FILE")
    what, subject = _subject(kind, None if kind == "routes" else args[0])
    body = _read(Path(args[-1]))
    versions = _versions(ctx)
    if kind == "routes":
        body = {k: body[k] for k in ("deployments", "routes") if k in body}
        candidate = call(lambda: validate_routes(body, settings))
        current = _routes_in_force(ctx, versions)
        changed = plan_changes(versions.engine, current, candidate)
        click.echo(f"valid: {len(candidate.deployments)} deployments, {len(candidate.routes)} routes")
        click.echo(f"recent answers whose first deployment would change: {len(changed)}")
        for c in changed[:20]:
            click.echo(f"  {c['request_id']}  {c['route']}: {c['before']} -> {c['after']}")
    else:
        guards = call(lambda: validate_policy(subject, body, settings))
        _judge(_policy_in_force(ctx, versions, subject), guards, force=force or dry_run)
    if dry_run:
        click.echo("dry run: nothing recorded")
        return
    _baseline(ctx, versions, what, subject)
    if share is not None or tenants:
        rollout = call(
            lambda: versions.start_rollout(
                what,
                subject,
                body,
                author=author(who),
                reason=reason,
                share=share if share is not None else 1.0,
                tenants=tuple(split_csv(tenants)),
                margin=margin,
                min_requests=min_requests,
            )
        )
        scope = f"tenants {', '.join(rollout.tenants)}" if rollout.tenants else "every tenant"
        click.echo(
            f"version {rollout.candidate} rolling out to {rollout.share:.0%} of conversations of {scope} beside "
            f"version {rollout.baseline}; `netops config promote` or `netops config rollback` ends it"
        )
        return
    version = call(lambda: versions.record(what, subject, body, author=author(who), reason=reason))
    click.echo(
        f"version {version.id} in force ({version.digest[:12]}); gateways pick it up within "
        f"{settings.config_refresh_s:g} s"
    )


@config.command("promote")
@click.argument("kind", type=click.Choice(["routes", "policy"]))
@click.argument("tenant", required=False)
@click.option("--reason", required=True)
@click.option("--author", "who", default=None)
@click.pass_context
def config_promote(ctx: click.Context, kind: str, tenant: str | None, reason: str, who: str | None) -> None:
    """Put a running rollout's candidate in force for everyone."""
    what, subject = _subject(kind, tenant)
    version = call(lambda: _versions(ctx).promote(what, subject, author=author(who), reason=reason))
    click.echo(f"version {version.id} in force")


@config.command("status")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def config_status(ctx: click.Context, as_json: bool) -> None:
    """The versions in force and the running rollouts with their counters."""
    versions = _versions(ctx)
    in_force = [{"kind": k, "subject": s, "version": v} for (k, s), v in sorted(versions.active_ids().items())]
    running = [(r, versions.counters(r.id)) for r in versions.rollouts()]
    if as_json:
        rollouts = [{**r.summary(), "counters": {a: c.summary() for a, c in arms.items()}} for r, arms in running]
        click.echo(json.dumps({"in_force": in_force, "rollouts": rollouts}, indent=2))
        return
    for f in in_force:
        click.echo(f"{f['kind']} {f['subject'] or '-'}: version {f['version']}")
    for r, arms in running:
        click.echo(
            f"rollout {r.id}: {r.kind.value} {r.subject or '-'} {r.baseline} -> {r.candidate} "
            f"share {r.share} tenants {', '.join(r.tenants) or 'all'}"
        )
        for arm, c in arms.items():
            click.echo(f"  {arm}: {c.requests} requests, block rate {c.block_rate:.3f}, error rate {c.error_rate:.3f}")
    if not in_force:
        click.echo("no versions yet: the settings file is in force")


@config.command("rollback")
@click.argument("kind", type=click.Choice(["routes", "policy"]))
@click.argument("tenant", required=False)
@click.option("--reason", required=True)
@click.option("--author", "who", default=None)
@click.pass_context
def config_rollback(ctx: click.Context, kind: str, tenant: str | None, reason: str, who: str | None) -> None:
    """Put the version before the one in force back in force (recorded as a new version); during a rollout,
    end the rollout (the version in force stays)."""
    what, subject = _subject(kind, tenant)
    versions = _versions(ctx)
    version = call(lambda: versions.rollback(what, subject, author=author(who), reason=reason))
    click.echo(f"version {version.id} in force ({version.reason})")


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        fail(f"{path}: {exc}")
    if not isinstance(data, dict):
        fail(f"{path}: not a mapping")
    return data


def _routes_in_force(ctx: click.Context, versions: ConfigVersions) -> RouteTable:
    from gateway.config_checks import validate_routes  # noqa: PLC0415
    from gateway.config_model import Kind  # noqa: PLC0415
    from routing import RouteTable  # noqa: PLC0415

    settings = settings_of(ctx)
    active = versions.active(Kind.ROUTES, "")
    if active is not None:
        return call(lambda: validate_routes(active.body, settings))
    return RouteTable(settings.deployments, settings.routes)


def _policy_in_force(ctx: click.Context, versions: ConfigVersions, subject: str) -> TenantGuards:
    from gateway.config_checks import validate_policy  # noqa: PLC0415
    from gateway.config_model import Kind  # noqa: PLC0415
    from gateway.services import build_guards  # noqa: PLC0415

    settings = settings_of(ctx)
    active = versions.active(Kind.POLICY, subject)
    if active is not None:
        return call(lambda: validate_policy(subject, active.body, settings))
    guards = build_guards(settings)
    return guards.default if subject == "default" else guards.for_tenant(subject)


def _judge(current: TenantGuards, candidate: TenantGuards, *, force: bool) -> None:
    from gateway.config_checks import judge_policy  # noqa: PLC0415

    judgement = judge_policy(current, candidate)
    click.echo("on the guardrail sets, in force -> candidate:")
    for line in judgement.lines():
        click.echo(f"  {line}")
    if judgement.regressed and not force:
        fail("the candidate does worse than the policy in force on the guardrail sets (--force to apply anyway)")


def _baseline(ctx: click.Context, versions: ConfigVersions, kind: Kind, subject: str) -> None:
    """Record what the settings put in force as version 1 before the first change (so rollback has a target)."""
    from gateway.config_checks import policy_body, routes_body  # noqa: PLC0415
    from gateway.config_model import Kind  # noqa: PLC0415
    from guardrails import GuardrailError, read_policy  # noqa: PLC0415

    settings = settings_of(ctx)
    if kind is Kind.ROUTES:
        versions.baseline(kind, subject, routes_body(list(settings.deployments), list(settings.routes)))
        return
    folder = settings.guardrails.policies_dir
    if folder is None:
        return  # the built-in policy has no file form: the first version has nothing before it
    own = folder / f"{subject}.yaml"
    path = own if own.is_file() else folder / "default.yaml"
    try:
        policy = read_policy(path)
    except GuardrailError as exc:
        fail(exc.detail)
    versions.baseline(kind, subject, policy_body(policy))
