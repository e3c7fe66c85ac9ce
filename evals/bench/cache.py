"""`netops bench cache`: a replayed incident through the real gateway, the embedded model and the runbook index,
once with every cache bypassed (`Cache-Control: no-cache`) and once with the caches on, in one process.

The incident: five engineers paste the same alert, two paraphrase it, the on-call asks about another device, then
follow-ups, some asked twice. Each request's latency, whether a cache answered it (and which), and the model
tokens it cost; then hit latency against miss latency, model calls, tokens and cost with and without the caches,
priced per 1k tokens as given (the embedded model itself costs nothing). Also the semantic cache's near-duplicate
set (`evals/data/semantic_cache.jsonl`): false hits (goal 0) and paraphrase hits.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from gateway.cache import entities
from gateway.demo import build_index
from gateway.local import ThreadedServer, free_port
from gateway.services import Services
from gateway.settings import ModelServerSettings, RetrievalSettings, Settings
from gateway.supervisor import ModelServer
from routing.table import Deployment

__all__ = ["INCIDENT", "Step", "format_table", "measure", "near_duplicates"]

ROOT = Path(__file__).resolve().parents[2]
PAIRS = ROOT / "evals" / "data" / "semantic_cache.jsonl"
_ALERT = "ALERT: BGP session to 10.0.12.2 on r1 is down (state Idle) since 02:14 UTC. What should I check first?"
INCIDENT: tuple[tuple[str, str], ...] = (  # (who, question)
    *((f"engineer {n}", _ALERT) for n in range(1, 6)),
    ("engineer 6", _ALERT.replace("What should I check first?", "What do I check first?")),
    ("engineer 7", _ALERT.replace(". What should", " - what should")),
    ("on-call", _ALERT.replace("10.0.12.2 on r1", "10.0.12.1 on r2")),
    ("engineer 1", "How do I see the BGP neighbor state on r1?"),
    ("engineer 3", "How do I see the BGP neighbor state on r1?"),
    ("engineer 2", "Which runbook covers a BGP session stuck in Idle?"),
    ("engineer 4", "Which runbook covers a BGP session stuck in Idle?"),
    ("engineer 5", "What could keep a BGP session in Idle after a config change on r1?"),
    ("engineer 6", "How do I see the BGP neighbor state on r1?"),
)


@dataclass(frozen=True, slots=True)
class Step:
    """One request of the replay."""

    who: str
    question: str
    cache: str  # "" (computed), "response" or "semantic"
    ms: float
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


def measure(*, price_in: float, price_out: float, max_tokens: int, work: Path | None = None) -> dict[str, Any]:
    """Run the incident without and with the caches; the near-duplicate set; everything the report needs."""
    data = Path(work or tempfile.mkdtemp(prefix="netops-bench-cache-"))
    model = ModelServer(ModelServerSettings(port=free_port()), log_dir=data / "logs")
    model.start()
    try:
        model.wait_ready()
        deployment = Deployment(
            name="local-smollm2",
            model="smollm2-135m-instruct",
            base_url=model.url,
            input_price_per_1k=price_in,
            output_price_per_1k=price_out,
        )
        settings = Settings(
            data_dir=data / "var",
            model_server=ModelServerSettings(enabled=False),
            deployments=[deployment],
            retrieval=RetrievalSettings(sources=[ROOT / "infra" / "demo" / "runbooks"], eval_set=None),
        )
        svc = Services.build(settings)
        build_index(svc, lambda _: None)
        svc.tenants.create("bench", models=["*"], tools=[], rpm=100_000)
        key = svc.tenants.create_key("bench").plaintext
        server = ThreadedServer(_app(svc)).start()
        try:
            baseline = _replay(server.url, key, max_tokens, fresh=True)
            cached = _replay(server.url, key, max_tokens, fresh=False)
        finally:
            server.stop()
            svc.close()
    finally:
        model.stop()
    return {
        "price_in_per_1k": price_in,
        "price_out_per_1k": price_out,
        "max_tokens": max_tokens,
        "baseline": [asdict(s) for s in baseline],
        "cached": [asdict(s) for s in cached],
        "summary": _summary(baseline, cached),
        "near_duplicates": near_duplicates(svc_settings=settings),
    }


def _app(svc: Services) -> Any:
    from gateway.app import create_app  # noqa: PLC0415 - FastAPI app only when measuring

    return create_app(svc)


def _replay(url: str, key: str, max_tokens: int, *, fresh: bool) -> list[Step]:
    headers = {"authorization": f"Bearer {key}", **({"cache-control": "no-cache"} if fresh else {})}
    steps = []
    with httpx.Client(base_url=url, headers=headers, timeout=300) as client:
        for who, question in INCIDENT:
            body = {
                "model": "netops-assistant",
                "max_tokens": max_tokens,
                "messages": [{"role": "user", "content": question}],
            }
            started = time.perf_counter()
            response = client.post("/v1/chat/completions", json=body)
            ms = (time.perf_counter() - started) * 1000
            response.raise_for_status()
            answer = response.json()
            netops, usage = answer["netops"], answer["usage"]
            cache = (netops.get("cache") or {}).get("kind", "")
            steps.append(
                Step(who, question, cache, ms, usage["prompt_tokens"], usage["completion_tokens"], netops["cost_usd"])
            )
            if not fresh and not cache:
                time.sleep(0.5)  # the semantic memory is written in the background after an answer
    return steps


def _summary(baseline: list[Step], cached: list[Step]) -> dict[str, Any]:
    hits = [s.ms for s in cached if s.cache]
    misses = [s.ms for s in cached if not s.cache]

    def total(steps: list[Step], field: str) -> float:
        return float(sum(getattr(s, field) for s in steps))

    base_cost, cache_cost = total(baseline, "cost_usd"), total(cached, "cost_usd")
    return {
        "requests": len(cached),
        "hits": {kind: sum(s.cache == kind for s in cached) for kind in ("response", "semantic")},
        "hit_ms_p50": _pct(hits, 50),
        "hit_ms_p95": _pct(hits, 95),
        "miss_ms_p50": _pct(misses, 50),
        "miss_ms_p95": _pct(misses, 95),
        "model_calls": {"without_cache": len(baseline), "with_cache": len(misses)},
        "tokens": {
            "without_cache": total(baseline, "prompt_tokens") + total(baseline, "completion_tokens"),
            "with_cache": total(cached, "prompt_tokens") + total(cached, "completion_tokens"),
        },
        "cost_usd": {"without_cache": round(base_cost, 6), "with_cache": round(cache_cost, 6)},
        "saved_share": round(1 - cache_cost / base_cost, 3) if base_cost else 0.0,
        "incident_s": {"without_cache": total(baseline, "ms") / 1000, "with_cache": total(cached, "ms") / 1000},
    }


def near_duplicates(*, svc_settings: Settings) -> dict[str, Any]:
    """The near-duplicate set through a semantic memory of its own: false hits and paraphrase hits."""
    from retrieval import MiniLMEmbedder, open_store  # noqa: PLC0415
    from retrieval.semantic import SemanticCache  # noqa: PLC0415

    cases = [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]
    threshold = svc_settings.cache.semantic_threshold
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(engine="edge", url=None, path=Path(tmp))
        memory = SemanticCache(store, MiniLMEmbedder.load(threads=1), name="pairs", ttl_s=600, max_entries=10_000)
        false_hits, shared = [], 0
        for n, case in enumerate(cases):
            memory.remember("t", f"s{n}", case["first"], entities(case["first"]), {})
            found = memory.recall("t", f"s{n}", case["second"], entities(case["second"]), threshold=threshold)
            if found is not None and not case["share"]:
                false_hits.append(case["second"])
            shared += found is not None and case["share"]
        store.close()
    differ = sum(not c["share"] for c in cases)
    return {
        "threshold": threshold,
        "near_duplicates": differ,
        "false_hits": len(false_hits),
        "false_hit_questions": false_hits,
        "paraphrases": len(cases) - differ,
        "paraphrase_hits": shared,
    }


def _pct(values: list[float], pct: int) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[pct - 1], 1)


def format_table(result: dict[str, Any]) -> str:
    """The replay side by side, then the summary and the near-duplicate set."""
    rows = [
        "| # | who | question | no cache ms | cached ms | answered from | tokens saved |",
        "|---|---|---|---|---|---|---|",
    ]
    for n, (base, hit) in enumerate(zip(result["baseline"], result["cached"], strict=True), 1):
        saved = base["prompt_tokens"] + base["completion_tokens"] - hit["prompt_tokens"] - hit["completion_tokens"]
        question = base["question"] if len(base["question"]) <= 60 else base["question"][:57] + "..."
        rows.append(
            f"| {n} | {base['who']} | {question} | {base['ms']:.0f} | {hit['ms']:.0f} | {hit['cache'] or 'model'} "
            f"| {saved} |"
        )
    s, d = result["summary"], result["near_duplicates"]
    rows += [
        "",
        f"hit latency p50 {s['hit_ms_p50']} ms, p95 {s['hit_ms_p95']} ms; "
        f"miss latency p50 {s['miss_ms_p50']} ms, p95 {s['miss_ms_p95']} ms",
        f"hits: {s['hits']['response']} exact, {s['hits']['semantic']} semantic, of {s['requests']} requests",
        f"model calls {s['model_calls']['without_cache']} -> {s['model_calls']['with_cache']}; "
        f"tokens {s['tokens']['without_cache']:.0f} -> {s['tokens']['with_cache']:.0f}; "
        f"cost ${s['cost_usd']['without_cache']:.6f} -> ${s['cost_usd']['with_cache']:.6f} "
        f"(saved {s['saved_share']:.0%}, priced {result['price_in_per_1k']}/{result['price_out_per_1k']} USD per 1k "
        "tokens in/out)",
        f"incident wall time {s['incident_s']['without_cache']:.1f} s -> {s['incident_s']['with_cache']:.1f} s",
        f"semantic near-duplicate set: {d['false_hits']} false hits of {d['near_duplicates']} near-duplicates "
        f"(goal 0); {d['paraphrase_hits']} of {d['paraphrases']} paraphrases hit (threshold {d['threshold']})",
    ]
    return "\n".join(rows)
