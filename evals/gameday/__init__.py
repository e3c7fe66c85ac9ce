"""`netops gameday`: scripted failure drills against a running platform, with a Markdown + JSON report.

`run` starts the sandbox platform (`evals.gameday.platform`) unless a URL and keys are given, runs the drills
of a profile (`evals.gameday.drills`), and writes the report (`evals.gameday.report`).

Example:
    results = run(profile="short", names=None, out=Path("var/gameday/now"))
"""

from __future__ import annotations

import time
from pathlib import Path

from evals.gameday.drills import DRILLS, PROFILES, DrillResult
from evals.gameday.faults import Fault, FaultUpstream
from evals.gameday.platform import Sandbox
from evals.gameday.report import table, write

__all__ = ["DRILLS", "PROFILES", "DrillResult", "Fault", "FaultUpstream", "run", "table"]


def run(*, profile: str, names: list[str] | None, out: Path) -> list[DrillResult]:
    """Run the drills (`names`, or the profile's) in a sandbox platform and write the report into `out`."""
    prof = PROFILES[profile]
    chosen = names or [n for n, d in DRILLS.items() if d.short or profile == "full"]
    started = time.perf_counter()
    with Sandbox() as platform:
        results = [DRILLS[name].run(platform, prof) for name in chosen]
        url = platform.url
    write(out, results, profile=profile, url=url, seconds=time.perf_counter() - started)
    return results
