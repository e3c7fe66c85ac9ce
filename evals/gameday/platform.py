"""The sandbox platform a gameday runs against when no `--url` is given.

A temp data dir, a PostgreSQL cluster and a Redis server of its own (`evals.gameday.stores`; SQLite and
in-process limits when the PostgreSQL binaries are missing), the fault upstream as two deployments (`primary`,
`fallback`) of one route (`gameday`, policy `ordered`, no retries), tenants and keys made in its state store,
then `netops serve --no-model-server --workers 1` as a subprocess on a free port (or several replicas, each with
its own data dir and the shared audit key, on the same PostgreSQL and Redis), waited for on /readyz. The index is
built once with `netops index build --promote` from `<dir>/runbooks` (one runbook, `bgp.md`; `Platform.runbooks`)
into `<dir>/index`, the one embedded index folder every replica reads (`retrieval.path`). Tenants:
`gd` (unlimited; a second key, `gd-unseen`, is never used before the PostgreSQL drill), `gd-budget` (a token
budget of `BUDGET_TOKENS` a day), `gd-guard` (the default policy with `timeout_ms` 200, plus a `remote` scanner
whose service, `MODERATION_SLOW`, answers after 1 s) and `gd-scan` (the default policy plus a `remote` scanner
asking the fault upstream's moderation endpoint, `MODERATION`)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import yaml

from evals.gameday.faults import Fault, FaultUpstream
from evals.gameday.stores import OwnedPostgres, OwnedRedis, postgres_bin
from gateway.checkpoints import KEY_FILE, AuditKey
from gateway.local import free_port

__all__ = ["BUDGET_TOKENS", "MODERATION", "ROUTE", "Platform", "Sandbox"]

ROUTE = "gameday"
MODERATION = "moderation"  # the fault upstream's name for the moderation service the `gd-scan` policy asks
MODERATION_SLOW = "moderation-slow"  # one that answers after 1 s, asked by the `gd-guard` policy (timeout 200 ms)
BUDGET_TOKENS = 700
_REPO = Path(__file__).resolve().parents[2]


@dataclass
class Platform:
    """What drills drive: the gateway URL, keys per tenant, the fault upstream, and the `netops` CLI's config."""

    url: str  # the first replica's
    keys: dict[str, str]
    faults: FaultUpstream
    config: Path
    env: dict[str, str] = field(default_factory=dict)
    postgres: OwnedPostgres | None = None
    redis: OwnedRedis | None = None
    urls: list[str] = field(default_factory=list)  # every replica's
    runbooks: Path | None = None  # the folder the gateway's index is built from (`retrieval.sources`)

    def netops(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run `netops --config <sandbox> ARGS` (the operator's way to change the platform)."""
        command = [sys.executable, "-m", "gateway", "--config", str(self.config), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=self.env, check=False)


class Sandbox:
    """Starts and stops the sandbox platform (a context manager)."""

    def __init__(self, *, replicas: int = 1) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="netops-gameday-"))
        self.replicas = replicas
        self.faults = FaultUpstream()
        self.moderation_url = f"{self.faults.url}/{MODERATION}/scan"
        self._procs: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []
        self._stores = contextlib.ExitStack()

    def __enter__(self) -> Platform:
        self.faults.start()
        self.faults.set(MODERATION_SLOW, Fault.OK, base_delay_s=1.0)
        postgres = redis = None
        if postgres_bin() is not None:
            postgres = self._stores.enter_context(OwnedPostgres())
            redis = self._stores.enter_context(OwnedRedis())
        elif self.replicas > 1:
            raise RuntimeError("several replicas need a shared PostgreSQL (no PostgreSQL server binaries here)")
        config = self._write_config(postgres, redis)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        platform = Platform("", {}, self.faults, config, env, postgres, redis, runbooks=self.dir / "runbooks")
        platform.keys = _tenants(config)
        AuditKey.load_or_create(self.dir / "data" / KEY_FILE)  # one key for every replica, as in a deployment
        _checked(platform.netops("index", "build", "--promote", timeout=300))  # once, before the replicas share it
        for i in range(self.replicas):
            platform.urls.append(self._serve(i, config, env))
        platform.url = platform.urls[0]
        for url, proc in zip(platform.urls, self._procs, strict=True):
            self._wait_ready(url, proc)
        return platform

    def _serve(self, i: int, config: Path, env: dict[str, str]) -> str:
        """Start replica `i`: its own data dir (index, audit spool) holding the shared audit key; returns its URL."""
        data = self.dir / "data"
        if i > 0:
            data = self.dir / f"replica-{i}"
            data.mkdir()
            shutil.copy2(self.dir / "data" / KEY_FILE, data / KEY_FILE)
        port = free_port()
        log = (self.dir / f"serve-{i}.log").open("wb")
        self._logs.append(log)
        command = [sys.executable, "-m", "gateway", "--config", str(config), "serve", "--no-model-server"]
        self._procs.append(
            subprocess.Popen(
                [*command, "--workers", "1", "--port", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**env, "NETOPS_DATA_DIR": str(data)},
            )
        )
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        for proc in self._procs:
            proc.terminate()
        for proc in self._procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in self._logs:
            log.close()
        self._stores.close()
        self.faults.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _write_config(self, postgres: OwnedPostgres | None, redis: OwnedRedis | None) -> Path:
        runbooks = self.dir / "runbooks"
        runbooks.mkdir()
        (runbooks / "bgp.md").write_text("# BGP peer down\n\nCheck the peer state with `show bgp summary`.\n")
        policies = self.dir / "policies"
        policies.mkdir()
        default = _REPO / "infra" / "policies" / "default.yaml"
        shutil.copy(default, policies / "default.yaml")
        slow = {**yaml.safe_load(default.read_text()), "timeout_ms": 200}  # ... plus a moderation service taking 1 s
        slow_url = f"{self.faults.url}/{MODERATION_SLOW}/scan"
        slow["input"] = [*slow["input"], {"scanner": "remote", "options": {"url": slow_url, "timeout_s": 5}}]
        (policies / "gd-guard.yaml").write_text(yaml.safe_dump(slow))
        scanned = yaml.safe_load(default.read_text())  # the default, plus a moderation service (the fault upstream's)
        scanned["input"] = [*scanned["input"], {"scanner": "remote", "options": {"url": self.moderation_url}}]
        (policies / "gd-scan.yaml").write_text(yaml.safe_dump(scanned))
        deployments = [
            {"name": name, "model": "gameday", "base_url": self.faults.base_url(name), "timeout_s": 10}
            for name in ("primary", "fallback")
        ]
        route = {"name": ROUTE, "deployments": ["primary", "fallback"], "assistant": False, "max_tokens": 16}
        config = {
            "data_dir": str(self.dir / "data"),
            "model_server": {"enabled": False},
            "deployments": deployments,
            "routes": [{**route, "policy": "ordered", "retries": 0}],
            "routing": {"failure_threshold": 2, "cooldown_s": 0.5, "max_cooldown_s": 2.0},
            "guardrails": {"policies_dir": str(policies)},
            "retrieval": {  # one index folder for every replica (a shared volume; or a Qdrant server's URL)
                "sources": [str(runbooks)],
                "path": str(self.dir / "index"),
                "eval_set": None,
                "sources_check_ttl_s": 0.5,
            },
            "cache": {"enabled": False},
            "config_refresh_s": 0.5,
            "database_url": postgres.url if postgres else None,
            "redis_url": redis.url if redis else None,
        }
        path = self.dir / "netops.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    def _wait_ready(self, url: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                logs = "\n".join(p.read_text()[-2000:] for p in sorted(self.dir.glob("serve-*.log")))
                raise RuntimeError(f"netops serve exited: {logs}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("netops serve was not ready in time")


def _tenants(config: Path) -> dict[str, str]:
    """Make the sandbox's tenants and keys in its state store (what `netops tenant|key|limits` do, in this process:
    ten CLI start-ups cost about 20 s); returns the API key per tenant."""
    from gateway.db import open_engine  # noqa: PLC0415  (the gameday CLI imports this module; the store only here)
    from gateway.settings import load_settings  # noqa: PLC0415
    from gateway.tenants import Tenants  # noqa: PLC0415
    from routing import Quota  # noqa: PLC0415

    tenants = Tenants(open_engine(load_settings(config).sqlalchemy_url))
    keys = {}
    for tenant in ("gd", "gd-budget", "gd-guard", "gd-scan"):
        tenants.create(tenant, models=["*"], tools=[], rpm=100_000)
        keys[tenant] = tenants.create_key(tenant).plaintext
    keys["gd-unseen"] = tenants.create_key("gd").plaintext
    tenants.set_quota("gd-budget", Quota(token_budget=BUDGET_TOKENS, period="day"))
    return keys


def _checked(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    if result.returncode != 0:
        raise RuntimeError(f"netops {result.args[4:]} failed: {result.stderr.strip()}")
    return result
