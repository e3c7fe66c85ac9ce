"""`netops gameday`: failure drills against a sandbox platform; a report table, `report.md` and `report.json`."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

__all__ = ["gameday"]


@click.command()
@click.option("--profile", type=click.Choice(["short", "full"]), default="short", show_default=True)
@click.option("--drill", "drills", multiple=True, help="Run only this drill (repeatable).")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Report dir (default var/gameday/<time>).")
def gameday(profile: str, drills: tuple[str, ...], out: Path | None) -> None:
    """Run the gameday drills (see docs/gameday.md); exit 1 if any drill failed."""
    from evals.gameday import DRILLS, run, table  # noqa: PLC0415 - starts servers; only for this command

    unknown = sorted(set(drills) - set(DRILLS))
    if unknown:
        raise click.BadParameter(f"unknown drills {unknown}; known: {', '.join(DRILLS)}", param_hint="--drill")
    out = out or Path("var") / "gameday" / time.strftime("%Y%m%dT%H%M%S")
    results = run(profile=profile, names=list(drills) or None, out=out)
    click.echo(table(results))
    click.echo(f"wrote {out / 'report.md'} and {out / 'report.json'}")
    if any(r.passed is False for r in results):
        sys.exit(1)
