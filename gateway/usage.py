"""Unit economics from the audit log: per tenant, route and deployment, the requests, success rate, tokens, cost,
cost per successful answer, cache hits and what they saved, and the p95 latency split into model, retrieval,
tools and gateway time.

    rows = usage(engine, since=time.time() - 86400)
    print(format_table(rows))       # also format_csv(rows), [asdict(r) for r in rows]

A chat request leaves one final record: `chat.completed` (answered; a cache hit has a `cache` field and costs
nothing), `request.aborted` (the model was called, the answer did not finish) or `request.rejected` (refused
before the model: a guardrail block, a limit, a budget, a bad body). Rejections have no deployment; they count
against their route's success rate in a row with deployment `-`. Records from before per-step timings were
kept count everywhere except the latency columns.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import Engine, select

from gateway.db import AUDIT

__all__ = ["UsageRow", "format_csv", "format_table", "public", "usage"]

_KINDS = ("chat.completed", "request.aborted", "request.rejected")
_STEPS = ("total", "model", "retrieval", "tools", "gateway")


@dataclass
class UsageRow:
    """One tenant, route and deployment over the period."""

    tenant: str
    route: str
    deployment: str
    requests: int = 0
    answered: int = 0
    success_rate: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cost_per_answer_usd: float = 0.0
    cache_hits: int = 0
    cache_saved_usd: float = 0.0
    p95_ms: dict[str, float] = field(default_factory=dict)  # total, model, retrieval, tools, gateway
    _timings: dict[str, list[float]] = field(default_factory=dict, repr=False)


def usage(engine: Engine, *, since: float, until: float | None = None, tenant: str | None = None) -> list[UsageRow]:
    """The rows for chat requests whose final record was written in [since, until)."""
    query = select(AUDIT.c.tenant, AUDIT.c.kind, AUDIT.c.payload).where(AUDIT.c.ts >= since, AUDIT.c.kind.in_(_KINDS))
    if until is not None:
        query = query.where(AUDIT.c.ts < until)
    if tenant is not None:
        query = query.where(AUDIT.c.tenant == tenant)
    rows: dict[tuple[str, str, str], UsageRow] = {}
    with engine.connect() as conn:
        for who, kind, raw in conn.execute(query):
            payload = json.loads(raw)
            route = str(payload.get("route") or "")
            if not route or route.startswith("/") or payload.get("method", "POST") != "POST":
                continue  # not a chat request (a search, a scan, a listing), or refused before its route was known
            deployment = str(payload.get("deployment") or "-")
            row = rows.setdefault((who, route, deployment), UsageRow(who, route, deployment))
            _add(row, kind, payload)
    for row in rows.values():
        _finish(row)
    return sorted(rows.values(), key=lambda r: (r.tenant, r.route, r.deployment))


def _add(row: UsageRow, kind: str, payload: dict[str, Any]) -> None:
    row.requests += 1
    if kind != "chat.completed":
        return
    row.answered += 1
    row.prompt_tokens += int(payload.get("prompt_tokens") or 0)
    row.completion_tokens += int(payload.get("completion_tokens") or 0)
    row.cost_usd += float(payload.get("cost_usd") or 0.0)
    cache = payload.get("cache")
    if cache:
        row.cache_hits += 1
        row.cache_saved_usd += float(cache.get("saved_usd") or 0.0)
    for step, ms in (payload.get("timings_ms") or {}).items():
        row._timings.setdefault(step, []).append(float(ms))


def _finish(row: UsageRow) -> None:
    row.success_rate = round(row.answered / row.requests, 4) if row.requests else 0.0
    row.cost_per_answer_usd = round(row.cost_usd / row.answered, 8) if row.answered else 0.0
    row.cost_usd = round(row.cost_usd, 8)
    row.cache_saved_usd = round(row.cache_saved_usd, 8)
    row.p95_ms = {step: _p95(row._timings.get(step, [])) for step in _STEPS if row._timings.get(step)}


def _p95(values: list[float]) -> float:
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=20, method="inclusive")[18], 1)


def public(row: UsageRow) -> dict[str, Any]:
    """A row as JSON (without its working lists)."""
    return {f.name: getattr(row, f.name) for f in fields(UsageRow) if f.name != "_timings"}


def format_table(rows: list[UsageRow]) -> str:
    head = (
        "| tenant | route | deployment | requests | success | tokens in/out | cost $ | $ per answer | cache hits "
        "| saved $ | p95 ms total / model / retrieval / tools / gateway |"
    )
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        p95 = " / ".join(str(r.p95_ms.get(step, "-")) for step in _STEPS)
        lines.append(
            f"| {r.tenant} | {r.route} | {r.deployment} | {r.requests} | {r.success_rate:.1%} "
            f"| {r.prompt_tokens}/{r.completion_tokens} | {r.cost_usd:.6f} | {r.cost_per_answer_usd:.6f} "
            f"| {r.cache_hits} | {r.cache_saved_usd:.6f} | {p95} |"
        )
    return "\n".join(lines)


def format_csv(rows: list[UsageRow]) -> str:
    names = [f.name for f in fields(UsageRow) if f.name not in ("p95_ms", "_timings")]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(names + [f"p95_{step}_ms" for step in _STEPS])
    for r in rows:
        writer.writerow([getattr(r, n) for n in names] + [r.p95_ms.get(step, "") for step in _STEPS])
    return out.getvalue()
