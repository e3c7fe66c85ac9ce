"""`netops slack`: map Slack channels and users to tenants and keys, and run the bot (Socket Mode).

netops slack map channel T0123 C0456 demo
netops slack map user T0123 U0789 demo --role approver   # a new key of that tenant and role, in the keys file
netops slack map list
netops slack unmap channel T0123 C0456 | unmap user T0123 U0789
netops slack run                                         # Socket Mode; the gateway must be running
netops bench slack                                       # event -> first Slack update -> full answer
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gateway.cli.common import call, fail, settings_of

if TYPE_CHECKING:
    from gateway.slack.keys import KeyFile
    from gateway.slack.store import SlackStore
    from gateway.tenants import Tenants

__all__ = ["bench_slack", "slack"]


@click.group()
def slack() -> None:
    """The Slack incident bot (docs/slack.md)."""


@slack.group("map", invoke_without_command=False)
def map_group() -> None:
    """Map a Slack channel to a tenant, or a Slack user to a tenant and role."""


@dataclass(frozen=True)
class _Mapping:
    tenants: Tenants
    store: SlackStore
    keys: KeyFile


def _parts(ctx: click.Context) -> _Mapping:
    from gateway.db import open_engine  # noqa: PLC0415
    from gateway.slack.keys import KeyFile  # noqa: PLC0415
    from gateway.slack.store import SlackStore  # noqa: PLC0415
    from gateway.tenants import Tenants  # noqa: PLC0415

    settings = settings_of(ctx)
    engine = open_engine(settings.sqlalchemy_url)
    keys = KeyFile(settings.slack.keys_file or settings.data_dir / "slack-keys.json")
    return _Mapping(Tenants(engine), SlackStore(engine), keys)


@map_group.command("channel")
@click.argument("team")
@click.argument("channel")
@click.argument("tenant")
@click.pass_context
def map_channel_cmd(ctx: click.Context, team: str, channel: str, tenant: str) -> None:
    """Messages in CHANNEL (of workspace TEAM) act for TENANT."""
    from gateway.slack.mapping import map_channel  # noqa: PLC0415

    m = _parts(ctx)
    try:
        call(lambda: map_channel(m.tenants, m.store, team=team, channel=channel, tenant=tenant))
    except ValueError as exc:
        fail(str(exc))
    click.echo(f"channel {team}/{channel} -> tenant {tenant}")


@map_group.command("user")
@click.argument("team")
@click.argument("user")
@click.argument("tenant")
@click.option("--role", type=click.Choice(["user", "approver", "admin"]), default="user", show_default=True)
@click.pass_context
def map_user_cmd(ctx: click.Context, team: str, user: str, tenant: str, role: str) -> None:
    """USER (of workspace TEAM) acts as a new key of TENANT with ROLE; the key goes only to the keys file."""
    from gateway.slack.mapping import map_user  # noqa: PLC0415

    m = _parts(ctx)
    try:
        mapped = call(lambda: map_user(m.tenants, m.store, m.keys, team=team, user=user, tenant=tenant, role=role))
    except ValueError as exc:
        fail(str(exc))
    click.echo(f"user {team}/{user} -> tenant {tenant}, role {role}, key id {mapped.key_id} (key in {m.keys.path})")


@map_group.command("list")
@click.pass_context
def map_list(ctx: click.Context) -> None:
    """Every mapping, as JSON (key ids only)."""
    click.echo(json.dumps(_parts(ctx).store.mappings(), indent=1, default=str))


@slack.command("unmap")
@click.argument("kind", type=click.Choice(["channel", "user"]))
@click.argument("team")
@click.argument("name")
@click.pass_context
def unmap(ctx: click.Context, kind: str, team: str, name: str) -> None:
    """Remove a channel's or a user's mapping (a user's key is revoked)."""
    from gateway.slack.mapping import unmap_user  # noqa: PLC0415

    m = _parts(ctx)
    if kind == "channel":
        found = m.store.unmap_channel(team, name)
    else:
        found = unmap_user(m.tenants, m.store, m.keys, team=team, user=name)
    if not found:
        fail(f"no {kind} mapping for {team}/{name}")
    click.echo(f"unmapped {kind} {team}/{name}")


@slack.command("run")
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the bot over Socket Mode against the gateway at slack.gateway_url (Ctrl-C stops it)."""
    settings = settings_of(ctx)
    if not settings.slack.configured:
        fail("Slack is not configured: set slack.bot_token and slack.app_token (see docs/slack.md)")
    if settings.slack.mode == "http":
        fail("slack.mode is http: the gateway serves POST /slack/events itself; run `netops serve`")
    from gateway.audit import AuditLog  # noqa: PLC0415
    from gateway.checkpoints import Checkpointer  # noqa: PLC0415
    from gateway.db import open_engine  # noqa: PLC0415
    from gateway.slack.serving import run_socket_mode  # noqa: PLC0415
    from gateway.slack.wiring import SocketMode, bolt_app, build_bot, gateway_url  # noqa: PLC0415

    engine = open_engine(settings.sqlalchemy_url)
    audit = AuditLog(engine, checkpoints=Checkpointer.in_dir(settings.data_dir))
    bot = build_bot(settings, engine=engine, audit=audit)
    click.echo(f"Slack bot: Socket Mode, gateway {gateway_url(settings)}; Ctrl-C stops it")
    try:
        asyncio.run(run_socket_mode(SocketMode(bolt_app(bot, settings.slack), settings.slack)))
    except KeyboardInterrupt:
        pass
    finally:
        audit.close()


@click.command("slack")
@click.option("--questions", type=int, default=3, show_default=True, help="Mentions to time.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("var/bench/slack.json"), show_default=True)
def bench_slack(questions: int, out: Path) -> None:
    """Seconds from a Slack event to the bot's first Slack update and to the full answer (a local Slack API)."""
    from evals.slack_bench import format_table, measure, write_json  # noqa: PLC0415

    runs = measure(questions=questions)
    click.echo(format_table(runs))
    write_json(runs, out)
    click.echo(f"wrote {out}")
