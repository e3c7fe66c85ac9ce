"""Session fixtures: one real llama.cpp model server per test run, a recording proxy in front of it,
and a real gateway (uvicorn) over real services (SQLite, embedded Qdrant, MiniLM embeddings)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

from gateway.app import create_app
from gateway.demo import build_index, ensure_demo_key
from gateway.services import Services
from gateway.settings import CacheSettings, ModelServerSettings, Settings
from gateway.supervisor import ModelServer
from routing import Deployment, ModelBackend
from tests.support import ThreadedServer, free_port, recording_proxy

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@dataclass
class ModelEndpoint:
    """The real model server and the recording proxy in front of it."""

    direct_url: str
    url: str
    request_log: Path


@dataclass
class Gateway:
    """A running gateway: its URL, services, settings and the demo tenant's key."""

    url: str
    svc: Services
    settings: Settings
    key: str
    operator: str = ""  # a platform operator's key: /v1/routing/status and /metrics

    @property
    def v1(self) -> str:
        return f"{self.url}/v1"


@pytest.fixture(scope="session", autouse=True)
def shared_vectors(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One vector cache for the run and its workers (`retrieval.vector_cache`, read from the environment by every
    `Settings()`, here and in the gateways and CLIs tests start): the demo corpus is embedded once per run."""
    key = "NETOPS_RETRIEVAL__VECTOR_CACHE"
    before = os.environ.get(key)
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, shared by its workers (the cache is safe between processes)
    os.environ[key] = str(root / "vectors.db")
    yield
    if before is None:
        del os.environ[key]
    else:
        os.environ[key] = before


@pytest.fixture(scope="session")
def model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelEndpoint]:
    """One llama.cpp server (SmolLM2-135M) for the whole run, behind a recording proxy."""
    logs = tmp_path_factory.mktemp("model")
    settings = ModelServerSettings(port=free_port(), n_ctx=2048)
    server = ModelServer(settings, log_dir=logs)
    server.start()
    try:
        server.wait_ready()
        request_log = logs / "requests.log"
        request_log.touch()
        proxy = ThreadedServer(recording_proxy(f"http://127.0.0.1:{settings.port}", request_log)).start()
        yield ModelEndpoint(server.url, f"{proxy.url}/v1", request_log)
        proxy.stop()
    finally:
        server.stop()


def gateway_settings(data_dir: Path, model_url: str, **overrides: object) -> Settings:
    """Settings for a test gateway: no embedded model server, the given model URL."""
    deployment = Deployment(name="local-smollm2", model="smollm2-135m-instruct", base_url=model_url)
    overrides.setdefault("deployments", [deployment])
    # tests that change the lab between two identical questions want both answered anew; test_cache turns it on
    overrides.setdefault("cache", CacheSettings(enabled=False))
    return Settings(
        data_dir=data_dir,
        model_server=ModelServerSettings(enabled=False),
        **overrides,  # type: ignore[arg-type]
    )


@dataclass
class TenantGateway:
    """A gateway of a test module's own: its URL, services and the key of tenant `t` (every model allowed)."""

    url: str
    key: str
    svc: Services


@contextmanager
def one_tenant_gateway(
    data_dir: Path,
    model_url: str,
    backend: ModelBackend | None = None,
    *,
    tools: tuple[str, ...] = (),
    **overrides: object,
) -> Iterator[TenantGateway]:
    """A gateway of its own with one tenant `t`, for tests that break or script its backend (`overrides` are
    settings fields)."""
    svc = Services.build(gateway_settings(data_dir, model_url, **overrides), backend=backend)
    svc.tenants.create("t", models=["*"], tools=list(tools), rpm=100)
    key = svc.tenants.create_key("t").plaintext
    server = ThreadedServer(create_app(svc)).start()
    try:
        yield TenantGateway(server.url, key, svc)
    finally:
        server.stop()
        svc.close()


@pytest.fixture(scope="session")
def gateway(model: ModelEndpoint, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """The real gateway on a free port, with the demo tenant and the demo runbook index."""
    settings = gateway_settings(tmp_path_factory.mktemp("gateway"), model.url)
    svc = Services.build(settings)
    key = ensure_demo_key(svc)
    build_index(svc, lambda _: None)
    operator = svc.tenants.create_key("platform", label="ops", role="operator").plaintext
    server = ThreadedServer(create_app(svc)).start()
    yield Gateway(server.url, svc, settings, key, operator)
    server.stop()
    svc.close()
