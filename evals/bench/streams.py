"""Streaming benchmark: many concurrent streams through one gateway, against the same paced upstream direct.

The upstream (`evals.bench.pacer`, its own process) streams `tokens` chunks at `rate` a second. The client (this
process, aiohttp on uvloop) opens `streams` streams, direct, then through the floor (`evals.bench.floor`: a bare
Python proxy on the same number of workers, the least any Python gateway costs here), then `netops serve --workers
N` for a tenant
without guardrails (`netops`) and one with the default policy (`netops-guarded`), then through LiteLLM's proxy if
`netops bench overhead` installed it next to this run's folder (`<out>/../overhead/runs/litellm-venv`).

Each target is driven once per arrival pattern in `ramps`: 0 opens every stream in the same instant (a burst: the
time to first token then includes queueing behind all the other requests' set-up), a positive value opens them
evenly over that many seconds (with streams that last `tokens / rate` seconds, all of them are open at once when
the ramp is shorter than a stream). Per target and arrival: errors (non-200, cut or failed streams), time to first
token p50/p99 and its overhead over direct with the same arrival; for the gateways, the peak resident memory of
each process.

Example:
    runs = measure(streams=1000, tokens=100, rate=10.0, workers=2, ramps=(0.0, 5.0), work=Path("var/bench/streams"))
    print(format_table(runs))
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import aiohttp
import orjson

from evals.bench.procs import ROOT, Watcher, process
from gateway.db import open_engine
from gateway.local import free_port
from gateway.tenants import Tenants

__all__ = ["StreamRun", "format_table", "measure", "write_json"]

_LITELLM = Path("litellm-venv") / "bin" / "litellm"  # the overhead harness installs it under its runs folder
NO_GUARDRAILS = (
    "version: 1\ndescription: no scanners\ntimeout_ms: 2000\nfail_open: []\ninput: []\ncontext: []\noutput: []\n"
)


@dataclass
class StreamRun:
    """One target's result."""

    target: str
    ramp_s: float  # 0: every stream opened in the same instant
    streams: int
    ok: int
    errors: int
    ttft_p50_ms: float
    ttft_p99_ms: float
    overhead_p50_ms: float | None = None
    overhead_p99_ms: float | None = None
    wall_s: float = 0.0
    rss_mb: dict[str, float] = field(default_factory=dict)  # process -> peak resident MB
    cpu_us_per_chunk: float | None = None  # CPU of the process tree under test, per chunk streamed
    error_kinds: dict[str, int] = field(default_factory=dict)


def measure(
    *,
    streams: int,
    tokens: int,
    rate: float,
    workers: int,
    work: Path,
    ramps: tuple[float, ...] = (0.0,),
    litellm: bool = True,
) -> list[StreamRun]:
    """Run every target in turn against one paced upstream, once per arrival pattern; direct is the baseline."""
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    pacer = [
        sys.executable,
        "-m",
        "evals.bench.pacer",
        "--port",
        str(port),
        "--tokens",
        str(tokens),
        "--rate",
        str(rate),
    ]
    upstream = f"http://127.0.0.1:{port}/v1"
    load = _Load(streams, tokens, ramps)
    with process(pacer, work / "pacer.log", f"{upstream}/chat/completions", probe="post"):
        runs = load.drive("direct", upstream, "", [])
        url, cmd = _floor(upstream, workers)
        with process(cmd, work / "floor.log", url, ready_lines=workers, ready_text="Started server process") as proc:
            runs += load.drive("floor", f"{url}/v1", "", [proc.pid])
        url, keys, cmd = _netops(work, upstream, workers)
        ready_lines = workers if workers > 1 else 0  # each worker process says when it is ready
        with process(cmd, work / "netops.log", f"{url}/healthz", ready_lines=ready_lines) as proc:
            for target, key in keys.items():
                runs += load.drive(target, f"{url}/v1", key, [proc.pid])
        installed = work.parent / "overhead" / "runs" / _LITELLM  # `netops bench overhead` with the same --out folder
        if litellm and not installed.exists():
            print(f"LiteLLM proxy not measured: {installed} is missing (run `netops bench overhead` first)")
        elif litellm:
            url, cmd = _litellm(work, upstream, installed)
            with process(cmd, work / "litellm.log", f"{url}/health/liveliness") as proc:
                runs += load.drive("litellm", f"{url}/v1", "sk-bench", [proc.pid])
    direct = {r.ramp_s: r for r in runs if r.target == "direct"}
    for run in runs:
        if run.target != "direct":
            run.overhead_p50_ms = round(run.ttft_p50_ms - direct[run.ramp_s].ttft_p50_ms, 2)
            run.overhead_p99_ms = round(run.ttft_p99_ms - direct[run.ramp_s].ttft_p99_ms, 2)
    return runs


@dataclass(frozen=True)
class _Load:
    """How many streams, and the arrival patterns each target is driven with."""

    streams: int
    tokens: int
    ramps: tuple[float, ...]

    def drive(self, target: str, base: str, key: str, pids: list[int]) -> list[StreamRun]:
        return [_drive(target, base, key, self.streams, self.tokens, ramp, pids) for ramp in self.ramps]


def _netops(work: Path, upstream: str, workers: int) -> tuple[str, dict[str, str], list[str]]:
    cfg = work / "netops"
    shutil.rmtree(cfg, ignore_errors=True)
    (cfg / "policies").mkdir(parents=True)
    (cfg / "policies" / "bench.yaml").write_text(NO_GUARDRAILS)
    shutil.copy(ROOT / "infra" / "policies" / "default.yaml", cfg / "policies" / "default.yaml")
    port = free_port()
    deployment = {"name": "pace", "model": "bench", "base_url": upstream, "max_concurrency": 100_000, "timeout_s": 300}
    route = {"name": "bench", "deployments": ["pace"], "assistant": False, "max_tokens": 1024}
    config = {
        "data_dir": str(cfg / "var"),
        "default_rpm": 1_000_000,
        "server": {"host": "127.0.0.1", "port": port},
        "model_server": {"enabled": False},
        "deployments": [deployment],
        "routes": [route],
        "guardrails": {"policies_dir": str(cfg / "policies")},
        "cache": {"enabled": False},  # one question repeated: measure the stream path, not the response cache
    }
    (cfg / "netops.yaml").write_text(json.dumps(config))  # JSON is YAML
    tenants = Tenants(open_engine(f"sqlite:///{(cfg / 'var' / 'netops.db').resolve()}"))
    keys = {}
    for target, tenant in (("netops", "bench"), ("netops-guarded", "guarded")):  # `guarded`: the default policy
        tenants.create(tenant, models=["bench"], tools=[], rpm=1_000_000)
        keys[target] = tenants.create_key(tenant).plaintext
    cmd = [sys.executable, "-m", "gateway", "--config", str(cfg / "netops.yaml"), "serve", "--no-model-server"]
    return f"http://127.0.0.1:{port}", keys, [*cmd, "--workers", str(workers)]


def _floor(upstream: str, workers: int) -> tuple[str, list[str]]:
    port = free_port()
    cmd = [sys.executable, "-m", "evals.bench.floor", "--port", str(port), "--upstream", upstream]
    return f"http://127.0.0.1:{port}", [*cmd, "--workers", str(workers)]


def _litellm(work: Path, upstream: str, litellm: Path) -> tuple[str, list[str]]:
    port = free_port()
    (work / "litellm.yaml").write_text(
        json.dumps(
            {
                "model_list": [
                    {
                        "model_name": "bench",
                        "litellm_params": {"model": "openai/bench", "api_base": upstream, "api_key": "sk-up"},
                    }
                ],
                "general_settings": {"master_key": "sk-bench"},
                "litellm_settings": {"set_verbose": False, "request_timeout": 600, "telemetry": False},
            }
        )
    )
    cmd = [
        str(litellm),
        "--config",
        str(work / "litellm.yaml"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        str(os.cpu_count() or 1),
    ]
    return f"http://127.0.0.1:{port}", cmd


def _drive(target: str, base: str, key: str, streams: int, tokens: int, ramp: float, pids: list[int]) -> StreamRun:
    watcher = Watcher(pids)
    watcher.start()
    started = time.monotonic()
    try:
        results = asyncio.run(_all_streams(base, key, streams, ramp))
    finally:
        watcher.stop()
    ttfts = sorted(t for t, _ in results if t is not None)
    kinds: dict[str, int] = {}
    for _, error in results:
        if error:
            kinds[error] = kinds.get(error, 0) + 1
    return StreamRun(
        target=target,
        ramp_s=ramp,
        streams=streams,
        ok=streams - sum(kinds.values()),
        errors=sum(kinds.values()),
        ttft_p50_ms=round(_pct(ttfts, 50) * 1000, 2),
        ttft_p99_ms=round(_pct(ttfts, 99) * 1000, 2),
        wall_s=round(time.monotonic() - started, 1),
        rss_mb=watcher.peak,
        cpu_us_per_chunk=round(watcher.cpu_s * 1e6 / (streams * tokens), 1) if pids else None,
        error_kinds=kinds,
    )


async def _all_streams(base: str, key: str, streams: int, ramp: float) -> list[tuple[float | None, str]]:
    headers = {"content-type": "application/json", **({"authorization": f"Bearer {key}"} if key else {})}
    body = orjson.dumps(
        {
            "model": "bench",
            "stream": True,
            "max_tokens": 1024,
            "messages": [
                {
                    "role": "user",
                    "content": "What do the BGP keepalive and hold timers do, and how do I check them on r1?",
                }
            ],
        }
    )
    timeout = aiohttp.ClientTimeout(total=600, sock_connect=60)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as session:
        url = f"{base}/chat/completions"
        return await asyncio.gather(*(_one(session, url, headers, body, i * ramp / streams) for i in range(streams)))


async def _one(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str], body: bytes, delay: float
) -> tuple[float | None, str]:
    if delay:
        await asyncio.sleep(delay)
    started, ttft, done = time.perf_counter(), None, False
    try:
        async with session.post(url, data=body, headers=headers) as response:
            if response.status != 200:
                return None, f"HTTP {response.status}"
            async for line in response.content:
                if line.startswith(b"data: [DONE]"):
                    done = True
                elif ttft is None and line.startswith(b"data:") and _has_text(line[5:]):
                    ttft = time.perf_counter() - started
    except (aiohttp.ClientError, TimeoutError) as exc:
        return ttft, type(exc).__name__
    return ttft, "" if done and ttft is not None else "incomplete"


def _has_text(data: bytes) -> bool:
    try:
        choices = orjson.loads(data).get("choices") or [{}]
    except orjson.JSONDecodeError:
        return False
    return bool((choices[0].get("delta") or {}).get("content"))


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]


def format_table(runs: list[StreamRun]) -> str:
    """One line per target."""
    head = (
        f"{'target':<14} {'ramp s':>6} {'streams':>7} {'errors':>6} {'TTFT p50':>9} {'TTFT p99':>9} "
        f"{'+p50 ms':>8} {'+p99 ms':>8} {'CPU us/chunk':>12}  peak RSS MB"
    )
    lines = [head, "-" * len(head)]
    for r in runs:
        extra = "-" if r.overhead_p50_ms is None else f"{r.overhead_p50_ms:.1f}"
        extra99 = "-" if r.overhead_p99_ms is None else f"{r.overhead_p99_ms:.1f}"
        cpu = "-" if r.cpu_us_per_chunk is None else f"{r.cpu_us_per_chunk:.0f}"
        rss = ", ".join(f"{k}: {v:.0f}" for k, v in sorted(r.rss_mb.items())) or "-"
        lines.append(
            f"{r.target:<14} {r.ramp_s:>6.1f} {r.streams:>7} {r.errors:>6} {r.ttft_p50_ms:>9.1f} {r.ttft_p99_ms:>9.1f} "
            f"{extra:>8} {extra99:>8} {cpu:>12}  {rss}"
        )
    return "\n".join(lines)


def write_json(runs: list[StreamRun], out: Path, **meta: object) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**meta, "runs": [asdict(r) for r in runs]}, indent=2) + "\n")
