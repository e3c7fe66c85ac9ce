"""Shared pieces of the `netops` CLI: settings from the context, clean failures."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn, TypeVar

import click

from gateway.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from gateway.audit import AuditLog
    from gateway.tenants import Tenants

__all__ = ["audited_engine", "author", "call", "fail", "settings_of", "split_csv", "tenants_of"]

T = TypeVar("T")


def settings_of(ctx: click.Context) -> Settings:
    """The settings the root command loaded."""
    settings: Settings = ctx.find_root().obj
    return settings


def fail(message: str) -> NoReturn:
    """Print an error and exit 2 (usage or start-up error), without a traceback."""
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def tenants_of(ctx: click.Context) -> Tenants:
    from gateway.db import open_engine  # noqa: PLC0415
    from gateway.tenants import Tenants  # noqa: PLC0415

    return Tenants(open_engine(settings_of(ctx).sqlalchemy_url))


def call(action: Callable[[], T]) -> T:
    """Run an action; a domain error prints its message and exits 2 (no traceback)."""
    from gateway.errors import GatewayError  # noqa: PLC0415
    from retrieval import RetrievalError  # noqa: PLC0415

    try:
        return action()
    except (GatewayError, RetrievalError) as exc:
        fail(exc.detail)


def split_csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def audited_engine(ctx: click.Context) -> tuple[Engine, AuditLog]:
    """The state store and its audit log (signed checkpoints), for commands that change what gateways serve."""
    from gateway.audit import AuditLog  # noqa: PLC0415
    from gateway.checkpoints import Checkpointer  # noqa: PLC0415
    from gateway.db import open_engine  # noqa: PLC0415

    settings = settings_of(ctx)
    engine = open_engine(settings.sqlalchemy_url)
    return engine, AuditLog(engine, checkpoints=call(lambda: Checkpointer.in_dir(settings.data_dir)))


def author(given: str | None) -> str:
    """Who made a change: `--author`, else the OS user."""
    if given:
        return given
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
