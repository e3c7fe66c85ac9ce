"""The `stale_index` drill: a runbook source changes under a serving gateway, /readyz must show it, and a rebuild
must clear it.

Steps: /readyz first (index fresh), then one runbook edited and one added in the sandbox's source folder
(`Platform.runbooks`); /readyz polled until `checks.index.stale` (the sandbox compares the sources every 0.5 s);
then `netops index build --promote` as an operator would run it (another process, the same embedded store), and
/readyz polled until a new version is live and fresh. Leaves the platform on the new version (that is the fix).

Example:
    result = stale_index(platform, PROFILES["short"])
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from evals.gameday.platform import Platform
from evals.gameday.results import DrillResult, Profile

__all__ = ["stale_index"]

EXPECTED = (
    "a runbook source changes under the serving gateway: /readyz stays 200 but says degraded, checks.index ok and "
    "stale with the drift (1 changed, 1 added) and the build time and age; after `netops index build --promote` "
    "a new version is live and the index is fresh again"
)
EDIT = "\n## Mitigation\n\nIf the peer stays Idle, check the neighbor's address and AS with `bgp_neighbor`.\n"
ADDED = "# OSPF adjacency stuck\n\nRun `ospf_neighbors`; ExStart usually means an MTU mismatch.\n"


def stale_index(p: Platform, prof: Profile) -> DrillResult:
    if p.runbooks is None:
        return DrillResult("stale_index", EXPECTED, "not covered: the gateway's runbook sources are not in reach", None)
    before = _ready(p)
    (p.runbooks / "bgp.md").write_text((p.runbooks / "bgp.md").read_text() + EDIT)
    (p.runbooks / "ospf.md").write_text(ADDED)
    stale = _until(p, lambda r: bool(r["checks"]["index"].get("stale")))
    build = p.netops("index", "build", "--promote", timeout=300)
    version = before["checks"]["index"].get("version")
    fresh = _until(p, lambda r: r["checks"]["index"].get("version") != version and not r["checks"]["index"]["stale"])
    was, seen, now = before["checks"]["index"], stale["checks"]["index"], fresh["checks"]["index"]
    passed = (
        was.get("stale") is False
        and (stale["http"], stale["status"]) == (200, "degraded")
        and seen.get("ok") is True
        and seen.get("stale") is True
        and seen.get("drift") == {"added": 1, "changed": 1, "removed": 0}
        and bool(seen.get("built_at"))
        and isinstance(seen.get("age_s"), float | int)
        and build.returncode == 0
        and fresh["http"] == 200
        and now.get("version") != version
        and now.get("stale") is False
        and now.get("drift") == {"added": 0, "changed": 0, "removed": 0}
    )
    built = build.stdout.strip().splitlines() or [build.stderr.strip()[-200:]]
    observed = (
        f"before: {was.get('version')} stale {was.get('stale')}; after editing bgp.md and adding ospf.md: /readyz "
        f"{stale['http']} {stale['status']}, index ok {seen.get('ok')} stale {seen.get('stale')} drift "
        f"{seen.get('drift')} (built {seen.get('built_at')}, age {seen.get('age_s')} s); `netops index build "
        f"--promote` exit {build.returncode} ({built[-1]}); then {now.get('version')} stale {now.get('stale')} "
        f"drift {now.get('drift')}"
    )
    figures = {"before": was, "stale": seen, "fresh": now, "build": build.stdout.strip()}
    return DrillResult("stale_index", EXPECTED, observed, passed, figures)


def _ready(p: Platform) -> dict[str, Any]:
    r = httpx.get(f"{p.url}/readyz", timeout=30)
    return {"http": r.status_code, **r.json()}


def _until(p: Platform, seen: Callable[[dict[str, Any]], bool], seconds: float = 20.0) -> dict[str, Any]:
    """/readyz polled until `seen(answer)` or `seconds` pass; the last answer."""
    deadline = time.monotonic() + seconds
    answer = _ready(p)
    while not seen(answer) and time.monotonic() < deadline:
        time.sleep(0.25)
        answer = _ready(p)
    return answer
