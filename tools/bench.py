"""Benchmark: what the vetted path (registry + validation + allow-list + audit) costs over calling vtysh directly.

Modes, interleaved in one run on the same lab router:
    direct        `vtysh --vty_socket DIR -c 'show bgp summary json'` as a subprocess (the baseline)
    registry      `ToolRegistry.invoke("bgp_summary")`: grants, pydantic validation, inventory, allow-list, subprocess
    registry+audit  the same plus one hash-chained audit record (what the gateway does per tool call)
    checks only       grants + pydantic validation + inventory + allow-list render/verify, no subprocess
    checks+audit only the same plus the audit append: the whole overhead without the device call

Example:
    report = asyncio.run(run_bench(toolbox, audit=append, iterations=100))
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tools.commands import ALLOW_LIST
from tools.devices import LocalFrrTransport
from tools.registry import ToolResult
from tools.toolbox import Toolbox

__all__ = ["BenchRow", "run_bench"]

AuditSink = Callable[[ToolResult], None]


@dataclass(frozen=True, slots=True)
class BenchRow:
    """Latency of one mode, in milliseconds."""

    mode: str
    n: int
    mean_ms: float
    p50_ms: float
    p95_ms: float

    def as_dict(self) -> dict[str, object]:
        return {"mode": self.mode, "n": self.n, "mean_ms": self.mean_ms, "p50_ms": self.p50_ms, "p95_ms": self.p95_ms}


async def run_bench(box: Toolbox, *, audit: AuditSink, tenant: str, device: str, iterations: int) -> list[BenchRow]:
    """Interleave the modes `iterations` times each; returns one row per mode."""
    ctx = box.context(tenant, box.registry.names, role="admin", key_id="bench", request_id="bench")
    dev, command = box.devices.prepare(tenant, device, "bgp_summary", box.registry.risks["bgp_summary"])
    argv = LocalFrrTransport().argv(dev, command)

    async def direct() -> None:
        proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE)
        await proc.communicate()

    async def registry() -> None:
        await box.registry.invoke("bgp_summary", {"device": device}, ctx)

    async def audited() -> None:
        result = await box.registry.invoke("bgp_summary", {"device": device}, ctx)
        await asyncio.to_thread(audit, result)

    async def checks_only() -> None:
        box.registry.check("bgp_summary", {"device": device}, ctx)
        box.devices.prepare(tenant, device, "bgp_summary", box.registry.risks["bgp_summary"])
        ALLOW_LIST.verify(command)

    async def checks_audit() -> None:
        await checks_only()
        await asyncio.to_thread(audit, ToolResult("bgp_summary", {"device": device}, "x", 0.0))

    modes: dict[str, Callable[[], Awaitable[None]]] = {
        "direct vtysh": direct,
        "registry": registry,
        "registry+audit": audited,
        "checks only": checks_only,
        "checks+audit only": checks_audit,
    }
    samples: dict[str, list[float]] = {m: [] for m in modes}
    for fn in modes.values():  # warm-up
        await fn()
    for _ in range(iterations):
        for mode, fn in modes.items():
            started = time.perf_counter()
            await fn()
            samples[mode].append((time.perf_counter() - started) * 1000)
    return [_row(mode, values) for mode, values in samples.items()]


def _row(mode: str, values: list[float]) -> BenchRow:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return BenchRow(
        mode, len(values), round(statistics.fmean(values), 3), round(statistics.median(values), 3), round(p95, 3)
    )
